"""Environments for the QBO contract tests: the sandbox in-process (ASGI) or over real HTTP.

Time is virtual on both sides: the client's budgets and retries sleep on `VirtualTime`,
which also advances the sandbox's `FakeClock`, so a "wait 60 s" after a 429 costs nothing
and the sandbox's per-minute limits see the same minute as the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ledgerbridge.qbo.client import QboClient
from ledgerbridge.sandbox.qbo.app import create_app
from ledgerbridge.sandbox.qbo.config import DEFAULT_REALM, FakeClock, QboSandboxConfig
from ledgerbridge.sandbox.qbo.core import Sandbox
from ledgerbridge.transport.oauth import StaticToken, TokenProvider
from ledgerbridge.transport.retry import RetryPolicy
from tests.support.servers import serve_in_thread
from tests.support.transports import RecordingTransport

START = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)


class VirtualTime:
    def __init__(self, sandbox_clock: FakeClock) -> None:
        self.now = 0.0
        self.sandbox_clock = sandbox_clock
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def wall(self) -> dt.datetime:
        return self.sandbox_clock.now()

    async def sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.now += seconds
        self.slept += seconds
        self.sandbox_clock.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class Env:
    mode: str
    base_url: str
    http: httpx.AsyncClient
    transport: RecordingTransport
    sandbox: Sandbox
    time: VirtualTime
    client: QboClient | None = None

    @property
    def qbo(self) -> QboClient:
        assert self.client is not None
        return self.client

    def new_client(self, tokens: TokenProvider | None = None, **kwargs: Any) -> QboClient:
        """Another client on the same connection plumbing (e.g. after a "restart")."""
        return QboClient(
            self.http,
            realm_id=DEFAULT_REALM,
            tokens=tokens or StaticToken("sandbox"),
            base_url=self.base_url,
            retry=RetryPolicy(max_attempts=8, rng=random.Random(1)),
            sleep=self.time.sleep,
            clock=self.time.clock,
            **kwargs,
        )


EnvFactory = Callable[..., Awaitable[Env]]


@pytest.fixture
async def make_env(request: pytest.FixtureRequest) -> AsyncIterator[EnvFactory]:
    mode: str = request.cls.mode
    with contextlib.ExitStack() as stack:
        async with contextlib.AsyncExitStack() as astack:

            async def factory(
                *, faults: dict[str, Any] | None = None, read_timeout: float | None = None
            ) -> Env:
                clock = FakeClock(START)
                config = QboSandboxConfig(clock=clock)
                if faults:
                    config.faults = config.faults.model_copy(update=faults)
                app = create_app(config)
                if mode == "asgi":
                    base_url = "http://qbo.sandbox"
                    transport = RecordingTransport(
                        httpx.ASGITransport(app=app), read_timeout=read_timeout
                    )
                    timeout = httpx.Timeout(30.0)
                else:
                    base_url = stack.enter_context(serve_in_thread(app))
                    transport = RecordingTransport(httpx.AsyncHTTPTransport())
                    timeout = httpx.Timeout(30.0, read=read_timeout or 30.0)
                http = await astack.enter_async_context(
                    httpx.AsyncClient(transport=transport, timeout=timeout)
                )
                time = VirtualTime(clock)
                env = Env(mode, base_url, http, transport, app.state.sandbox, time)
                env.client = env.new_client()
                return env

            yield factory
