"""`SharedRateBudget` over an in-memory ledger, on virtual time."""

from __future__ import annotations

from ledgerbridge.transport.shared_budget import LedgerClaim, SharedRateBudget, SharedWindow
from tests.unit.transport.fakes import FakeTime

WINDOW = SharedWindow("qbo:1:minute", limit=100, window_seconds=60.0)


class Ledger:
    """Grants from one pool per 6-second bucket (as `store.budgets` does, simplified)."""

    def __init__(self, time: FakeTime, per_bucket: int) -> None:
        self.time = time
        self.per_bucket = per_bucket
        self.used: dict[int, int] = {}
        self.asked: list[int] = []

    async def claim(self, window: SharedWindow, want: int) -> LedgerClaim:
        self.asked.append(want)
        bucket = int(self.time.now // 6)
        ends = (bucket + 1) * 6.0
        granted = min(want, self.per_bucket - self.used.get(bucket, 0))
        self.used[bucket] = self.used.get(bucket, 0) + granted
        return LedgerClaim(granted, ends, 0.0 if granted else ends - self.time.now)


def budget(time: FakeTime, ledger: Ledger) -> SharedRateBudget:
    return SharedRateBudget(
        shared=[WINDOW], ledger=ledger, clock=time.clock, sleep=time.sleep, wall=time.clock
    )


async def test_requests_are_claimed_a_lease_at_a_time() -> None:
    time = FakeTime(start=6000.0)
    ledger = Ledger(time, per_bucket=1000)
    shared = budget(time, ledger)
    for _ in range(12):
        async with shared.slot():
            pass
    assert WINDOW.lease == 5  # a twentieth of 100
    assert ledger.asked == [5, 5, 5]  # 12 requests: three leases of five
    assert shared.claims == 3


async def test_what_is_left_of_a_lease_is_dropped_when_its_bucket_ends() -> None:
    time = FakeTime(start=6000.0)
    ledger = Ledger(time, per_bucket=1000)
    shared = budget(time, ledger)
    async with shared.slot():
        pass  # claimed 5, spent 1
    time.now += 6.0  # the next bucket: the 4 left are no longer counted by the ledger
    async with shared.slot():
        pass
    assert ledger.asked == [5, 5]


async def test_no_room_waits_for_the_next_bucket() -> None:
    time = FakeTime(start=6000.0)
    ledger = Ledger(time, per_bucket=5)
    shared = budget(time, ledger)
    starts = []
    for _ in range(7):
        async with shared.slot():
            starts.append(time.now - 6000.0)
    assert starts == [0.0] * 5 + [6.0] * 2
    assert shared.waited == 6.0
