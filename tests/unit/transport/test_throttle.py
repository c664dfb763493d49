"""After a 429 without Retry-After (issue 19, finding 3): a 429 the budget did not predict
gets a short pause with jitter that grows on repeats; a real throttle (the budget is at its
limit, or 429s keep coming) gets the long pause. Virtual time throughout."""

from __future__ import annotations

import logging
import random

import httpx
import pytest

from ledgerbridge.transport.budget import RateBudget, Unpredicted429, Window
from ledgerbridge.transport.http import send
from ledgerbridge.transport.retry import RetryPolicy

from .fakes import FakeTime
from .test_http import Script, Tokens, classify, client

LONG = 60.0
POLICY = RetryPolicy(base_delay=0.0, jitter=False)


def budget(time: FakeTime, seed: int = 7) -> RateBudget:
    return RateBudget(
        [Window(500, 61.0, "minute")],
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(seed),
    )


async def get(time: FakeTime, rates: RateBudget, script: Script) -> None:
    await send(
        client(script),
        "GET",
        "/x",
        tokens=Tokens(),
        classify=classify,
        budget=rates,
        policy=POLICY,
        sleep=time.sleep,
        default_retry_after=LONG,
    )


async def test_one_unpredicted_429_pauses_briefly_not_a_minute() -> None:
    time = FakeTime()
    rates = budget(time)
    await get(time, rates, Script(httpx.Response(429), httpx.Response(200)))
    [pause] = time.sleeps
    assert 0.5 <= pause <= 1.0
    assert (rates.throttled, rates.long_pauses) == (1, 0)
    assert rates.has_room()  # the next request starts without a further wait


async def test_repeated_429s_pause_longer_each_time_then_for_the_long_pause() -> None:
    time = FakeTime()
    rates = budget(time)
    script = Script(httpx.Response(429), httpx.Response(429), httpx.Response(429))
    script.answers.append(httpx.Response(200))
    await get(time, rates, script)
    first, second, third = time.sleeps
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0  # grows, with jitter
    assert third == LONG  # the third within a minute: a real throttle
    assert rates.long_pauses == 1


async def test_the_short_pause_has_jitter_and_a_cap() -> None:
    rule = Unpredicted429(base_pause=1.0, max_pause=4.0, throttle_after=100)
    time = FakeTime()
    pauses = []
    for seed in range(5):
        rates = RateBudget(
            clock=time.clock, sleep=time.sleep, unpredicted=rule, rng=random.Random(seed)
        )
        pauses.append([rates.pause_after_429(LONG) for _ in range(6)])
    assert all(2.0 <= p <= 4.0 for row in pauses for p in row[2:])  # capped at max_pause
    assert len({row[0] for row in pauses}) == 5  # jittered: not the same for everyone


async def test_429s_spread_beyond_the_memory_stay_short() -> None:
    time = FakeTime()
    rates = budget(time)
    for _ in range(5):
        assert rates.pause_after_429(LONG) <= 1.0
        time.now += 61.0  # a minute apart: each is the first of its minute
    assert rates.long_pauses == 0


async def test_a_429_when_the_budget_is_at_its_limit_gets_the_long_pause() -> None:
    time = FakeTime()
    rates = budget(time)
    rates.observe(10, "minute")  # the server says 10 of 500 are left
    await get(time, rates, Script(httpx.Response(429), httpx.Response(200)))
    assert time.sleeps == [LONG]


async def test_a_server_retry_after_is_honoured_as_given() -> None:
    time = FakeTime()
    rates = budget(time)
    script = Script(httpx.Response(429, headers={"Retry-After": "30"}), httpx.Response(200))
    await get(time, rates, script)
    assert time.sleeps == [30.0]


async def test_each_retried_request_is_logged_with_its_idempotency_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    time = FakeTime()
    script = Script(httpx.Response(500), httpx.Response(200))
    with caplog.at_level(logging.INFO, logger="ledgerbridge.transport.retry"):
        await send(
            client(script),
            "POST",
            "/v3/company/1/invoice",
            tokens=Tokens(),
            classify=classify,
            params={"requestid": "key-123"},
            policy=POLICY,
            sleep=time.sleep,
        )
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(
        "event=retry request='POST /v3/company/1/invoice idempotency_key=key-123'"
    )
    assert "attempt=1" in line and "category=service_unavailable" in line and "status=500" in line
