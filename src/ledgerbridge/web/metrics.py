"""Prometheus metrics (`GET /metrics`, issue 19): what the passes did, per connection.

`Metrics` owns its own `CollectorRegistry` (several apps in one process, as in the tests,
never clash); `runtime.observe.PassObserver` updates it after every pass, and
`metrics_router(metrics)` serves it in the Prometheus text format. The endpoint is not
protected here: the sign-in (issue 15) puts it behind the same protection as the API. In
the distributed runtime each worker serves its own registry the same way, behind the same
middleware (`runtime/distributed/metrics_server.py`, `ledgerbridge worker --metrics-port`).

Series (labels):
- `ledgerbridge_passes_total` (connection, outcome: ok | errors | stopped)
- `ledgerbridge_records_total` (connection, rule, outcome: created, updated, linked,
  deactivated, voided, excluded, failed, skipped, pending)
- `ledgerbridge_retried_records_total` (connection, rule): failed records re-read when due
- `ledgerbridge_api_requests_total`, `ledgerbridge_api_throttled_total` (connection, api:
  hubspot | qbo): HTTP requests sent (retries included) and 429s answered
- `ledgerbridge_budget_remaining` (connection, api, window): requests left in each of
  the rate budget's windows, after the last pass
- `ledgerbridge_pass_duration_seconds` (connection), histogram
- `ledgerbridge_sync_lag_seconds` (connection, rule), histogram: from a record's change
  to the pass that wrote it
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["METRICS_PATH", "Metrics", "metrics_router"]

METRICS_PATH = "/metrics"
_LAG_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 86_400)


class Metrics:
    """The engine's series in one registry (see the module doc)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.passes = Counter(
            "ledgerbridge_passes", "Sync passes run.", ["connection", "outcome"], registry=r
        )
        self.records = Counter(
            "ledgerbridge_records",
            "Records by what a pass did with them.",
            ["connection", "rule", "outcome"],
            registry=r,
        )
        self.retried = Counter(
            "ledgerbridge_retried_records",
            "Failed records re-read because their retry was due.",
            ["connection", "rule"],
            registry=r,
        )
        self.requests = Counter(
            "ledgerbridge_api_requests",
            "HTTP requests sent to an API (retries included).",
            ["connection", "api"],
            registry=r,
        )
        self.throttled = Counter(
            "ledgerbridge_api_throttled",
            "429 answers from an API.",
            ["connection", "api"],
            registry=r,
        )
        self.budget_remaining = Gauge(
            "ledgerbridge_budget_remaining",
            "Requests left in a rate-budget window after the last pass.",
            ["connection", "api", "window"],
            registry=r,
        )
        self.pass_seconds = Histogram(
            "ledgerbridge_pass_duration_seconds",
            "How long a sync pass took.",
            ["connection"],
            registry=r,
        )
        self.lag_seconds = Histogram(
            "ledgerbridge_sync_lag_seconds",
            "From a record's change to the pass that synced it.",
            ["connection", "rule"],
            buckets=_LAG_BUCKETS,
            registry=r,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def metrics_router(metrics: Metrics) -> APIRouter:
    """`GET /metrics` in the Prometheus text format."""
    router = APIRouter()

    @router.get(METRICS_PATH, include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router
