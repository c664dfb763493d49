"""When scenario (c) makes its changes (bench/scenarios.py `change_times`)."""

from __future__ import annotations

import itertools

import pytest
from bench.scenarios import change_times


def test_regular_arrivals_put_both_sides_on_one_grid() -> None:
    times = change_times(5, 2, "regular")
    assert len(times) == 20
    assert [t for t, side in times if side == "hubspot"] == pytest.approx(
        [k * 0.2 for k in range(10)]
    )
    assert [t for t, side in times if side == "qbo"] == [
        t for t, side in times if side == "hubspot"
    ]


def test_poisson_arrivals_are_seeded_independent_and_exactly_the_rate() -> None:
    times = change_times(5, 60, "poisson", seed=3)
    assert times == change_times(5, 60, "poisson", seed=3)
    assert times != change_times(5, 60, "poisson", seed=4)
    assert times == sorted(times)
    per_side = {side: [t for t, s in times if s == side] for side in ("hubspot", "qbo")}
    assert {len(v) for v in per_side.values()} == {300}
    assert all(0 <= t < 60 for t, _ in times)
    # Independent streams: the sides do not share moments, and the gaps vary (some
    # changes come in bursts, some after a long quiet), unlike the regular grid.
    assert not set(per_side["hubspot"]) & set(per_side["qbo"])
    gaps = [b - a for a, b in itertools.pairwise(per_side["hubspot"])]
    assert min(gaps) < 0.02 and max(gaps) > 0.6


def test_an_unknown_arrival_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="arrivals must be one of"):
        change_times(5, 60, "bursty")
