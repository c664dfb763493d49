"""The wake gathering that keeps live passes under a share of QBO's minute (runtime.pacing)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerbridge.runtime.pacing import Pacer, QboBudget, project_minute

BUDGET = QboBudget()


def test_the_projection_counts_reads_batches_and_the_writes_that_go_plain() -> None:
    # No writes: one read a pass, 100 passes a minute.
    assert project_minute(0.6, 0.0, 1.0, BUDGET) == pytest.approx(100.0)
    # 5 writes a second, a pass every 0.65 s: ~92 reads, the 40 batch slots, and the
    # writes the slots do not carry (~3.25 a pass, ~3.7 in the passes with two or more).
    cost = project_minute(0.65, 5.0, 1.0, BUDGET)
    assert 270 < cost < 300
    # 20 writes a second: at 0.65 s the slots run out and ~700 writes go plain; at
    # 1.25 s most of them ride in batches of ~25.
    assert project_minute(0.65, 20.0, 1.0, BUDGET) > 750
    assert project_minute(1.25, 20.0, 1.0, BUDGET) < 450


@given(
    st.floats(0.1, 3.0),
    st.floats(0.0, 40.0),
    st.floats(0.0, 3.0),
)
def test_the_projection_is_never_below_the_reads_nor_above_one_request_a_write(
    period: float, rate: float, reads: float
) -> None:
    cost = project_minute(period, rate, reads, BUDGET)
    passes = 60 / period
    assert cost >= passes * reads - 1e-6
    assert cost <= passes * reads + BUDGET.batches_per_minute + rate * 60 + 1e-6


def steady(pacer: Pacer, seconds: float, period: float, writes: int, start: float = 0.0) -> float:
    """Passes every `period` s with `writes` QBO writes and one read each; the wait the
    pacer gives after them."""
    t = start
    while t < start + seconds:
        pacer.record(t, pacer.coalesce(t), 1, writes)
        t += period
    return pacer.coalesce(t)


def twenty_writes_a_second(pacer: Pacer) -> float:
    """12 passes 0.65 s apart (0.6 s of gathering + 0.05 s) of 13 QBO writes and one
    read each; the clock after them."""
    t = 0.0
    for _ in range(12):
        pacer.record(t, 0.6, 1, 13)
        t += 0.65
    return t


def test_a_trickle_and_the_first_seconds_keep_the_default() -> None:
    pacer = Pacer(0.6)
    assert pacer.coalesce(0.0) == 0.6  # nothing measured yet
    assert steady(pacer, 4.0, 0.65, 13) == 0.6  # under 5 s of passes: not yet
    assert steady(Pacer(0.6), 60.0, 0.7, 3) == 0.6  # ~4 writes a second: under 60 %
    assert steady(Pacer(0.6), 60.0, 5.0, 1) == 0.6


def test_a_steady_stream_of_writes_lengthens_the_wait_until_batches_carry_them() -> None:
    pacer = Pacer(0.6)
    t = twenty_writes_a_second(pacer)
    wait = pacer.coalesce(t)
    assert pacer.pacing
    assert 1.0 <= wait <= 1.6
    # Passes that now come every wait + 0.05 s with 20 writes a second each keep it there.
    for _ in range(40):
        pacer.record(t, wait, 1, round(20 * (wait + 0.05)))
        t += wait + 0.05
        wait = pacer.coalesce(t)
    assert 1.0 <= wait <= 1.6
    # The writes stop: back to the default once the horizon holds only quiet passes.
    for _ in range(60):
        pacer.record(t, wait, 1, 0)
        t += 1.0
        wait = pacer.coalesce(t)
    assert wait == 0.6 and not pacer.pacing


def test_the_dead_band_keeps_a_stream_at_the_edge_on_the_default() -> None:
    # Projected just over the share (5 % over): not enough to start pacing.
    pacer = Pacer(0.6)
    writes_per_pass = 4  # 4 / 0.65 s ≈ 6.2 writes a second
    assert steady(pacer, 60.0, 0.65, writes_per_pass) == 0.6
    rate = writes_per_pass / 0.65
    assert 300 < project_minute(0.65, rate, 1.0, BUDGET) < 330


def test_a_share_of_zero_never_paces() -> None:
    assert steady(Pacer(0.6, share=0.0), 30.0, 0.65, 13) == 0.6


def test_the_wait_stays_within_base_and_longest() -> None:
    pacer = Pacer(0.6, longest=0.9)
    wait = steady(pacer, 30.0, 0.65, 30)  # ~46 writes a second: nothing keeps under 60 %
    assert pacer.pacing and 0.6 < wait <= 0.9
    assert Pacer(1.5, longest=1.0).longest == 1.5


def test_the_pacer_says_what_it_measured_and_projected() -> None:
    pacer = Pacer(0.6)
    t = twenty_writes_a_second(pacer)
    wait = pacer.coalesce(t)
    assert wait > 0.6 and pacer.rate == pytest.approx(13 * 12 / (12 * 0.65), rel=0.01)
    assert 0.5 < pacer.projected < 1.0  # what the chosen wait is projected to spend
    assert Pacer(0.6).coalesce(0.0) == 0.6 and Pacer(0.6).rate == 0.0
