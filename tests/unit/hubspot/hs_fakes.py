"""Virtual time and a scripted HubSpot for the HubSpot connector's unit tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx

from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.session import HubSpotLimits
from ledgerbridge.transport.oauth import StaticToken, TokenProvider
from ledgerbridge.transport.retry import RetryPolicy


class FakeTime:
    """`clock()` in seconds (Unix); `sleep(s)` advances it at once."""

    def __init__(self, start: float = 1_714_564_800.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now, tz=dt.UTC)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


Handler = Callable[[httpx.Request], httpx.Response]


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


def make_client(
    handler: Handler,
    time: FakeTime,
    *,
    tokens: TokenProvider | None = None,
    limits: HubSpotLimits | None = None,
    retry: RetryPolicy | None = None,
    **kwargs: Any,
) -> tuple[HubSpotClient, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = HubSpotClient(
        http,
        tokens or StaticToken("t"),
        base_url="https://api.test",
        limits=limits or HubSpotLimits(),
        retry=retry or RetryPolicy(max_attempts=6, base_delay=0.5, jitter=False),
        clock=time.clock,
        sleep=time.sleep,
        **kwargs,
    )
    return client, http
