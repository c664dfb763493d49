"""A client that goes away mid-request (an engine killed while its batch was in flight)
is not the sandbox's error: no traceback in its log, nothing to answer."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from starlette.requests import ClientDisconnect

CLIENT_CLOSED = 499
"""The status nginx logs for a client that closed its connection first (nobody reads it)."""


def quiet_disconnects(app: FastAPI) -> None:
    @app.exception_handler(ClientDisconnect)
    async def gone(_request: Request, _exc: ClientDisconnect) -> Response:
        return Response(status_code=CLIENT_CLOSED)
