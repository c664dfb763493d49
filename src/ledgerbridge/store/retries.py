"""Asking for failed records to be tried again (R-BEY-4).

PLACEHOLDER of the trust work's retry mechanism, with its signature: the dashboard calls
exactly `request_retry`. This version marks the matching failed records as attempted now
and, so that today's engine (which reads only what changed since its cursors) looks at
them again, moves the cursor of each affected object pair and side back to the start:
the next pass re-reads that side in full (writes nothing that is already in sync, but
reads more than a targeted retry would). The trust work replaces it with per-record due
times and a backoff schedule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select, update

from ledgerbridge.store import schema
from ledgerbridge.store.repository import Tx, utc_now
from ledgerbridge.store.rows import RecordStatus

__all__ = ["ScheduledRecord", "request_retry", "schedules_for"]


@dataclass(frozen=True, slots=True)
class ScheduledRecord:
    """A failed record's retry schedule: failures in a row, and when it is tried next
    (None: it waits for a person)."""

    object_type: str
    side: str
    record_id: str
    retries: int
    next_attempt_at: dt.datetime | None


def schedules_for(
    tx: Tx, connection_id: int, keys: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], ScheduledRecord]:
    """The schedule of these (object type, side, record id) failed records. PLACEHOLDER:
    this branch keeps no schedule (the trust work does), so none is known."""
    return {}


def request_retry(
    tx: Tx,
    connection_id: int,
    *,
    object_type: str | None = None,
    record_keys: Collection[tuple[str, str]] | None = None,
    error_category: str | None = None,
) -> int:
    """Mark the connection's failed records that match (object type, (side, record id)
    pairs, error category; None matches all) as due now; returns how many matched."""
    table = schema.sync_records
    where = [
        table.c.connection_id == connection_id,
        table.c.status == RecordStatus.FAILED.value,
    ]
    if object_type is not None:
        where.append(table.c.object_type == object_type)
    if error_category is not None:
        where.append(table.c.error_category == error_category)
    if record_keys is not None:
        if not record_keys:
            return 0
        where.append(
            or_(*(and_(table.c.side == s, table.c.record_id == r) for s, r in record_keys))
        )
    due = sorted(
        {
            (o, s)
            for o, s in tx.connection.execute(
                select(table.c.object_type, table.c.side).where(*where).distinct()
            )
        }
    )
    if not due:
        return 0
    result = tx.connection.execute(update(table).where(*where).values(last_attempt_at=utc_now()))
    cursors = schema.cursors
    for kind, side in due:
        tx.connection.execute(
            delete(cursors).where(
                cursors.c.connection_id == connection_id,
                cursors.c.object_type == kind,
                cursors.c.side == side,
            )
        )
    return int(result.rowcount)
