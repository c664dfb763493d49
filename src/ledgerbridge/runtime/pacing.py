"""How long a woken worker gathers wakes: long enough that live passes keep QBO's minute
under a share of its budget (issue 18).

QBO allows 500 requests a minute per company, 40 of them batches of up to 30 writes. A
live pass spends one change read (more in a full pass) and its writes: one batch request
while batch slots last (a single write goes plain), one plain request per write after
that. So the minute's cost depends on how many passes there are, and passes come every
`coalesce` seconds plus a little while changes keep arriving:

* 5 new HubSpot contacts a second at 0.6 s: ~90 passes of ~3.5 writes, 40 batches of
  them, ~150 plain writes and ~90 change reads: ~57 % of the minute. Nothing to do.
* 20 a second at 0.6 s: ~90 passes of ~13 writes; the 40 batch slots are gone in the
  first 40 passes and the other ~700 writes go plain: past the 500, and from then on
  every pass waits for the minute to roll (p99 of 17-21 s in the bench). At 1.2 s the
  same writes go as ~48 batches of ~25: ~290 requests, and nothing waits.

`Pacer` measures, over the last `horizon` seconds (30) of passes, the QBO writes a second, the
change reads a pass and the time a pass period adds to the coalescing; it projects the
minute's requests for each coalescing from `base` up to `longest` (writes per pass taken
as Poisson-distributed, which is how independent edits arrive) and picks the shortest
that keeps the projection within `share` of the budget (when none does: the shortest
within 5 % of the cheapest). It only ever lengthens the wait, and only while writes keep
coming: it starts when the projection at `base` passes the share by 10 % and stops when it
falls below the share (a dead band against the noise of a few seconds' rates), and it
needs 5 passes over 5 s before it projects anything.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass

__all__ = ["Pacer", "QboBudget", "project_minute"]


@dataclass(frozen=True, slots=True)
class QboBudget:
    """QBO's documented limits per company (API-NOTES): requests and batch requests a
    minute, writes a batch holds."""

    per_minute: int = 500
    batches_per_minute: int = 40
    batch_size: int = 30


def _poisson(mean: float) -> list[float]:
    """P(k) for k = 0 … mean + 8 sd + 10 (the rest is negligible)."""
    top = int(mean + 8 * math.sqrt(mean) + 10)
    probs = [math.exp(-mean)]
    for k in range(1, top + 1):
        probs.append(probs[-1] * mean / k)
    return probs


def project_minute(
    period: float, writes_per_second: float, reads_per_pass: float, budget: QboBudget
) -> float:
    """QBO requests a minute with a pass every `period` seconds: its reads, and its writes
    as one batch per `batch_size` while the minute's batch slots last (passes of one
    write send it plain), plain requests after that."""
    passes = 60.0 / period
    mean = writes_per_second * period
    probs = _poisson(mean)
    # Per pass: batch requests it would send, and the writes they would carry.
    batches = sum(p * math.ceil(k / budget.batch_size) for k, p in enumerate(probs) if k >= 2)
    carried = sum(p * k for k, p in enumerate(probs) if k >= 2)
    wanted = passes * batches
    slots = min(float(budget.batches_per_minute), wanted)
    in_batches = passes * carried * (slots / wanted) if wanted else 0.0
    plain = max(0.0, writes_per_second * 60.0 - in_batches)
    return passes * reads_per_pass + slots + plain


@dataclass(frozen=True, slots=True)
class _Pass:
    started: float
    coalesce: float
    reads: int
    writes: int


class Pacer:
    """A worker's wake coalescing, lengthened from `base` (up to `longest`) while the
    passes' QBO writes would otherwise spend more than `share` of QBO's minute."""

    def __init__(
        self,
        base: float,
        *,
        share: float = 0.6,
        longest: float = 2.0,
        horizon: float = 30.0,
        step: float = 0.05,
        budget: QboBudget | None = None,
    ) -> None:
        self.base = base
        self.share = share
        self.longest = max(longest, base)
        self.horizon = horizon
        self.step = step
        self.budget = budget or QboBudget()
        self._passes: deque[_Pass] = deque()
        self.pacing = False
        """Whether the wait is lengthened now."""
        self.rate = 0.0
        """The QBO writes a second last measured."""
        self.projected = 0.0
        """QBO's minute projected for the last wait given, as a share of its budget."""

    def record(self, started: float, coalesce: float, reads: int, writes: int) -> None:
        """A pass that started at `started` (clock seconds) after gathering wakes for
        `coalesce` seconds, and its QBO change reads and writes."""
        self._passes.append(_Pass(started, coalesce, reads, writes))
        while self._passes and self._passes[0].started < started - self.horizon:
            self._passes.popleft()

    def coalesce(self, now: float) -> float:
        """The wake gathering for the next pass."""
        self.rate = self.projected = 0.0
        recent = [p for p in self._passes if p.started >= now - self.horizon]
        span = now - recent[0].started if recent else 0.0
        if self.share <= 0 or len(recent) < 5 or span < 5.0:
            self.pacing = False
            return self.base
        rate = self.rate = sum(p.writes for p in recent) / span
        if rate <= 0:
            self.pacing = False
            return self.base
        reads = sum(p.reads for p in recent) / len(recent)
        # What a period adds to the gathering: the wait for the first wake of the next
        # window and the part of the pass no wake overlaps (the median, so one slow pass
        # or one quiet moment does not move it).
        extra = sorted(
            max(0.0, b.started - a.started - a.coalesce) for a, b in itertools.pairwise(recent)
        )[(len(recent) - 1) // 2]
        target = self.share * self.budget.per_minute
        at_base = project_minute(self.base + extra, rate, reads, self.budget)
        # A dead band: pacing starts only past the share by 10 % and stops below it, so
        # the noise of a few seconds' rates does not make the wait flap at the edge.
        self.pacing = at_base > target * (1.0 if self.pacing else 1.1)
        self.projected = at_base / self.budget.per_minute
        if not self.pacing:
            return self.base
        costs: list[tuple[float, float]] = []
        wait = self.base + self.step
        while wait <= self.longest + 1e-9:
            cost = project_minute(wait + extra, rate, reads, self.budget)
            if cost <= target:
                self.projected = cost / self.budget.per_minute
                return round(wait, 3)
            costs.append((wait, cost))
            wait += self.step
        # None keeps under the share: the shortest wait within 5 % of the cheapest (the
        # cost flattens out, and the latency keeps growing with the wait).
        least = min(cost for _, cost in costs)
        wait, cost = next((w, cost) for w, cost in costs if cost <= least * 1.05)
        self.projected = cost / self.budget.per_minute
        return round(wait, 3)
