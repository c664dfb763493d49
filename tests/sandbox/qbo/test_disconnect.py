"""An engine killed while its batch is in flight: the sandbox answers nobody, quietly (no
"Exception in ASGI application" traceback in its log)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI

from .conftest import BASE


async def test_a_client_gone_before_its_body_arrived_is_no_error(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}  # the connection closed before the body

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{BASE}/batch",
        "raw_path": f"{BASE}/batch".encode(),
        "query_string": b"requestid=gone",
        "root_path": "",
        "headers": [
            (b"host", b"qbo.test"),
            (b"authorization", b"Bearer sandbox"),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("qbo.test", 80),
    }
    with caplog.at_level(logging.ERROR):
        await app(scope, receive, send)

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 499
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
