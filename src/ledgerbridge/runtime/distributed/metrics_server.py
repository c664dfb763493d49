"""`/metrics` of a worker process (`ledgerbridge worker --metrics-port PORT`).

The passes of the distributed runtime run in the workers, so each worker serves its own
registry (`web.metrics.Metrics`: the same series as the embedded runtime's `/metrics`,
fed by the same `runtime.observe.PassObserver`). Prometheus scrapes every worker and sums
across them (`sum by (connection) (...)`); a connection's series appear on whichever
workers ran its passes.

Protection: the same `AuthMiddleware` as the web app's `/metrics`: the request's `Host`
must be one of the allowed names (the listening address, loopback, `allowed_hosts`), and it
needs `Authorization: Bearer <API token>` (tokens made with `ledgerbridge admin token
create NAME`, checked against the shared database, so one token serves the web process and
every worker). A bearer token is what Prometheus sends (`authorization: credentials_file`);
nothing else is served on the port (`/healthz` only, open, for a liveness probe).

The server runs in a thread of its own (uvicorn), not in the worker's event loop: the
worker's loop belongs to procrastinate and its signal handling, and a slow scrape never
delays a pass. The socket is bound before the thread starts, so a port in use is a clear
error at start, not a silent thread exit.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from ledgerbridge.errors import ConfigError
from ledgerbridge.store import Store
from ledgerbridge.web.auth import AuthMiddleware, WebSecurity, allowed_host_names
from ledgerbridge.web.metrics import Metrics, metrics_router

__all__ = ["metrics_app", "serving_metrics"]

STOP_SECONDS = 10.0


def metrics_app(store: Store, metrics: Metrics, host: str, allowed: list[str]) -> AuthMiddleware:
    """`GET /metrics` (API token) and `GET /healthz` (open) of one worker."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(metrics_router(metrics))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    security = WebSecurity(allowed_hosts=allowed_host_names(host, allowed))
    return AuthMiddleware(app, store, security)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot serve the worker's /metrics on {host}:{port}: {exc.strerror or exc}",
            fix="choose another --metrics-port (each worker on one machine needs its own), "
            "or leave it out",
        ) from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


@contextmanager
def serving_metrics(
    store: Store, metrics: Metrics, host: str, port: int, allowed: list[str]
) -> Iterator[str]:
    """Serve `metrics_app` on host:port in a thread; yield its base URL; stop it on exit."""
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    app = metrics_app(store, metrics, host, allowed)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="worker-metrics", daemon=True
    )
    thread.start()
    try:
        name = f"[{host}]" if ":" in host else host
        yield f"http://{name}:{bound}"
    finally:
        server.should_exit = True
        thread.join(STOP_SECONDS)
        sock.close()
