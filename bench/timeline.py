"""Where a HubSpot-bound backfill's wall time went, from its request trace.

HubSpot allows `burst` requests in any rolling `seconds` (190 per 10 s). When a run
needs more than one window, its last request can leave no sooner than `seconds` after
the request `burst` places before it, and so on back into the first window: with N
requests and m = ⌊(N − 1) / burst⌋ windows after the first, the last request inherits
the slot of request j = N − m · burst. The wall time is then, exactly,

    first     when request j left (the first window's pace: start-up, reads, CPU)
  + windows   m × `seconds`
  + behind    how far the last request trailed that slot (the client's own counting,
              chains of answers, work not ready when its slot freed)
  + after     from the last request to the engine's exit (its answer, the last
              commit, the process's end).

`bench/bound.py`'s least time takes `first` and `after` as one latency each and
`behind` as zero, so this says which of the three the gap to the bound is made of.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chain:
    requests: int
    slot_of: int
    """j: the first window's request whose slot the last request inherits (1-based)."""
    first: float
    windows: int
    seconds: float
    behind: float
    after: float

    def describe(self) -> str:
        return (
            f"where the time went: request {self.slot_of} of {self.requests} left at "
            f"{self.first:.2f} s, then {self.windows} × {self.seconds:g}-s HubSpot windows; "
            f"the last request trailed its slot by {self.behind:.2f} s; "
            f"its answer and the exit took {self.after:.2f} s"
        )


def window_chain(
    starts: list[float], wall: float, burst: int = 190, seconds: float = 10.0
) -> Chain | None:
    """The decomposition above, or None when the run fits in one window (no chain)."""
    if len(starts) <= burst:
        return None
    ordered = sorted(starts)
    n = len(ordered)
    windows = (n - 1) // burst
    slot_of = n - windows * burst
    first = ordered[slot_of - 1]
    behind = ordered[-1] - (first + windows * seconds)
    return Chain(n, slot_of, first, windows, seconds, behind, wall - ordered[-1])
