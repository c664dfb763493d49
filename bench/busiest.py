"""The busiest stretch of a run per API, from the request traces
(`<workdir>/{hubspot,qbo}-requests.tsv`), as a share of the API's budget: what issue 18
asks of (c) (no more than 60 % of either API's budget in its busiest minute).

* QBO: requests in the busiest rolling 60 s (budget 500), and `/batch` requests in the
  busiest rolling 60 s (budget 40);
* HubSpot: requests in the busiest rolling 10 s (budget 190) and in the busiest 60 s
  (1,140 = six windows).

A run shorter than the window has no full window: its busiest stretch is the whole run,
and the share is then given for the whole run and, scaled to the window, as a rate
(`scaled`), so a 20-s run still says what a minute at that pace would spend."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

QBO_PER_MINUTE = 500
QBO_BATCHES_PER_MINUTE = 40
HUBSPOT_PER_10S = 190


@dataclass(frozen=True)
class Window:
    """The most requests that any `seconds`-long stretch of the run holds."""

    label: str
    count: int
    budget: int
    seconds: float
    span: float
    """How long the run's trace is (first to last request)."""

    @property
    def share(self) -> float:
        return self.count / self.budget

    @property
    def scaled(self) -> float:
        """The share at this pace over a full window (= `share` when the run is longer)."""
        if self.span >= self.seconds or self.span <= 0:
            return self.share
        return self.share * self.seconds / self.span

    def describe(self) -> str:
        text = (
            f"{self.label} {self.count} / {self.budget} per {self.seconds:g} s "
            f"= {100 * self.share:.0f} %"
        )
        if self.span < self.seconds:
            text += (
                f" (run {self.span:.1f} s < {self.seconds:g} s; "
                f"{100 * self.scaled:.0f} % at this pace)"
            )
        return text


def busiest(starts: list[float], seconds: float) -> int:
    """The most of `starts` in any half-open window [t, t + seconds)."""
    ordered = sorted(starts)
    return max(
        (bisect_right(ordered, t + seconds - 1e-9) - i for i, t in enumerate(ordered)), default=0
    )


def read_trace(path: Path) -> list[tuple[float, str]]:
    """(start, endpoint) of every request in a trace file (missing file: none)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 4:
            rows.append((float(parts[0]), parts[3]))
    return rows


def _span(starts: list[float]) -> float:
    return max(starts) - min(starts) if starts else 0.0


def budget_windows(workdir: Path) -> list[Window]:
    """The busiest stretches of both traces in `workdir`, as shares of the budgets."""
    qbo = read_trace(workdir / "qbo-requests.tsv")
    hubspot = read_trace(workdir / "hubspot-requests.tsv")
    q_all = [t for t, _ in qbo]
    q_batch = [t for t, kind in qbo if kind.endswith("/batch")]
    h_all = [t for t, _ in hubspot]
    q_span, h_span = _span(q_all), _span(h_all)
    return [
        Window("QBO requests", busiest(q_all, 60), QBO_PER_MINUTE, 60, q_span),
        Window("QBO batches", busiest(q_batch, 60), QBO_BATCHES_PER_MINUTE, 60, q_span),
        Window("HubSpot requests", busiest(h_all, 10), HUBSPOT_PER_10S, 10, h_span),
        Window("HubSpot requests", busiest(h_all, 60), 6 * HUBSPOT_PER_10S, 60, h_span),
    ]
