from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ledgerbridge.sandbox.hubspot import HubSpotSandboxConfig, create_app
from ledgerbridge.sandbox.hubspot.app import Sandbox

AUTH = {"Authorization": "Bearer sandbox"}


class FakeClock:
    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(clock: FakeClock) -> HubSpotSandboxConfig:
    return HubSpotSandboxConfig(
        clock=clock, search_rate_per_second=0, webhook_retry_schedule=(0.0, 0.0, 0.0)
    )


def sandbox_of(client: httpx.AsyncClient) -> Sandbox:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    sandbox: Sandbox = transport.app.state.sandbox  # type: ignore[attr-defined]
    return sandbox


@pytest.fixture
async def client(config: HubSpotSandboxConfig) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hubspot.test", headers=AUTH
    ) as c:
        yield c
