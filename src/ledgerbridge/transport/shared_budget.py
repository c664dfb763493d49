"""A `RateBudget` whose windows are also shared with other processes through a ledger.

`SharedRateBudget` is a `RateBudget` (local windows, concurrency cap, 429 pauses) that
also takes every request from one or more `SharedWindow`s kept by a `BudgetLedger` (the
distributed runtime's ledger is PostgreSQL: `store.budgets`). So that not every request
costs a round trip to the ledger, requests are claimed a few at a time (a lease) and
spent locally; a lease is only good until the end of the ledger bucket it was claimed in
(after that its leftovers are dropped: the ledger stops counting them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from ledgerbridge.transport.budget import Clock, RateBudget, Sleep, Window

__all__ = ["BudgetLedger", "LedgerClaim", "SharedRateBudget", "SharedWindow"]


@dataclass(frozen=True, slots=True)
class SharedWindow:
    """`limit` requests per `window_seconds` for everyone who names `budget`."""

    budget: str
    limit: int
    window_seconds: float

    @property
    def lease(self) -> int:
        """Requests claimed at a time: a twentieth of the limit, 1 to 25."""
        return max(1, min(self.limit // 20, 25))


@dataclass(frozen=True, slots=True)
class LedgerClaim:
    granted: int
    ends: float
    """Wall-clock time (epoch seconds) until which the granted requests may be sent."""
    retry_in: float
    """When nothing was granted: seconds to wait before asking again."""


class BudgetLedger(Protocol):
    async def claim(self, window: SharedWindow, want: int) -> LedgerClaim: ...


@dataclass(slots=True)
class _Lease:
    remaining: int = 0
    ends: float = 0.0


class SharedRateBudget(RateBudget):
    def __init__(
        self,
        windows: Sequence[Window] = (),
        *,
        shared: Sequence[SharedWindow],
        ledger: BudgetLedger,
        max_concurrency: int | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(windows, max_concurrency=max_concurrency, clock=clock, sleep=sleep)
        self.shared = tuple(shared)
        self.max_concurrency = max_concurrency
        self._ledger = ledger
        self._wall = wall
        self._leases = {w.budget: _Lease() for w in self.shared}
        self._shared_lock = asyncio.Lock()
        self.claims = 0  # round trips to the ledger (for tests and metrics)

    async def _take(self, window: SharedWindow, cost: int) -> None:
        lease = self._leases[window.budget]
        cost = min(cost, window.limit)
        while True:
            if self._wall() >= lease.ends:
                lease.remaining = 0
            if lease.remaining >= cost:
                lease.remaining -= cost
                return
            want = max(window.lease, cost - lease.remaining)
            got = await self._ledger.claim(window, want)
            self.claims += 1
            if got.granted:
                if got.ends > lease.ends:
                    lease.remaining = 0  # a new bucket: what was left of the old one is gone
                lease.remaining += got.granted
                lease.ends = got.ends
                continue
            self.waited += got.retry_in
            await self._sleep(got.retry_in)

    @asynccontextmanager
    async def slot(self, cost: int = 1) -> AsyncIterator[None]:
        async with super().slot(cost):
            async with self._shared_lock:
                for window in self.shared:
                    await self._take(window, cost)
            yield
