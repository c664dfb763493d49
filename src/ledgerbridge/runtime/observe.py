"""What a pass did, made visible (issue 19): structured log lines and Prometheus metrics.

`PassObserver.observe(...)` runs after every pass of `EngineRunner`:
- one log line per rule (key=value, logger `ledgerbridge.pass`): counts, retried
  records, duration, each side's cursor movement, the rule's error if any;
- one log line per pass: outcome, duration, requests and 429s per API since the last
  pass (the faults);
- the `web.metrics.Metrics` series, when a registry is given.

Each retried request is logged where it is retried (`transport.retry`, with the QBO
request's idempotency key). Nothing secret is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.domain import System
from ledgerbridge.store import Store
from ledgerbridge.sync.report import COUNTERS, PassReport
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.transport.budget import RateBudget
from ledgerbridge.web.metrics import Metrics

__all__ = ["ApiCounts", "Cursors", "PassObserver", "api_counts", "read_cursors"]

log = logging.getLogger("ledgerbridge.pass")
Cursors = dict[tuple[ObjectPair, System], str | None]


def read_cursors(store: Store, connection_id: int, pairs: Iterable[ObjectPair]) -> Cursors:
    """Every side's change cursor of these pairs (ISO text, None when unset)."""
    with store.begin() as tx:
        return {
            (pair, side): tx.get_cursor(connection_id, side, pair.value)
            for pair in pairs
            for side in System
        }


@dataclass(frozen=True, slots=True)
class ApiCounts:
    """An API client's running totals: requests sent, 429s, and the budgets' room."""

    requests: int
    throttled: int
    remaining: Mapping[str, int] = field(default_factory=dict)


def _remaining(budgets: Iterable[RateBudget]) -> dict[str, int]:
    return {
        window.name: window.max_requests - budget.used(window.name)
        for budget in budgets
        for window in budget.windows
    }


def api_counts(clients: Any) -> dict[str, ApiCounts]:
    """The totals of a connection's two clients (`runtime.clients.ConnectionClients`)."""
    qbo, hubspot = clients.qbo, clients.hubspot
    qbo_budgets = [qbo.budget, qbo.batch_budget]
    session = hubspot.session
    hubspot_budgets = [session.budget, session.search_budget]
    unmetered = getattr(session, "_unmetered", None)  # searches' own 429s are counted there
    hubspot_429 = sum(b.throttled for b in hubspot_budgets)
    if isinstance(unmetered, RateBudget):
        hubspot_429 += unmetered.throttled
    return {
        "hubspot": ApiCounts(int(hubspot.requests), hubspot_429, _remaining(hubspot_budgets)),
        "qbo": ApiCounts(
            sum(qbo.requests.values()),
            sum(b.throttled for b in qbo_budgets),
            _remaining(qbo_budgets),
        ),
    }


def _moved(before: str | None, after: str | None) -> str:
    return "-" if before == after else f"{before or 'start'}->{after}"


class PassObserver:
    """Logs every pass and feeds `metrics` (optional)."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics
        self._last: dict[tuple[int, str], ApiCounts] = {}

    def observe(
        self,
        connection_id: int,
        report: PassReport,
        seconds: float,
        apis: Mapping[str, ApiCounts],
        before: Cursors,
        after: Cursors,
    ) -> None:
        connection = str(connection_id)
        for pair, rule in report.pairs.items():
            counts = " ".join(f"{name}={rule.count(name)}" for name in (*COUNTERS, "pending"))
            cursors = " ".join(
                f"cursor_{side.value}={_moved(before.get((pair, side)), after.get((pair, side)))}"
                for side in System
            )
            log.info(
                "event=pass_rule connection=%s rule=%s %s retried=%d duration_ms=%d %s error=%r",
                connection,
                pair.value,
                counts,
                rule.retried,
                round(rule.seconds * 1000),
                cursors,
                rule.error,
            )
        deltas = {api: self._delta(connection_id, api, now) for api, now in apis.items()}
        outcome = "stopped" if report.stopped else "ok"
        if any(r.error for r in report.pairs.values()):
            outcome = "errors"
        faults = " ".join(
            f"requests_{api}={d.requests} throttled_{api}={d.throttled}"
            for api, d in deltas.items()
        )
        log.info(
            "event=pass connection=%s outcome=%s duration_ms=%d writes=%d %s",
            connection,
            outcome,
            round(seconds * 1000),
            report.writes,
            faults,
        )
        if self.metrics is not None:
            self._feed(self.metrics, connection, report, seconds, outcome, apis, deltas)

    def _delta(self, connection_id: int, api: str, now: ApiCounts) -> ApiCounts:
        last = self._last.get((connection_id, api))
        self._last[(connection_id, api)] = now
        if last is None or now.requests < last.requests:  # new clients: counted from 0
            return ApiCounts(now.requests, now.throttled)
        return ApiCounts(now.requests - last.requests, max(now.throttled - last.throttled, 0))

    @staticmethod
    def _feed(
        metrics: Metrics,
        connection: str,
        report: PassReport,
        seconds: float,
        outcome: str,
        apis: Mapping[str, ApiCounts],
        deltas: Mapping[str, ApiCounts],
    ) -> None:
        metrics.passes.labels(connection, outcome).inc()
        metrics.pass_seconds.labels(connection).observe(seconds)
        for pair, rule in report.pairs.items():
            for name in (*COUNTERS, "pending"):
                metrics.records.labels(connection, pair.value, name).inc(rule.count(name))
            metrics.retried.labels(connection, pair.value).inc(rule.retried)
            for lag in rule.lags:
                metrics.lag_seconds.labels(connection, pair.value).observe(lag)
        for api, delta in deltas.items():
            metrics.requests.labels(connection, api).inc(delta.requests)
            metrics.throttled.labels(connection, api).inc(delta.throttled)
            for window, left in apis[api].remaining.items():
                metrics.budget_remaining.labels(connection, api, window).set(left)
