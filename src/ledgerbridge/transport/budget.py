"""A proactive rate budget: spend the documented limits up front instead of waiting for 429.

A `RateBudget` combines any number of sliding-window limits (`Window`) and an optional
cap on concurrent requests. `async with budget.slot(cost):` waits until a concurrency
slot is free and every window has room for `cost` more requests, then records them.

Two signals from the server tighten it:
* `penalize(seconds)`: after a 429, nobody starts a request until the pause is over.
  How long: `pause_after_429(long_pause)`. A 429 the budget predicted (a window is nearly
  full) or the third within a minute is a real throttle: the long pause (QBO documents
  60 s). One it did not predict (a burst by another app on the same company, a transient)
  gets a short pause with jitter that grows with each repeat (`Unpredicted429`).
* `observe(remaining, window_name, sent_at=…)`: a rate-limit header said only `remaining`
  requests are left in that window when the request arrived; if we believed there was
  more room then, we record phantom requests (someone else's) so our count agrees with
  the server's (they age out like real ones).

The clock (`() -> float`, seconds, monotonic) and `sleep` are injectable, so tests run
on virtual time and never sleep for real.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

Clock = Callable[[], float]
UNLIMITED = 1_000_000
"""`RateBudget.room()` of a budget without windows."""
Sleep = Callable[[float], Awaitable[None]]
AGED_KEEP = 30.0
"""How long an aged-out entry is kept for `RateBudget.observe`: longer than any delay
between an answer's arrival and our reading it."""


@dataclass(frozen=True, slots=True)
class Window:
    """At most `max_requests` per `per_seconds` (sliding). `max_requests == 0` turns it off."""

    max_requests: int
    per_seconds: float
    name: str
    until_answer: bool = False
    """Count a request from when it is sent until its answer has come, then for
    `per_seconds` from the answer (not from the send). The service counts a request when
    it arrives, which is after we send it and before we have its answer: counting from
    the answer covers that whatever the latency, where a fixed margin after the send
    would have to guess the longest delay."""

    def __post_init__(self) -> None:
        if self.max_requests < 0:
            raise ValueError("max_requests cannot be negative")
        if self.per_seconds <= 0:
            raise ValueError("per_seconds must be positive")


@dataclass(frozen=True, slots=True)
class Unpredicted429:
    """The pause after a 429 the budget did not predict: uniform in [cap/2, cap] with
    cap = min(max_pause, base_pause * 2^(n-1)), n the 429s within `memory_seconds`.
    From `throttle_after` such 429s on (or when a window is `near_limit` full) it is a
    real throttle and gets the long pause."""

    base_pause: float = 1.0
    max_pause: float = 16.0
    throttle_after: int = 3
    memory_seconds: float = 60.0
    near_limit: float = 0.9


class _WindowState:
    """The requests spent in one window: (time, cost) pairs, oldest first."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.spent: deque[tuple[float, int]] = deque()
        self.used = 0
        self.aged: deque[tuple[float, int]] = deque()
        """Entries aged out in the last `AGED_KEEP` seconds, oldest first (`used_since`)."""

    def expire(self, now: float) -> None:
        horizon = now - self.window.per_seconds
        while self.spent and self.spent[0][0] <= horizon:
            entry = self.spent.popleft()
            self.used -= entry[1]
            self.aged.append(entry)
        while self.aged and self.aged[0][0] <= horizon - AGED_KEEP:
            self.aged.popleft()

    def used_since(self, horizon: float) -> int:
        """The requests counted now, and those aged out since that were stamped after
        `horizon` (call `expire` first; as far back as `AGED_KEEP` allows)."""
        total = self.used
        for stamp, cost in reversed(self.aged):
            if stamp <= horizon:
                break
            total += cost
        return total

    def room(self) -> int:
        return self.window.max_requests - self.used

    def wait_for(self, cost: int, now: float) -> float:
        """Seconds until `cost` more requests fit (0 when they fit now)."""
        self.expire(now)
        cost = min(cost, self.window.max_requests)
        excess = self.used + cost - self.window.max_requests
        if excess <= 0:
            return 0.0
        freed = 0
        for stamp, spent in self.spent:
            freed += spent
            if freed >= excess:
                return max(stamp + self.window.per_seconds - now, 0.0)
        return self.window.per_seconds  # unreachable while costs are consistent

    def spend(self, cost: int, now: float) -> tuple[float, int] | None:
        cost = min(cost, self.window.max_requests)
        if cost <= 0:
            return None
        entry = (now, cost)
        self.spent.append(entry)
        self.used += cost
        return entry

    def restamp(self, entry: tuple[float, int], now: float) -> None:
        """Count `entry` from `now` on (its answer came): appended at the end, so the
        entries stay oldest first. One that has already aged out is counted again."""
        try:
            self.spent.remove(entry)  # an equal (time, cost) pair: the same to the count
        except ValueError:
            pass  # aged out while in flight
        else:
            self.used -= entry[1]
        self.spend(entry[1], now)


class RateBudget:
    """Sliding-window limits plus a concurrency cap, shared by every request of a connection."""

    def __init__(
        self,
        windows: Sequence[Window] = (),
        *,
        max_concurrency: int | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        unpredicted: Unpredicted429 | None = None,
        rng: random.Random | None = None,
    ) -> None:
        names = [w.name for w in windows]
        if len(names) != len(set(names)):
            raise ValueError("window names must be unique")
        self._windows = {w.name: _WindowState(w) for w in windows if w.max_requests > 0}
        self._clock = clock
        self._sleep = sleep
        self._semaphore = (
            asyncio.Semaphore(max_concurrency) if max_concurrency and max_concurrency > 0 else None
        )
        self._lock = asyncio.Lock()
        self._paused_until = float("-inf")
        self.waited = 0.0  # total seconds spent waiting for room (for tests and metrics)
        self.unpredicted = unpredicted or Unpredicted429()
        self._rng = rng or random.Random()
        self._recent_429s: deque[float] = deque()
        self.throttled = 0  # 429s answered to requests of this budget (for metrics)
        self.long_pauses = 0  # of which were treated as a real throttle

    @property
    def windows(self) -> tuple[Window, ...]:
        return tuple(state.window for state in self._windows.values())

    def used(self, window_name: str) -> int:
        """Requests counted in a window right now (0 for an unknown or disabled window)."""
        state = self._windows.get(window_name)
        if state is None:
            return 0
        state.expire(self._clock())
        return state.used

    def room(self) -> int:
        """Requests that could start now without waiting for a window (0 while paused;
        a large number when no window limits it; the concurrency cap is not considered)."""
        now = self._clock()
        if self._paused_until > now:
            return 0
        rooms = []
        for state in self._windows.values():
            state.expire(now)
            rooms.append(max(state.room(), 0))
        return min(rooms, default=UNLIMITED)

    def has_room(self, cost: int = 1) -> bool:
        """Whether `cost` more requests would start now without waiting (no pause, room in
        every window; the concurrency cap is not considered)."""
        return self.delay(cost) <= 0

    def delay(self, cost: int = 1) -> float:
        """Seconds until `cost` more requests could start (0: now), not counting requests
        already waiting or the concurrency cap."""
        now = self._clock()
        wait = max(self._paused_until - now, 0.0)
        for state in self._windows.values():
            wait = max(wait, state.wait_for(cost, now))
        return wait

    def rate(self) -> float:
        """The sustained requests per second the windows allow (inf when unlimited)."""
        rates = [s.window.max_requests / s.window.per_seconds for s in self._windows.values()]
        return min(rates, default=float("inf"))

    def penalize(self, seconds: float) -> None:
        """Block every new request for `seconds` from now (after a 429)."""
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def near_limit(self) -> bool:
        """Whether a window is (nearly) full: a 429 now is one the budget predicted."""
        now = self._clock()
        for state in self._windows.values():
            state.expire(now)
            if state.used >= state.window.max_requests * self.unpredicted.near_limit:
                return True
        return False

    def pause_after_429(self, long_pause: float, *, predicted: bool | None = None) -> float:
        """Seconds to pause after a 429 without Retry-After (see the module doc); `predicted`
        overrides `near_limit()` (e.g. when another budget of the request is full)."""
        rule = self.unpredicted
        now = self._clock()
        while self._recent_429s and self._recent_429s[0] <= now - rule.memory_seconds:
            self._recent_429s.popleft()
        self._recent_429s.append(now)
        repeats = len(self._recent_429s)
        at_limit = self.near_limit() if predicted is None else predicted
        if at_limit or repeats >= rule.throttle_after:
            self.long_pauses += 1
            return long_pause
        cap = min(rule.max_pause, rule.base_pause * 2.0 ** (repeats - 1), long_pause)
        return self._rng.uniform(cap / 2, cap)

    def now(self) -> float:
        """The budget's clock."""
        return self._clock()

    def observe(
        self, remaining: int | None, window_name: str, *, sent_at: float | None = None
    ) -> None:
        """Tighten a window from a rate-limit header that says `remaining` are left.

        The service counted when the request arrived, which is after `sent_at` (when it
        was sent, on this budget's clock): the comparison counts ours as they stood then,
        with the ones that have aged out of our window since. Compared with our count of
        now instead, an answer read late (the event loop busy for a while) would take our
        own requests that aged out meanwhile for someone else's and hold as many slots
        for a whole window. Without `sent_at`, our count of now."""
        state = self._windows.get(window_name)
        if remaining is None or state is None:
            return
        now = self._clock()
        state.expire(now)
        ours = (
            state.used if sent_at is None else state.used_since(sent_at - state.window.per_seconds)
        )
        gap = state.window.max_requests - ours - max(remaining, 0)
        if gap > 0:
            state.spend(gap, now)

    async def _wait_for_room(self, cost: int) -> list[tuple[_WindowState, tuple[float, int]]]:
        """Wait, then spend `cost` in every window; the entries of the `until_answer`
        windows (to be counted again from the answer)."""
        async with self._lock:  # FIFO: the first waiter is served first
            while True:
                now = self._clock()
                pause = max(self._paused_until - now, 0.0)
                for state in self._windows.values():
                    pause = max(pause, state.wait_for(cost, now))
                if pause <= 0:
                    spent = []
                    for state in self._windows.values():
                        entry = state.spend(cost, now)
                        if entry is not None and state.window.until_answer:
                            spent.append((state, entry))
                    return spent
                self.waited += pause
                await self._sleep(pause)

    def _answered(self, spent: list[tuple[_WindowState, tuple[float, int]]]) -> None:
        now = self._clock()
        for state, entry in spent:
            state.restamp(entry, now)

    @asynccontextmanager
    async def slot(self, cost: int = 1) -> AsyncIterator[None]:
        """Wait for a concurrency slot and room for `cost` requests in every window; the
        request is sent and answered inside (see `Window.until_answer`)."""
        if cost < 0:
            raise ValueError("cost cannot be negative")
        if self._semaphore is None:
            spent = await self._wait_for_room(cost)
            try:
                yield
            finally:
                self._answered(spent)
            return
        async with self._semaphore:
            spent = await self._wait_for_room(cost)
            try:
                yield
            finally:
                self._answered(spent)
