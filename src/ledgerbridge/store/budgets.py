"""Rate budgets shared by every worker, kept in PostgreSQL (`rate_budget_buckets`).

A budget ("qbo:<realm>:minute": at most 500 requests per 60 s) is counted in buckets of a
tenth of its window. A worker claims a few requests at a time (`claim`); the claim is
granted when the requests claimed in the current bucket and the `BUCKETS` before it,
plus this one, stay within the limit. Counting one bucket more than the window holds
makes the count conservative: a claim is counted for at least a whole window after it
was made, so no sliding window of the service ever sees more than the limit — provided
the claimed requests are sent within the bucket they were claimed in (the caller drops
what is left of a claim when its bucket ends).

Claims on one budget are serialised by a transaction-scoped advisory lock on the budget's
name, so two workers never both take the last requests of a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from ledgerbridge.store import schema
from ledgerbridge.store.repository import Tx

__all__ = ["BUCKETS", "Claim", "claim", "connections_sharing", "spent"]

BUCKETS = 10
"""Buckets per window."""
BUDGET_LOCKS = 0x4C42_0003
"""Advisory-lock namespace of the budget claims (second key: hash of the budget's name)."""

buckets = schema.rate_budget_buckets


@dataclass(frozen=True, slots=True)
class Claim:
    granted: int
    """Requests granted (0: none now)."""
    bucket: int
    """The bucket they belong to; they may be sent until it ends."""
    bucket_ends: float
    """When that bucket ends (epoch seconds)."""
    retry_in: float
    """When nothing was granted: seconds until the next bucket, where room may free up."""


def _bucket(now: float, window_seconds: float) -> tuple[int, float]:
    width = window_seconds / BUCKETS
    index = math.floor(now / width)
    return index, (index + 1) * width


def spent(tx: Tx, budget: str, window_seconds: float, now: float) -> int:
    """Requests counted against `budget` right now (every worker together)."""
    current, _ = _bucket(now, window_seconds)
    used = tx.connection.execute(
        select(func.coalesce(func.sum(buckets.c.used), 0)).where(
            buckets.c.budget == budget, buckets.c.bucket >= current - BUCKETS
        )
    ).scalar_one()
    return int(used)


def claim(
    tx: Tx, budget: str, *, limit: int, window_seconds: float, want: int, now: float
) -> Claim:
    """Claim up to `want` requests of `budget` (`limit` per `window_seconds`) at `now`
    (epoch seconds, the workers' clocks; keep them in NTP sync)."""
    current, ends = _bucket(now, window_seconds)
    connection = tx.connection
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:budget))"),
            {"ns": BUDGET_LOCKS, "budget": budget},
        )
    connection.execute(
        delete(buckets).where(buckets.c.budget == budget, buckets.c.bucket < current - BUCKETS)
    )
    room = limit - spent(tx, budget, window_seconds, now)
    granted = max(min(want, room), 0)
    if granted == 0:
        return Claim(0, current, ends, max(ends - now, 0.001))
    dialect = postgresql if postgres else sqlite
    statement = dialect.insert(buckets).values(budget=budget, bucket=current, used=granted)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[buckets.c.budget, buckets.c.bucket],
            set_={"used": buckets.c.used + granted},
        )
    )
    return Claim(granted, current, ends, 0.0)


def connections_sharing(tx: Tx, realm_id: str | None, portal_id: str | None) -> tuple[int, int]:
    """How many connections name the QBO company `realm_id`, and the HubSpot portal."""
    table = schema.connections

    def count(column: Any, value: str | None) -> int:
        if value is None:
            return 1
        query = select(func.count()).select_from(table).where(column == value)
        return int(tx.connection.execute(query).scalar_one())

    return count(table.c.qbo_realm_id, realm_id), count(table.c.hubspot_portal_id, portal_id)
