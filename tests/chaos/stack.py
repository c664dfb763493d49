"""The process chaos run's moving parts: both sandboxes served over real HTTP (threads of
the test process, with a request counter in front), and `ledgerbridge run` as a real
subprocess that is SIGKILLed and started again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ledgerbridge.commands._demo_stack import ensure_demo_connection
from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.store import Store, TokenCipher, generate_key
from tests.chaos.users import REALM, USER_AGENT
from tests.support.servers import free_port, serve_in_thread

APP_SECRET, VERIFIER = "chaos-app-secret", "chaos-verifier"
# The engine gives up on a call after ENGINE_TIMEOUT s; a "timeout after commit" answers
# after HANG s (longer), so the engine sees a time-out for a write that was made.
ENGINE_TIMEOUT, HANG = 2.0, 3.0


@dataclass
class Traffic:
    """The engine's requests to one sandbox (users' requests carry USER_AGENT)."""

    requests: int = 0
    throttled: int = 0
    server_errors: int = 0
    hung: int = 0  # answers the engine gave up waiting for


class Counted:
    """ASGI wrapper counting the engine's API requests, 429s, 500s and hung answers."""

    def __init__(self, app: Any, traffic: Traffic) -> None:
        self.app, self.traffic = app, traffic

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if headers.get(b"user-agent", b"").decode() == USER_AGENT:
            await self.app(scope, receive, send)
            return
        traffic, started = self.traffic, time.monotonic()
        traffic.requests += 1

        async def counting(message: Any) -> None:
            if message["type"] == "http.response.start":
                traffic.throttled += message["status"] == 429
                traffic.server_errors += message["status"] >= 500
            await send(message)

        await self.app(scope, receive, counting)
        # Longer than the engine waits: it timed out (QBO's hang ends when it disconnects).
        traffic.hung += time.monotonic() - started >= ENGINE_TIMEOUT


@dataclass
class Stack:
    hubspot: str
    qbo: str
    hubspot_sandbox: Any
    qbo_sandbox: Any
    engine_url: str
    env: dict[str, str]
    workdir: Path
    store: Store
    connection_id: int
    traffic: dict[str, Traffic]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    # ---- the sandboxes ----

    def remote_writes(self) -> int:
        """How many records both sandboxes hold (every create counts, any kind)."""
        qbo_counters: dict[str, int] = self.qbo_sandbox.realms[REALM].counters
        return int(self.hubspot_sandbox.state.next_id) + sum(qbo_counters.values())

    def faults(self, on: bool) -> None:
        rate_429, rate_500, hang = (0.05, 0.03, 0.05) if on else (0.0, 0.0, 0.0)
        with httpx.Client(timeout=10) as http:
            http.patch(
                f"{self.hubspot}/_sandbox/config",
                json={
                    "fault_429_rate": rate_429,
                    "fault_500_rate": rate_500,
                    "timeout_after_commit_rate": hang,
                    "hang_seconds": HANG,
                },
            ).raise_for_status()
            faults = {
                "rate_429": rate_429,
                "rate_500": rate_500,
                "timeout_after_commit_rate": hang,
                "hang_seconds": HANG,
            }
            http.patch(f"{self.qbo}/_sandbox/config", json={"faults": faults}).raise_for_status()

    # ---- the engine process ----

    def start(self) -> None:
        self.starts += 1
        log = self.workdir / f"run-{self.starts}.log"
        self.logs.append(log)
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ledgerbridge.cli", "run"],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
            )

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or committed after this."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the engine had exited:\n{self.output()}")
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def output(self) -> str:
        return self.logs[-1].read_text(errors="replace")[-4000:] if self.logs else ""

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the engine exited:\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.engine_url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"the engine did not answer /healthz:\n{self.output()}")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env, "COLUMNS": "200"}
        return subprocess.run(
            [sys.executable, "-m", "ledgerbridge.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.workdir,
            timeout=300,
            check=False,
        )


@contextlib.contextmanager
def open_stack(workdir: Path) -> Iterator[Stack]:
    """Both sandboxes (empty companies; webhooks to the engine's port) and a state store with
    the demo's connection and rules (contacts two-way, products QBO → HubSpot by SKU,
    invoices two-way with payments). The engine is not started."""
    port, hubspot_port = free_port(), free_port()
    engine = f"http://127.0.0.1:{port}"
    hubspot_config = hubspot_cli.build_config(
        port=hubspot_port, rate_limit_burst=0, rate_limit_daily=0, random_seed=1,
        webhook_url=f"{engine}/webhooks/hubspot",
    )  # fmt: skip
    hubspot_config.search_rate_per_second = 0
    hubspot_config.app_client_secret = APP_SECRET
    qbo_config = qbo_cli.build_config(
        realms=[REALM], requests_per_minute=0, batch_per_minute=0,
        webhook_url=f"{engine}/webhooks/qbo", webhook_verifier=VERIFIER,
    )  # fmt: skip
    traffic = {"hubspot": Traffic(), "qbo": Traffic()}
    hs_app, qb_app = hubspot_app(hubspot_config), qbo_app(qbo_config)
    key = generate_key()
    db = workdir / "state.db"
    store = Store.open(f"sqlite:///{db}", TokenCipher(key.encode()))
    env = {
        "LEDGERBRIDGE_DATABASE_URL": f"sqlite:///{db}",
        "LEDGERBRIDGE_SECRET_KEY": key,
        "LEDGERBRIDGE_PORT": str(port),
        "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": "1",
        "LEDGERBRIDGE_HTTP_TIMEOUT_SECONDS": str(ENGINE_TIMEOUT),
        "LEDGERBRIDGE_HUBSPOT__CLIENT_SECRET": APP_SECRET,
        "LEDGERBRIDGE_QBO__WEBHOOK_VERIFIER_TOKEN": VERIFIER,
    }
    with (
        serve_in_thread(Counted(hs_app, traffic["hubspot"]), hubspot_port) as hubspot,
        serve_in_thread(Counted(qb_app, traffic["qbo"])) as qbo,
    ):
        cid = ensure_demo_connection(store, hubspot, qbo, str(hubspot_config.portal_id))
        stack = Stack(
            hubspot, qbo, hs_app.state.sandbox, qb_app.state.sandbox, engine, env, workdir,
            store, cid, traffic,
        )  # fmt: skip
        try:
            yield stack
        finally:
            if stack.process is not None and stack.process.poll() is None:
                stack.process.kill()
                stack.process.wait(timeout=30)
            store.close()
