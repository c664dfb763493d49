"""Run the HubSpot connector against the sandbox: in-process (ASGI) or over real HTTP.

Time is virtual and shared: the sandbox's clock, the client's rate budgets and every
retry pause read one `FakeTime`, so a 429's Retry-After costs no real time, and the
sandbox's rate limiter sees exactly the pauses the client took.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.session import HubSpotLimits
from ledgerbridge.sandbox.hubspot.app import create_app
from ledgerbridge.sandbox.hubspot.config import HubSpotSandboxConfig
from ledgerbridge.transport.oauth import StaticToken, TokenProvider
from ledgerbridge.transport.retry import RetryPolicy
from ledgerbridge.transport.tokens import TokenSet
from tests.support.servers import serve_in_thread

CLIENT_TIMEOUT = 2.0  # seconds before the client gives up: far above a loaded CI machine's
# slowest answer (a spurious time-out would re-send a plain create), far below the
# 30 s hang of the time-out-after-commit fault it is there to catch


class FakeTime:
    def __init__(self, start: float = 1_714_564_800.0) -> None:
        self.now = start

    def clock(self) -> float:
        return self.now

    def wall(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now, tz=dt.UTC)

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


@dataclass
class Traffic:
    """Every attempt the client made: (method, path) → statuses; time-outs counted apart."""

    statuses: Counter[int] = field(default_factory=Counter)
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    timeouts: int = 0

    def count(self, method: str, suffix: str) -> int:
        return sum(1 for m, p, _ in self.calls if m == method and p.endswith(suffix))


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts attempts; in-process, turns a request that hangs into an httpx time-out
    (httpx's ASGI transport has no time-outs of its own). In-process, requests are
    served one at a time (a server with one worker), so that the deadline counts the
    sandbox's own time, not the time a request waited behind the client's other
    concurrent requests on the shared event loop."""

    def __init__(self, inner: httpx.AsyncBaseTransport, traffic: Traffic, deadline: bool) -> None:
        self.inner, self.traffic, self.deadline = inner, traffic, deadline
        self.worker = asyncio.Lock()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            if self.deadline:
                async with self.worker:
                    response = await asyncio.wait_for(
                        self.inner.handle_async_request(request), CLIENT_TIMEOUT
                    )
            else:
                response = await self.inner.handle_async_request(request)
        except (TimeoutError, httpx.TimeoutException) as exc:
            self.traffic.timeouts += 1
            raise httpx.ReadTimeout("no answer in time", request=request) from exc
        self.traffic.statuses[response.status_code] += 1
        self.traffic.calls.append((request.method, request.url.path, response.status_code))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class RotatingRefreshTokens(httpx.AsyncBaseTransport):
    """The sandbox keeps a refresh token for ever (as HubSpot does); this wrapper makes
    every refresh rotate it, revoking the old one, to prove the client persists it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, sandbox: Any) -> None:
        self.inner, self.sandbox, self.rotations = inner, sandbox, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/oauth/v1/token" or response.status_code != 200:
            return response
        form = dict(parse_qsl(request.content.decode()))
        await response.aread()
        await response.aclose()
        body = json.loads(response.content)
        if form.get("grant_type") == "refresh_token":
            self.rotations += 1
            fresh = f"rotated-{self.rotations}"
            store = self.sandbox.tokens.refresh
            store[fresh] = store.pop(form["refresh_token"])
            body["refresh_token"] = fresh
        return httpx.Response(200, json=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


class FileTokenStore:
    """A TokenStore that survives a restart (a JSON file)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def load(self) -> TokenSet | None:
        if not self.path.exists():
            return None
        return TokenSet.from_json(json.loads(self.path.read_text()))

    async def save(self, tokens: TokenSet) -> None:
        self.path.write_text(json.dumps(tokens.to_json()))


@dataclass
class Connector:
    """One sandbox and how to reach it."""

    mode: str
    config: HubSpotSandboxConfig
    app: Any
    time: FakeTime
    base_url: str
    traffic: Traffic
    wrap: list[type] = field(default_factory=list)

    @property
    def sandbox(self) -> Any:
        return self.app.state.sandbox

    def transport(self) -> httpx.AsyncBaseTransport:
        if self.mode == "asgi":
            inner: httpx.AsyncBaseTransport = httpx.ASGITransport(app=self.app)
        else:
            inner = httpx.AsyncHTTPTransport()
        return CountingTransport(inner, self.traffic, deadline=self.mode == "asgi")

    @asynccontextmanager
    async def client(
        self,
        tokens: TokenProvider | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[HubSpotClient]:
        async with httpx.AsyncClient(
            transport=transport or self.transport(),
            base_url=self.base_url,
            timeout=CLIENT_TIMEOUT if self.mode == "http" else None,
        ) as http:
            yield HubSpotClient(
                http,
                tokens or StaticToken(self.config.static_token),
                base_url=self.base_url,
                limits=HubSpotLimits(),
                retry=RetryPolicy(max_attempts=8, base_delay=0.5),
                clock=self.time.clock,
                sleep=self.time.sleep,
                **kwargs,
            )


def sandbox_config(time: FakeTime, **knobs: Any) -> HubSpotSandboxConfig:
    return HubSpotSandboxConfig(clock=time.clock, random_seed=knobs.pop("random_seed", 7), **knobs)


@dataclass
class Lab:
    """Makes connectors of one mode; closes real servers at the end of the test."""

    mode: str
    stack: ExitStack

    def connector(self, **knobs: Any) -> Connector:
        time = FakeTime()
        config = sandbox_config(time, **knobs)
        app = create_app(config)
        if self.mode == "asgi":
            base = "http://hubspot.sandbox"
        else:
            base = self.stack.enter_context(serve_in_thread(app))
        return Connector(self.mode, config, app, time, base, Traffic())


def lab(mode: str) -> Iterator[Lab]:
    with ExitStack() as stack:
        yield Lab(mode, stack)
