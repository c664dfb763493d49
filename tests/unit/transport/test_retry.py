from __future__ import annotations

import random

import pytest

from ledgerbridge.sync.errors import ErrorCategory, TerminalError, TransientError
from ledgerbridge.transport.retry import RetryPolicy, call_with_retries

from .fakes import FakeTime


def test_delay_is_exponential_and_capped_without_jitter() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=5.0, jitter=False)
    assert [policy.delay(n, None) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.delay(10_000, None) == 5.0


def test_full_jitter_stays_within_the_exponential_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0, rng=random.Random(7))
    draws = [policy.delay(3, None) for _ in range(500)]
    assert all(0.0 <= d <= 4.0 for d in draws)
    assert len(set(draws)) > 100  # really random, not a constant


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base_delay=0.5, jitter=False)
    assert policy.delay(1, 60.0) == 60.0
    assert policy.delay(5, 1.0) == 8.0


def test_invalid_policy() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


async def test_transient_errors_are_retried_until_success() -> None:
    time = FakeTime()
    calls = 0
    seen: list[tuple[int, float]] = []

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "boom")
        return "ok"

    async def on_retry(attempt: int, error: TransientError, pause: float) -> None:
        seen.append((attempt, pause))

    policy = RetryPolicy(base_delay=1.0, jitter=False)
    assert await call_with_retries(flaky, policy, sleep=time.sleep, on_retry=on_retry) == "ok"
    assert calls == 4
    assert seen == [(1, 1.0), (2, 2.0), (3, 4.0)]
    assert time.sleeps == [1.0, 2.0, 4.0]


async def test_terminal_errors_are_not_retried() -> None:
    time = FakeTime()
    calls = 0

    async def bad() -> None:
        nonlocal calls
        calls += 1
        raise TerminalError(ErrorCategory.VALIDATION, "no")

    with pytest.raises(TerminalError):
        await call_with_retries(bad, RetryPolicy(), sleep=time.sleep)
    assert calls == 1
    assert time.sleeps == []


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    time = FakeTime()
    calls = 0
    sync_calls: list[int] = []

    async def always() -> None:
        nonlocal calls
        calls += 1
        raise TransientError(ErrorCategory.RATE_LIMITED, f"try {calls}", retry_after=2.0)

    with pytest.raises(TransientError, match="try 3"):
        await call_with_retries(
            always,
            RetryPolicy(max_attempts=3, jitter=False, base_delay=0.1),
            sleep=time.sleep,
            on_retry=lambda attempt, error, pause: sync_calls.append(attempt),
        )
    assert calls == 3
    assert time.sleeps == [2.0, 2.0]
    assert sync_calls == [1, 2]


async def test_a_retry_after_beyond_the_patience_propagates_at_once() -> None:
    time = FakeTime()

    async def daily_limit() -> None:
        raise TransientError(ErrorCategory.RATE_LIMITED, "daily", retry_after=3600.0)

    with pytest.raises(TransientError, match="daily"):
        await call_with_retries(daily_limit, RetryPolicy(max_retry_after=300), sleep=time.sleep)
    assert time.sleeps == []
