"""Where a HubSpot-bound run's wall time went (bench/timeline.py)."""

from __future__ import annotations

from bench.timeline import window_chain


def test_one_window_has_no_chain() -> None:
    assert window_chain([0.1 * i for i in range(190)], 5.0) is None


def test_the_parts_add_up_to_the_wall_time() -> None:
    # 542 requests: the last inherits the slot of request 162 through two later windows.
    first_window = [0.5 + 0.02 * i for i in range(190)]  # request 162 at 3.72 s
    later = [10.6 + 0.02 * i for i in range(190)] + [20.8 + 0.02 * i for i in range(162)]
    chain = window_chain(later + first_window, 24.5)  # any order
    assert chain is not None
    assert (chain.requests, chain.slot_of, chain.windows) == (542, 162, 2)
    assert abs(chain.first - 3.72) < 1e-9
    last = 20.8 + 0.02 * 161
    assert abs(chain.behind - (last - 3.72 - 20)) < 1e-9
    assert abs(chain.after - (24.5 - last)) < 1e-9
    total = chain.first + chain.windows * chain.seconds + chain.behind + chain.after
    assert abs(total - 24.5) < 1e-9
    assert "request 162 of 542 left at 3.72 s, then 2 × 10-s HubSpot windows" in chain.describe()


def test_a_run_just_past_a_window_inherits_from_its_first_request() -> None:
    chain = window_chain([float(i) / 100 for i in range(191)], 12.0)
    assert chain is not None and (chain.slot_of, chain.windows) == (1, 1)
    assert chain.first == 0.0
