"""Retries with exponential backoff and full jitter, for `TransientError`s only.

`RetryPolicy.delay(attempt, retry_after)` is the pause after the `attempt`-th failed
try (1-based): a uniform draw from [0, min(max_delay, base_delay · 2^(attempt-1))]
("full jitter"), never shorter than a server's Retry-After. `call_with_retries` runs
an operation until it succeeds, raises a non-transient error, or runs out of attempts
(then the last `TransientError` propagates, so the caller can record it and try later).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ledgerbridge.sync.errors import TransientError

T = TypeVar("T")
log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[int, TransientError, float], Awaitable[None] | None]


@dataclass
class RetryPolicy:
    """How often and how patiently to retry transient failures.

    `max_retry_after`: a server asking us to wait longer than this (e.g. a daily
    quota's Retry-After of hours) is not waited for in-line; the error propagates
    and the next sync pass tries again.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0
    jitter: bool = True
    max_retry_after: float = 300.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays cannot be negative")

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        exponent = min(max(attempt - 1, 0), 62)
        cap = min(self.max_delay, self.base_delay * (2.0**exponent))
        backoff = self.rng.uniform(0.0, cap) if self.jitter else cap
        if retry_after is not None and retry_after > backoff:
            return float(retry_after)
        return backoff


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Sleep = asyncio.sleep,
    on_retry: OnRetry | None = None,
    label: str | None = None,
) -> T:
    """Await `fn()`; on a `TransientError`, wait `policy.delay(...)` and call it again.

    Any other exception propagates at once. `on_retry(attempt, error, delay)` (sync or
    async) is called before each pause, e.g. to re-read a SyncToken. Each retry is logged
    (one line, key=value): `label` names the request (method, path, idempotency key).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await fn()
        except TransientError as error:
            if attempt >= policy.max_attempts:
                raise
            if error.retry_after is not None and error.retry_after > policy.max_retry_after:
                raise
            pause = policy.delay(attempt, error.retry_after)
            log.info(
                "event=retry request=%r attempt=%d pause_s=%.3f category=%s status=%s",
                label or "?",
                attempt,
                pause,
                error.category.value,
                error.status,
            )
            if on_retry is not None:
                result = on_retry(attempt, error, pause)
                if inspect.isawaitable(result):
                    await result
            await sleep(pause)
