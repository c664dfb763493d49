"""Serve several ASGI apps (sandboxes, the engine's web app) from one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Served:
    app: Any
    host: str
    port: int
    name: str


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `serve_all` (one handler for all)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_all(
    served: Sequence[Served],
    *,
    also: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    started: Callable[[], None] | None = None,
) -> None:
    """Run every app (and the `also` coroutines) until SIGINT/SIGTERM, then stop them all."""
    servers = [
        _Server(uvicorn.Config(s.app, host=s.host, port=s.port, log_level="warning", lifespan="on"))
        for s in served
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    tasks = [
        asyncio.create_task(server.serve(), name=f"serve-{s.name}")
        for server, s in zip(servers, served, strict=True)
    ]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise RuntimeError("a server failed to start") from task.exception()
            raise RuntimeError("a server stopped while starting (is its port in use?)")
        await asyncio.sleep(0.02)
    background = [asyncio.create_task(fn()) for fn in also]
    if started is not None:
        started()
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([waiter, *tasks, *background], return_when=asyncio.FIRST_COMPLETED)
    failed = _failure(background)  # before the others are cancelled
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    waiter.cancel()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(sig)
    if failed is not None:
        message = f"stopped because {failed!r} was raised (see the log above)"
        raise RuntimeError(message) from failed


def _failure(tasks: Sequence[asyncio.Task[None]]) -> BaseException | None:
    """The error of a background task that ended by raising (logged with its traceback):
    everything stops then, and the command must say why instead of a bare "Stopped."."""
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("a background task failed; stopping", exc_info=error)
            return error
    return None
