"""The bench's least-time bound (bench/bound.py): the rolling windows, QBO's batch and plain
budgets together, the chain, and the check that fails an efficiency above 1."""

from __future__ import annotations

import pytest
from bench.bound import (
    LIMITS,
    BoundError,
    Work,
    check_efficiency,
    least_time,
    qbo_seconds,
    rolling,
    work_a,
    work_b,
)
from bench.seeding import Sizes

L = 0.05


def test_rolling_window_admits_a_burst_then_one_window_per_burst() -> None:
    assert rolling(0, 190, 10) == 0
    assert rolling(1, 190, 10) == 0
    assert rolling(190, 190, 10) == 0  # all at once
    assert rolling(191, 190, 10) == 10  # the 191st waits for the first to leave the window
    assert rolling(523, 190, 10) == 20
    assert rolling(5, 4, 1.0) == 1.0


def test_a_at_10000_counts_the_burst_not_a_steady_19_per_second() -> None:
    sizes = Sizes(invoices=10_000, customers=2_000, items=300, lines=29_925)
    work = work_a(sizes)
    assert work.hubspot == 20 + 3 + 100 + 100 + 300
    assert work.qbo_reads == 2 + 1 + 10
    assert work.records == 2_000 + 300 + 10_000 + 29_925
    bound = least_time(work, L)
    # 523 requests: 190 at once, 190 after 10 s, 143 after 20 s; plus the QBO read and
    # the latency before the admission. A steady 19/s would say 27.5 s.
    assert bound.hubspot_seconds == pytest.approx(20.0 + 2 * L)
    assert bound.seconds == pytest.approx(20.1)


def test_a_at_2000_fits_in_one_burst() -> None:
    sizes = Sizes(invoices=2_000, customers=400, items=300, lines=6_006)
    bound = least_time(work_a(sizes), L)
    assert bound.work.hubspot == 4 + 3 + 40 + 61 == 108
    assert bound.seconds == pytest.approx(max(2 * L, 5 * L))  # only the chain is left


def test_b_uses_the_plain_budget_beside_the_batch_window() -> None:
    sizes = Sizes(invoices=2_000, customers=400, items=300, lines=6_006)
    work = work_b(sizes)
    assert (work.qbo_ops, work.qbo_reads) == (2_400, 1)
    # One rolling minute carries 40 batches of 30 and 460 plain requests: 1,660 ops; the
    # 2,401 need a second minute, not the 81 batches / 40 a minute = 2 min 1.5 s of a
    # batches-only model.
    assert LIMITS.qbo_ops_per_minute == 1_660
    bound = least_time(work, L)
    # The item query may go at t = 0, so the second minute opens 60 s after it.
    assert bound.qbo_seconds == pytest.approx(60 + L)
    assert bound.seconds == pytest.approx(60.05)
    # With no read, the minutes count from the first write, one round trip in.
    assert least_time(Work(qbo_ops=2_400, qbo_after=1), L).seconds == pytest.approx(60 + 2 * L)


def test_qbo_minutes_step_at_the_capacity_of_a_minute() -> None:
    within = Work(qbo_ops=1_659, qbo_reads=1)
    beyond = Work(qbo_ops=1_660, qbo_reads=1)
    assert qbo_seconds(within, 0.0) == 0.0
    assert qbo_seconds(beyond, 0.0) == 60.0


def test_qbo_concurrency_bounds_a_short_run() -> None:
    # 600 ops: 20 batches, within one minute; 10 in flight at most -> 2 rounds of latency.
    assert qbo_seconds(Work(qbo_ops=600), 0.5) == pytest.approx(1.0)


def test_chain_is_a_floor_when_the_limits_do_not_bind() -> None:
    bound = least_time(Work(hubspot=1, chain=4), 0.1)
    assert bound.seconds == pytest.approx(0.4)
    assert "chain 4" in bound.explain()


def test_searches_have_their_own_window() -> None:
    assert least_time(Work(hubspot_search=9), 0.0).seconds == pytest.approx(2.0)


def test_efficiency_above_one_is_a_bug_in_the_bound() -> None:
    assert check_efficiency(10.0, 20.0, "a") == pytest.approx(0.5)
    assert check_efficiency(10.0, 10.0, "a") == pytest.approx(1.0)
    with pytest.raises(BoundError, match=r"efficiency 1\.250 > 1.*fix bench/bound\.py"):
        check_efficiency(10.0, 8.0, "scenario a run 2")
    with pytest.raises(BoundError):
        check_efficiency(1.0, 0.0, "a")
