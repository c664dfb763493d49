"""Whether syncing works right now: what the runtime's latest passes of each connection
said, kept by the dashboard (`DashboardContext.on_pass`) and shown on the overview, the
Connections page and `/api/status`.

A pass goes wrong in two ways: it raises (the runtime backs off and retries it), or it
finishes but a rule could not read or write as a whole (`PairReport.error`, for example
QuickBooks answering HTTP 500): nothing of that rule was recorded and no cursor moved, so
the records it could not read do not show anywhere yet and the next pass reads them
again. Both are a failed pass here; the first pass that finishes with no such error
clears the problem.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ledgerbridge.store import ConnectionRow
from ledgerbridge.sync.errors import ErrorCategory, SyncError
from ledgerbridge.sync.report import PassReport

__all__ = ["PassHealth", "Problem", "health_dict", "problem_of"]

QUICKBOOKS, HUBSPOT, EITHER = "QuickBooks", "HubSpot", "HubSpot or QuickBooks"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a pass failed: the error's category, HTTP status and technical detail."""

    category: ErrorCategory
    detail: str
    status: int | None = None
    service: str | None = None
    """Which service the error came from, when it says (else guessed from the detail)."""

    def service_of(self, connection: ConnectionRow | None) -> str:
        """QuickBooks, HubSpot, or both names when the error does not tell."""
        if self.service:
            return self.service
        detail = self.detail
        if detail.startswith("QBO ") or "QuickBooks" in detail:
            return QUICKBOOKS
        if "HubSpot" in detail:
            return HUBSPOT
        if connection is not None:
            if connection.qbo_base_url and connection.qbo_base_url in detail:
                return QUICKBOOKS
            if connection.hubspot_base_url and connection.hubspot_base_url in detail:
                return HUBSPOT
        return EITHER

    def words(self, connection: ConnectionRow | None) -> str:
        """The problem in plain words ("QuickBooks is not answering (HTTP 500)")."""
        service = self.service_of(connection)
        status = f" (HTTP {self.status})" if self.status else ""
        match self.category:
            case ErrorCategory.SERVICE_UNAVAILABLE:
                return f"{service} is not answering{status}"
            case ErrorCategory.RATE_LIMITED:
                return f"{service} asks for fewer requests{status or ' (HTTP 429)'}"
            case ErrorCategory.AUTHENTICATION:
                return f"{service} refused the connection's access{status}"
            case ErrorCategory.PERMISSION:
                return f"{service} refused a request: permission denied{status}"
            case _:
                return f"{service} answered with an error{status}: {self.category.headline}"


def _problem(category: str, detail: str) -> Problem:
    try:
        return Problem(ErrorCategory(category), detail)
    except ValueError:
        return Problem(ErrorCategory.UNKNOWN, f"{category}: {detail}")


def problem_of(error: BaseException | None, report: object = None) -> Problem | None:
    """The problem of a pass that raised `error`, or finished with `report` (a rule, its
    payments or its deal roll-up failed as a whole); None when it went fine."""
    if isinstance(error, SyncError):
        return Problem(error.category, error.detail, error.status)
    if error is not None:
        return Problem(ErrorCategory.UNKNOWN, f"{type(error).__name__}: {error}")
    if not isinstance(report, PassReport):
        return None
    for pair in report.pairs.values():
        if pair.failure is not None:
            failure = pair.failure
            return Problem(failure.category, failure.detail, failure.status)
        for text in (pair.error, pair.payment_error, pair.deal_error):
            if text:
                category, _, detail = text.partition(": ")
                return _problem(category, detail)
    return None


@dataclass(frozen=True, slots=True)
class PassHealth:
    """A connection's latest pass and, while passes fail, since when and how many."""

    last_at: dt.datetime
    """When its latest pass ended."""
    problem: Problem | None = None
    """Why the latest pass failed (None: it finished without an error)."""
    failing_since: dt.datetime | None = None
    """When the first of the failed passes in a row ended."""
    failed_in_row: int = 0
    last_ok_at: dt.datetime | None = None
    """When the latest pass without an error ended (None: none since the server started)."""

    @property
    def failing(self) -> bool:
        return self.problem is not None

    def after(self, at: dt.datetime, problem: Problem | None) -> PassHealth:
        """The health once one more pass ended at `at` with `problem` (None: fine)."""
        if problem is None:
            return PassHealth(at, last_ok_at=at)
        return PassHealth(
            at,
            problem,
            failing_since=self.failing_since or at,
            failed_in_row=self.failed_in_row + 1,
            last_ok_at=self.last_ok_at,
        )

    @staticmethod
    def first(at: dt.datetime, problem: Problem | None) -> PassHealth:
        if problem is None:
            return PassHealth(at, last_ok_at=at)
        return PassHealth(at, problem, failing_since=at, failed_in_row=1)

    def headline(self, connection: ConnectionRow | None) -> str:
        """ "QuickBooks is not answering (HTTP 500) since 21:06 UTC — the last 4 passes
        failed" (empty when the latest pass went fine)."""
        if self.problem is None:
            return ""
        since = self.failing_since or self.last_at
        passes = (
            "the last pass failed"
            if self.failed_in_row <= 1
            else f"the last {self.failed_in_row} passes failed"
        )
        return (
            f"{self.problem.words(connection)} since {since.astimezone(dt.UTC):%H:%M} UTC"
            f" — {passes}"
        )

    def advice(self) -> str:
        """What happens meanwhile, in plain words."""
        if self.problem is None:
            return ""
        if self.problem.category is ErrorCategory.AUTHENTICATION:
            return "Changes wait until the connection is authorized again; nothing is lost."
        return (
            "Changes made meanwhile wait (new records show up once a pass reads them) and "
            "sync when it works again; nothing is lost. The sync keeps retrying by itself."
        )

    def as_dict(self, connection: ConnectionRow | None) -> dict[str, Any]:
        """`/api/status`'s `sync` of a connection."""
        problem = self.problem
        return {
            "state": "failing" if problem else "ok",
            "last_pass_at": self.last_at.isoformat(),
            "last_ok_pass_at": self.last_ok_at.isoformat() if self.last_ok_at else None,
            "failing_since": self.failing_since.isoformat() if self.failing_since else None,
            "failed_passes_in_row": self.failed_in_row,
            "summary": self.headline(connection) or None,
            "error": None
            if problem is None
            else {
                "service": problem.service_of(connection),
                "category": problem.category.value,
                "title": problem.category.headline,
                "http_status": problem.status,
                "detail": problem.detail,
            },
        }


def health_dict(health: PassHealth | None, connection: ConnectionRow | None) -> dict[str, Any]:
    """`/api/status`'s `sync` of a connection: `state` is `ok`, `failing`, or `unknown`
    (no pass since the server started, or the passes run in another process)."""
    if health is not None:
        return health.as_dict(connection)
    return {
        "state": "unknown",
        "last_pass_at": None,
        "last_ok_pass_at": None,
        "failing_since": None,
        "failed_passes_in_row": 0,
        "summary": None,
        "error": None,
    }
