"""The OAuth redirect URI served for `ledgerbridge connect`: a one-route Starlette app on
uvicorn, bound to the redirect URI's host and port while the flow waits for the browser."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Generator, Mapping

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

Answer = tuple[int, str, str]
"""(HTTP status, page title, page text) shown in the browser."""

_PAGE = (
    "<!doctype html><meta charset=utf-8><title>ledgerbridge</title>"
    "<body style='font-family:sans-serif'><h1>{title}</h1><p>{text}</p></body>"
)


def _page(answer: Answer) -> HTMLResponse:
    status, title, text = answer
    return HTMLResponse(_PAGE.format(title=title, text=text), status_code=status)


def callback_app(path: str, handle: Callable[[Mapping[str, str]], Answer]) -> Starlette:
    """`GET path` answered by `handle(query)`; any other path is a 404 page."""

    async def callback(request: Request) -> HTMLResponse:
        return _page(handle(dict(request.query_params)))

    async def not_found(request: Request, exc: Exception) -> HTMLResponse:
        return _page((404, "Not found", "This is not the callback."))

    return Starlette(routes=[Route(path, callback)], exception_handlers={404: not_found})


class _Server(uvicorn.Server):
    """Leaves signal handling (Ctrl-C) to the command."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Starlette, host: str, port: int) -> AsyncIterator[None]:
    """Serve `app` on host:port while inside. The socket is bound and listening before
    the caller goes on (connections wait in its backlog until uvicorn accepts them), and
    a port in use raises `OSError` here (uvicorn would exit the process instead)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(16)
    except OSError:
        sock.close()
        raise
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        sock.close()
