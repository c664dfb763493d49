"""Virtual time for the plumbing tests: a clock that only moves when something sleeps."""

from __future__ import annotations

import asyncio
import datetime as dt

from ledgerbridge.transport.budget import RateBudget, Window


class FakeTime:
    """`clock()` in seconds; `sleep(s)` advances it at once (and yields to the loop)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


async def ten_second_budget(time: FakeTime, answered: int) -> RateBudget:
    """A budget of 10 requests in a rolling 10 s ("ten_s", counted until the answer) on
    `time`, with `answered` requests sent and answered at `time.now`."""
    window = Window(10, 10.0, "ten_s", until_answer=True)
    budget = RateBudget([window], clock=time.clock, sleep=time.sleep)
    for _ in range(answered):
        async with budget.slot():
            pass
    return budget


class FakeWallClock:
    """A tz-aware UTC clock for token expiry tests."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)
