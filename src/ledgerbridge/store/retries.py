"""The retry schedule of failed records (issue 19: failures that heal).

A failed sync record is tried again:
- when either of its records changes (the pass reads it anyway, see `sync.healing`);
- when it is due: each failure sets `next_attempt_at` = now + `retry_delay(retries)`
  (1 min, doubling, capped at 1 h); each pass re-reads the due records of a rule by id
  from both sides and plans them again (`due_failures`);
- a failure counts in the schedule only when the record was due (its first failure, or
  one at or after `next_attempt_at`, or asked for): a record that fails again before then
  was read again by a pass for another reason (the change reads re-read the last
  seconds every pass: 30 s on both sides, so a record that fails on its change is
  planned again by every pass for half a minute) and keeps its schedule. Counting those burnt
  the whole schedule, hours of retries, in a minute;
- on demand (`request_retry`, the dashboard's "retry" and the engine after a customer
  or product got linked: invoices that failed for want of it become due now).

After `ATTENTION_AFTER` failures in a row a record is no longer scheduled: it "needs
attention" (`next_attempt_at` NULL) until it changes, a dependency is linked or a retry
is requested. Any outcome other than failed clears the schedule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_, update

from ledgerbridge.domain import System
from ledgerbridge.store import schema
from ledgerbridge.store.repository import Tx
from ledgerbridge.store.rows import RecordStatus

__all__ = [
    "ATTENTION_AFTER",
    "DUE_NOW",
    "RETRY_BASE",
    "RETRY_CAP",
    "ScheduledRecord",
    "due_failures",
    "failed_records",
    "needs_attention",
    "request_retry",
    "retry_delay",
    "schedule",
    "schedule_of",
    "schedules_for",
]

RETRY_BASE = dt.timedelta(minutes=1)
RETRY_CAP = dt.timedelta(hours=1)
ATTENTION_AFTER = 8
"""Failures in a row after which a record waits for a person (or a change)."""
DUE_NOW = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""`next_attempt_at` of a record whose retry was requested: due at the next pass."""
_CHUNK = 400


def retry_delay(retries: int) -> dt.timedelta | None:
    """The wait after the `retries`-th failure in a row; None: needs attention."""
    if retries >= ATTENTION_AFTER:
        return None
    delay: dt.timedelta = RETRY_BASE * (2 ** max(retries - 1, 0))
    return min(RETRY_CAP, delay)


@dataclass(frozen=True, slots=True)
class ScheduledRecord:
    """One failed record's schedule, as the status views show it."""

    object_type: str
    side: str
    record_id: str
    retries: int
    next_attempt_at: dt.datetime | None

    @property
    def needs_attention(self) -> bool:
        """No longer retried by itself (a record failed before schedules existed is not)."""
        return self.next_attempt_at is None and self.retries >= ATTENTION_AFTER


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def schedule(
    tx: Tx,
    connection_id: int,
    outcomes: Iterable[tuple[str, System, str, str]],
    now: dt.datetime,
) -> None:
    """After a commit's sync records were written: (object type, side, record id,
    status) of each. Failed ones that were due get their next attempt (a failed one not
    due keeps its schedule); synced / excluded ones lose their schedule; pending ones
    (transient, read again anyway) keep theirs."""
    table = schema.sync_records
    failed: dict[tuple[str, str], list[str]] = {}
    cleared: dict[tuple[str, str], list[str]] = {}
    for object_type, system, record_id, status in outcomes:
        if status == RecordStatus.FAILED.value:
            failed.setdefault((object_type, system.value), []).append(record_id)
        elif status != RecordStatus.PENDING.value:
            cleared.setdefault((object_type, system.value), []).append(record_id)
    for (object_type, side), ids in cleared.items():
        for chunk in _chunks(ids):
            tx.connection.execute(
                update(table)
                .where(_key(connection_id, object_type, side, chunk))
                .where(or_(table.c.retries != 0, table.c.next_attempt_at.is_not(None)))
                .values(retries=0, next_attempt_at=None)
            )
    for (object_type, side), ids in failed.items():
        for chunk in _chunks(ids):
            due = or_(table.c.retries == 0, table.c.next_attempt_at <= now)
            rows = tx.connection.execute(
                select(table.c.id, table.c.retries).where(
                    _key(connection_id, object_type, side, chunk), due
                )
            ).all()
            for row_id, retries in rows:
                count = int(retries) + 1
                delay = retry_delay(count)
                tx.connection.execute(
                    update(table)
                    .where(table.c.id == row_id)
                    .values(retries=count, next_attempt_at=now + delay if delay else None)
                )


def _key(
    connection_id: int, object_type: str, side: str, ids: Sequence[str]
) -> ColumnElement[bool]:
    table = schema.sync_records
    return and_(
        table.c.connection_id == connection_id,
        table.c.object_type == object_type,
        table.c.side == side,
        table.c.record_id.in_(list(ids)),
    )


def due_failures(
    tx: Tx, connection_id: int, object_type: str, now: dt.datetime, *, limit: int = 500
) -> list[tuple[System, str]]:
    """The failed records of `object_type` whose next attempt is due: (side, id)."""
    table = schema.sync_records
    rows = tx.connection.execute(
        select(table.c.side, table.c.record_id)
        .where(
            table.c.connection_id == connection_id,
            table.c.object_type == object_type,
            table.c.status == RecordStatus.FAILED.value,
            table.c.next_attempt_at <= now,
        )
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
    ).all()
    return [(System(side), str(record_id)) for side, record_id in rows]


def failed_records(
    tx: Tx, connection_id: int, object_type: str, keys: Iterable[tuple[System, str]]
) -> set[tuple[System, str]]:
    """Which of these (side, id) records are failed now."""
    by_side: dict[System, list[str]] = {}
    for side, record_id in keys:
        by_side.setdefault(side, []).append(record_id)
    table = schema.sync_records
    found: set[tuple[System, str]] = set()
    for side, ids in by_side.items():
        for chunk in _chunks(sorted(set(ids))):
            rows = tx.connection.execute(
                select(table.c.record_id).where(
                    _key(connection_id, object_type, side.value, chunk),
                    table.c.status == RecordStatus.FAILED.value,
                )
            ).scalars()
            found.update((side, str(r)) for r in rows)
    return found


def request_retry(
    tx: Tx,
    connection_id: int,
    *,
    object_type: str | None = None,
    record_keys: Sequence[tuple[str, str]] | None = None,
    error_category: str | None = None,
) -> int:
    """Make the matching failed records due at the next pass (those that need attention
    too); `record_keys` are (side, record id) pairs. Returns how many."""
    table = schema.sync_records
    query = update(table).where(
        table.c.connection_id == connection_id,
        table.c.status == RecordStatus.FAILED.value,
    )
    if object_type is not None:
        query = query.where(table.c.object_type == object_type)
    if error_category is not None:
        query = query.where(table.c.error_category == error_category)
    if record_keys is not None:
        if not record_keys:
            return 0
        wanted = [(str(side), str(record_id)) for side, record_id in record_keys]
        query = query.where(tuple_(table.c.side, table.c.record_id).in_(wanted))
    result = tx.connection.execute(query.values(next_attempt_at=DUE_NOW))
    return int(result.rowcount or 0)


def schedule_of(
    tx: Tx, connection_id: int, *, object_type: str | None = None, limit: int = 200
) -> list[ScheduledRecord]:
    """The failed records and their schedule, the soonest first, those that need
    attention last (for the status views)."""
    table = schema.sync_records
    query = select(
        table.c.object_type,
        table.c.side,
        table.c.record_id,
        table.c.retries,
        table.c.next_attempt_at,
    ).where(table.c.connection_id == connection_id, table.c.status == RecordStatus.FAILED.value)
    if object_type is not None:
        query = query.where(table.c.object_type == object_type)
    query = query.order_by(table.c.next_attempt_at.is_(None), table.c.next_attempt_at, table.c.id)
    rows = tx.connection.execute(query.limit(limit)).all()
    return [ScheduledRecord(str(t), str(s), str(r), int(n), at) for t, s, r, n, at in rows]


def schedules_for(
    tx: Tx, connection_id: int, keys: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], ScheduledRecord]:
    """The schedule of these (object type, side, record id) failed records."""
    table = schema.sync_records
    wanted = sorted(set(keys))
    found: dict[tuple[str, str, str], ScheduledRecord] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = tx.connection.execute(
            select(
                table.c.object_type,
                table.c.side,
                table.c.record_id,
                table.c.retries,
                table.c.next_attempt_at,
            ).where(
                table.c.connection_id == connection_id,
                table.c.status == RecordStatus.FAILED.value,
                tuple_(table.c.object_type, table.c.side, table.c.record_id).in_(chunk),
            )
        ).all()
        for t, s, r, n, at in rows:
            found[(str(t), str(s), str(r))] = ScheduledRecord(str(t), str(s), str(r), int(n), at)
    return found


def needs_attention(tx: Tx, connection_id: int) -> int:
    """How many failed records no longer retry by themselves (see `ATTENTION_AFTER`)."""
    table = schema.sync_records
    query = select(func.count()).where(
        table.c.connection_id == connection_id,
        table.c.status == RecordStatus.FAILED.value,
        table.c.next_attempt_at.is_(None),
        table.c.retries >= ATTENTION_AFTER,
    )
    return int(tx.connection.execute(query).scalar_one())
