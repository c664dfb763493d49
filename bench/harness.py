"""Bench plumbing: the two sandboxes on real sockets (threads of the bench process, each
behind a request-counting ASGI wrapper), the engine as a subprocess (`ledgerbridge run` or
`ledgerbridge backfill`) whose peak RSS (VmHWM) is sampled from /proc, and the store with
the demo connection."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from ledgerbridge.runtime.demo import DEMO_REALM, DEMO_TOKEN, ensure_demo_connection
from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.store import Store, TokenCipher, generate_key

T = TypeVar("T")
UNMETERED = ("/_sandbox", "/oauth", "/connect")
HUBSPOT_PORTAL = "62515"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Metered:
    """An ASGI wrapper that counts API requests (and 429s) and remembers the server's loop,
    so the bench can run code in it (seeding, changes, probes) without HTTP."""

    app: Any
    requests: int = 0
    throttled: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    last_request: float = 0.0
    loop: asyncio.AbstractEventLoop | None = None
    trace: list[tuple[float, float, int, str]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        if scope["type"] != "http" or scope["path"].startswith(UNMETERED):
            await self.app(scope, receive, send)
            return
        self.requests += 1
        began = self.last_request = time.monotonic()
        kind = f"{scope['method']} {_shape(scope['path'])}"
        self.by_kind[kind] += 1
        status = [0]

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if message["status"] == 429:
                    self.throttled += 1
            await send(message)

        await self.app(scope, receive, counting_send)
        self.last_request = time.monotonic()
        self.trace.append((began, self.last_request - began, status[0], kind))

    def reset(self) -> None:
        self.requests = self.throttled = 0
        self.by_kind.clear()
        self.trace.clear()

    def dump(self, path: Path, origin: float) -> None:
        """The requests as TSV: start (s from `origin`), duration, status, endpoint."""
        rows = [f"{t - origin:.3f}\t{d:.3f}\t{s}\t{k}" for t, d, s, k in self.trace]
        path.write_text("\n".join(rows) + "\n")

    def call(self, fn: Callable[[], T], timeout: float = 120.0) -> T:
        """Run `fn()` in the server's event loop (thread-safe access to the live state)."""
        assert self.loop is not None, "server not started"

        async def run() -> T:
            return fn()

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self.loop)
        return future.result(timeout)


def _shape(path: str) -> str:
    """The path with ids replaced, for a per-endpoint breakdown."""
    parts = []
    for part in path.split("/"):
        parts.append("{id}" if part.isdigit() else part)
    return "/".join(parts)


@contextmanager
def serve(app: Any, port: int) -> Iterator[None]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server on {port} did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass
class Env:
    """Both sandboxes, the store path and the engine's environment."""

    workdir: Path
    hubspot: Metered
    qbo: Metered
    hubspot_url: str
    qbo_url: str
    engine_port: int
    env: dict[str, str]

    @property
    def hubspot_sandbox(self) -> Any:
        return self.hubspot.app.state.sandbox

    @property
    def qbo_sandbox(self) -> Any:
        return self.qbo.app.state.sandbox

    @property
    def realm(self) -> Any:
        return self.qbo_sandbox.realms[DEMO_REALM]

    def reset_counts(self) -> None:
        self.hubspot.reset()
        self.qbo.reset()

    def idle_since(self) -> float:
        return max(self.hubspot.last_request, self.qbo.last_request)


@contextmanager
def environment(workdir: Path, latency_ms: float, *, real_limits: bool = True) -> Iterator[Env]:
    engine_port, hubspot_port, qbo_port = free_port(), free_port(), free_port()
    engine = f"http://127.0.0.1:{engine_port}"
    app_secret, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    hubspot_config = hubspot_cli.build_config(
        port=hubspot_port,
        token=DEMO_TOKEN,
        latency_ms=latency_ms,
        webhook_url=f"{engine}/webhooks/hubspot",
        **({} if real_limits else {"rate_limit_burst": 0, "rate_limit_daily": 0}),
    )
    if not real_limits:
        hubspot_config.search_rate_per_second = 0
    hubspot_config.app_client_secret = app_secret
    qbo_config = qbo_cli.build_config(
        realms=[DEMO_REALM],
        token=DEMO_TOKEN,
        latency=latency_ms / 1000,
        webhook_url=f"{engine}/webhooks/qbo",
        webhook_verifier=verifier,
        **({} if real_limits else {"requests_per_minute": 0, "batch_per_minute": 0}),
    )
    hubspot = Metered(hubspot_app(hubspot_config))
    qbo = Metered(qbo_app(qbo_config))
    hubspot_url = f"http://127.0.0.1:{hubspot_port}"
    qbo_url = f"http://127.0.0.1:{qbo_port}"
    key = generate_key()
    db = workdir / "state.db"
    store = Store.open(f"sqlite:///{db}", TokenCipher(key.encode()))
    try:
        ensure_demo_connection(store, hubspot_url, qbo_url, HUBSPOT_PORTAL)
    finally:
        store.close()
    env = {
        "LEDGERBRIDGE_DATABASE_URL": f"sqlite:///{db}",
        "LEDGERBRIDGE_SECRET_KEY": key,
        "LEDGERBRIDGE_PORT": str(engine_port),
        "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": "5",
        "LEDGERBRIDGE_HUBSPOT__CLIENT_SECRET": app_secret,
        "LEDGERBRIDGE_QBO__WEBHOOK_VERIFIER_TOKEN": verifier,
    }
    with serve(hubspot, hubspot_port), serve(qbo, qbo_port):
        yield Env(workdir, hubspot, qbo, hubspot_url, qbo_url, engine_port, env)


def vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Engine:
    """`python -m ledgerbridge.cli *args` as a subprocess, its peak RSS sampled every 0.2 s."""

    def __init__(self, env: Env, args: Sequence[str], log_name: str) -> None:
        self.log = env.workdir / log_name
        full_env = {**os.environ, **env.env, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
        self._sink = self.log.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "ledgerbridge.cli", *args],
            stdout=self._sink,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=env.workdir,
        )
        self.peak_kb = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.is_set():  # no popen.poll(): `wait` reaps the child itself
            self.peak_kb = max(self.peak_kb, vm_hwm_kb(self.popen.pid))
            self._stop.wait(0.2)

    def wait(self, timeout: float) -> int:
        """Reap the child with wait4 to read its own ru_maxrss (the exact peak RSS)."""
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.popen.pid, os.WNOHANG)
            if pid:
                self.popen.returncode = os.waitstatus_to_exitcode(status)
                self.peak_kb = max(self.peak_kb, int(usage.ru_maxrss))
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"engine still running after {timeout} s; see {self.log}")
            time.sleep(0.05)
        self._finish()
        return self.popen.returncode

    def stop(self) -> None:
        self.peak_kb = max(self.peak_kb, vm_hwm_kb(self.popen.pid))
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(30)
        self._finish()

    def _finish(self) -> None:
        self._stop.set()
        self._sampler.join(5)
        self._sink.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
