"""429 as the real API answers it, per realm; every limit configurable and off at 0."""

from __future__ import annotations

import asyncio

import httpx

from ledgerbridge.sandbox.qbo import FakeClock, Sandbox
from tests.sandbox.qbo.conftest import BASE

XML_FAULT = '<Fault type="SERVICE"><Error code="3001">'


async def test_requests_per_minute(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.config.rate_limits.requests_per_minute = 5
    statuses = [(await client.get(f"{BASE}/preferences")).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    throttled = await client.get(f"{BASE}/preferences")
    assert throttled.status_code == 429
    assert throttled.headers["content-type"].startswith("application/xml")
    assert XML_FAULT in throttled.text
    assert "message=ThrottleExceeded; errorCode=003001; statusCode=429" in throttled.text
    clock.advance(61)
    assert (await client.get(f"{BASE}/preferences")).status_code == 200


async def test_json_429_when_configured(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.config.rate_limits.requests_per_minute = 1
    sandbox.config.rate_limits.json_429 = True
    await client.get(f"{BASE}/preferences")
    throttled = await client.get(f"{BASE}/preferences")
    assert throttled.status_code == 429
    assert throttled.json()["Fault"]["Error"][0]["code"] == "3001"


async def test_500_per_minute_default_and_off_at_zero(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    limiter = sandbox.limiter
    now = sandbox.now()
    assert all(
        limiter.admit("r", now, batch=False) and limiter.release("r") is None for _ in range(500)
    )
    assert limiter.admit("r", now, batch=False) is False
    sandbox.config.rate_limits.requests_per_minute = 0
    assert limiter.admit("r", now, batch=False)


async def test_batch_per_minute(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.config.rate_limits.batch_per_minute = 2
    body = {"BatchItemRequest": [{"bId": "1", "Query": "SELECT * FROM Term"}]}
    statuses = [(await client.post(f"{BASE}/batch", json=body)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert (await client.get(f"{BASE}/preferences")).status_code == 200  # others still pass


async def test_concurrency_limit(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.config.rate_limits.concurrent = 2
    sandbox.config.faults.latency_seconds = 0.2
    responses = await asyncio.gather(*[client.get(f"{BASE}/preferences") for _ in range(4)])
    assert sorted(r.status_code for r in responses) == [200, 200, 429, 429]
    sandbox.config.rate_limits.concurrent = 0
    responses = await asyncio.gather(*[client.get(f"{BASE}/preferences") for _ in range(4)])
    assert [r.status_code for r in responses] == [200] * 4


async def test_injected_429_and_500(client: httpx.AsyncClient) -> None:
    await client.patch("/_sandbox/config", json={"faults": {"rate_500": 1.0}})
    failed = await client.get(f"{BASE}/preferences")
    assert failed.status_code == 500
    assert failed.json()["Fault"]["type"] == "SystemFault"
    await client.patch("/_sandbox/config", json={"faults": {"rate_500": 0, "rate_429": 1.0}})
    assert (await client.get(f"{BASE}/preferences")).status_code == 429
    await client.patch("/_sandbox/config", json={"faults": {"rate_429": 0.5, "seed": 7}})
    first = [(await client.get(f"{BASE}/preferences")).status_code for _ in range(20)]
    await client.patch("/_sandbox/config", json={"faults": {"seed": 7}})
    second = [(await client.get(f"{BASE}/preferences")).status_code for _ in range(20)]
    assert first == second and 429 in first and 200 in first
