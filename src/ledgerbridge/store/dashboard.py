"""The dashboard's queries: counts per object pair (once per record or linked pair), the
record list with filters and paging, failures by category, dismissals, invoice payments.

Every query is bounded by an index (`schema`: sync records by connection + status +
object/category, by connection + last attempt; links by their unique keys) and pages on
the server, so the pages stay fast with 100,000 records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ledgerbridge.store import schema
from ledgerbridge.store.repository import Tx, utc_now
from ledgerbridge.store.rows import ActivityRow, RecordStatus, SyncRecordRow

__all__ = [
    "SEVERITY",
    "RecordFilter",
    "RecordPage",
    "count_dismissed",
    "count_units",
    "dismiss",
    "dismissed_history",
    "failure_groups",
    "get_record",
    "invoice_payments",
    "link_counterparts",
    "page_records",
    "record_activity",
]

HUBSPOT, QBO = "hubspot", "quickbooks"
SEVERITY = {"failed": 4, "pending": 3, "excluded": 2, "synced": 1}
"""A linked pair shows the worse status of its two records."""

R = schema.sync_records
L = schema.links
D = schema.dismissals


def _worse(a: str, b: str) -> str:
    return a if SEVERITY.get(a, 0) >= SEVERITY.get(b, 0) else b


def count_units(tx: Tx, connection_id: int) -> dict[str, dict[str, int]]:
    """{object type: {status: n}}, counting a linked pair once (with the worse status of
    its two records) and every unlinked record once (R-HLT-3)."""
    counts: dict[str, dict[str, int]] = {}
    rows = tx.connection.execute(
        select(R.c.object_type, R.c.status, func.count())
        .where(R.c.connection_id == connection_id)
        .group_by(R.c.object_type, R.c.status)
    )
    for object_type, status, n in rows:
        counts.setdefault(object_type, {})[status] = int(n)
    h = R.alias("h")
    q = R.alias("q")
    pairs = tx.connection.execute(
        select(L.c.object_type, h.c.status, q.c.status, func.count())
        .select_from(L)
        .join(
            h,
            and_(
                h.c.connection_id == L.c.connection_id,
                h.c.object_type == L.c.object_type,
                h.c.side == HUBSPOT,
                h.c.record_id == L.c.hubspot_id,
            ),
        )
        .join(
            q,
            and_(
                q.c.connection_id == L.c.connection_id,
                q.c.object_type == L.c.object_type,
                q.c.side == QBO,
                q.c.record_id == L.c.qbo_id,
            ),
        )
        .where(L.c.connection_id == connection_id)
        .group_by(L.c.object_type, h.c.status, q.c.status)
    )
    return merge_pairs(counts, ((o, h, q, int(n)) for o, h, q, n in pairs))


def merge_pairs(
    counts: dict[str, dict[str, int]], pairs: Iterable[tuple[str, str, str, int]]
) -> dict[str, dict[str, int]]:
    """Record counts with each linked pair's two records counted once, as the worse
    status. The two reads are not one snapshot (SQLite reads outside a write transaction):
    a pass that commits between them adds pairs whose records the first read did not count
    (the demo's progress reads every 0.25 s during its first pass: `KeyError: 'synced'`).
    Such a read undercounts for a moment; it never fails or goes below zero."""
    for object_type, hs_status, qbo_status, n in pairs:
        by_status = counts.setdefault(object_type, {})
        by_status[hs_status] = by_status.get(hs_status, 0) - n
        by_status[qbo_status] = by_status.get(qbo_status, 0) - n
        worse = _worse(hs_status, qbo_status)
        by_status[worse] = by_status.get(worse, 0) + n
    return {
        object_type: {s: n for s, n in by_status.items() if n > 0}
        for object_type, by_status in sorted(counts.items())
    }


@dataclass(frozen=True, slots=True)
class RecordFilter:
    object_type: str | None = None
    status: str | None = None
    category: str | None = None
    side: str | None = None
    text: str | None = None
    include_dismissed: bool = True
    one_per_pair: bool = False
    """Each linked pair once, by its record with the worse status (its HubSpot record when
    both have the same): the records the overview counts."""


@dataclass(slots=True)
class RecordPage:
    records: list[SyncRecordRow]
    total: int
    offset: int
    limit: int
    counterparts: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """(object type, side, record id) → the linked record's id on the other side."""

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.records) < self.total


def _dismissed() -> ColumnElement[bool]:
    return exists().where(
        D.c.connection_id == R.c.connection_id,
        D.c.object_type == R.c.object_type,
        D.c.side == R.c.side,
        D.c.record_id == R.c.record_id,
        or_(
            D.c.error_category == R.c.error_category,
            and_(D.c.error_category.is_(None), R.c.error_category.is_(None)),
        ),
    )


def _conditions(connection_id: int, f: RecordFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a record filter."""
    where: list[ColumnElement[bool]] = [R.c.connection_id == connection_id]
    if f.object_type:
        where.append(R.c.object_type == f.object_type)
    if f.status:
        where.append(R.c.status == f.status)
    if f.category == "unknown":
        where.append(or_(R.c.error_category.is_(None), R.c.error_category == "unknown"))
    elif f.category:
        where.append(R.c.error_category == f.category)
    if f.side:
        where.append(R.c.side == f.side)
    if f.text:
        escaped = f.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        where.append(
            or_(
                R.c.record_id == f.text,
                func.lower(R.c.label).like(pattern, escape="\\"),
                func.lower(R.c.detail).like(pattern, escape="\\"),
            )
        )
    if not f.include_dismissed:
        where.append(~_dismissed())
    if f.one_per_pair:
        where.append(~_shown_by_its_pair())
    return where


def _severity(column: Any) -> Any:
    return case(SEVERITY, value=column, else_=0)


def _shown_by_its_pair() -> ColumnElement[bool]:
    """The record's pair is shown by its other record: a HubSpot record whose QuickBooks
    counterpart has a worse status, or a QuickBooks record whose HubSpot counterpart's is as
    bad or worse (a pair shows once, with the worse status, as `count_units` counts it)."""
    other = R.alias("pair_other")
    on_pair = and_(
        L.c.connection_id == R.c.connection_id,
        L.c.object_type == R.c.object_type,
        other.c.connection_id == L.c.connection_id,
        other.c.object_type == L.c.object_type,
    )
    hubspot_side = exists().where(
        on_pair,
        L.c.hubspot_id == R.c.record_id,
        other.c.side == QBO,
        other.c.record_id == L.c.qbo_id,
        _severity(other.c.status) > _severity(R.c.status),
    )
    qbo_side = exists().where(
        on_pair,
        L.c.qbo_id == R.c.record_id,
        other.c.side == HUBSPOT,
        other.c.record_id == L.c.hubspot_id,
        _severity(other.c.status) >= _severity(R.c.status),
    )
    return or_(and_(R.c.side == HUBSPOT, hubspot_side), and_(R.c.side == QBO, qbo_side))


def _record(row: Any) -> SyncRecordRow:
    return SyncRecordRow(
        connection_id=row["connection_id"],
        object_type=row["object_type"],
        side=row["side"],
        record_id=row["record_id"],
        label=row["label"],
        status=RecordStatus(row["status"]),
        error_category=row["error_category"],
        detail=row["detail"],
        excluded_by=row["excluded_by"],
        attempts=row["attempts"],
        first_seen_at=row["first_seen_at"],
        last_attempt_at=row["last_attempt_at"],
        last_synced_at=row["last_synced_at"],
    )


def page_records(
    tx: Tx, connection_id: int, f: RecordFilter, *, offset: int = 0, limit: int = 50
) -> RecordPage:
    """One page of records (newest attempt first), the total that match, and counterparts."""
    where = _conditions(connection_id, f)
    total = tx.connection.execute(select(func.count()).select_from(R).where(*where)).scalar_one()
    query = (
        select(R)
        .where(*where)
        .order_by(R.c.last_attempt_at.desc(), R.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    records = [_record(r) for r in tx.connection.execute(query).mappings()]
    page = RecordPage(records, int(total), offset, limit)
    page.counterparts = link_counterparts(
        tx, connection_id, [(r.object_type, r.side, r.record_id) for r in records]
    )
    return page


def all_records(tx: Tx, connection_id: int, f: RecordFilter) -> list[SyncRecordRow]:
    """Every record that matches (for a CSV export), in id order."""
    query = select(R).where(*_conditions(connection_id, f)).order_by(R.c.id)
    return [_record(r) for r in tx.connection.execute(query).mappings()]


def link_counterparts(
    tx: Tx, connection_id: int, keys: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], str]:
    """For each (object type, side, record id) that is linked: the id of its pair's record
    on the other side."""
    result: dict[tuple[str, str, str], str] = {}
    keys = list(keys)
    hubspot = {(o, i) for o, s, i in keys if s == HUBSPOT}
    qbo = {(o, i) for o, s, i in keys if s == QBO}
    if hubspot:
        rows = tx.connection.execute(
            select(L.c.object_type, L.c.hubspot_id, L.c.qbo_id).where(
                L.c.connection_id == connection_id,
                L.c.hubspot_id.in_(sorted({i for _, i in hubspot})),
            )
        )
        for object_type, hs_id, qbo_id in rows:
            if (object_type, hs_id) in hubspot:
                result[(object_type, HUBSPOT, hs_id)] = qbo_id
    if qbo:
        rows = tx.connection.execute(
            select(L.c.object_type, L.c.hubspot_id, L.c.qbo_id).where(
                L.c.connection_id == connection_id,
                L.c.qbo_id.in_(sorted({i for _, i in qbo})),
            )
        )
        for object_type, hs_id, qbo_id in rows:
            if (object_type, qbo_id) in qbo:
                result[(object_type, QBO, qbo_id)] = hs_id
    return result


def record_activity(
    tx: Tx,
    connection_id: int,
    object_type: str,
    refs: Sequence[tuple[str, str]],
    *,
    limit: int = 50,
) -> list[ActivityRow]:
    """The activity of a record and its counterpart (`refs`: (side, id) pairs), newest first."""
    table = schema.activity
    if not refs:
        return []
    match = or_(*(and_(table.c.side == s, table.c.record_id == i) for s, i in refs))
    rows = tx.connection.execute(
        select(table)
        .where(table.c.connection_id == connection_id, table.c.object_type == object_type, match)
        .order_by(table.c.id.desc())
        .limit(limit)
    ).mappings()
    return [
        ActivityRow(
            id=r["id"],
            connection_id=r["connection_id"],
            at=r["at"],
            object_type=r["object_type"],
            side=r["side"],
            record_id=r["record_id"],
            direction=r["direction"],
            operation=r["operation"],
            outcome=r["outcome"],
            details=dict(r["details"]),
        )
        for r in rows
    ]


def failure_groups(
    tx: Tx, connection_id: int, object_type: str | None = None
) -> list[tuple[str, int]]:
    """(error category, number of failed records) not dismissed, largest first."""
    f = RecordFilter(object_type=object_type, status="failed", include_dismissed=False)
    category = func.coalesce(R.c.error_category, "unknown")
    query = (
        select(category, func.count())
        .select_from(R)
        .where(*_conditions(connection_id, f))
        .group_by(category)
    )
    rows = [(str(c), int(n)) for c, n in tx.connection.execute(query)]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def count_dismissed(tx: Tx, connection_id: int, object_type: str | None = None) -> int:
    """Failed records whose failure was dismissed (still failed: `failure_groups` leaves
    them out, `count_units` and the record list count them)."""
    f = RecordFilter(object_type=object_type, status="failed")
    where = [*_conditions(connection_id, f), _dismissed()]
    return int(
        tx.connection.execute(select(func.count()).select_from(R).where(*where)).scalar_one()
    )


def dismiss(tx: Tx, connection_id: int, keys: Sequence[tuple[str, str, str]], actor: str) -> int:
    """Dismiss the failures of `keys` ((object type, side, record id)); returns how many were
    failing. The dismissal is kept as history; the record shows again if it fails for
    another reason."""
    now = utc_now()
    count = 0
    for object_type, side, record_id in keys:
        row = tx.connection.execute(
            select(R.c.error_category, R.c.detail).where(
                R.c.connection_id == connection_id,
                R.c.object_type == object_type,
                R.c.side == side,
                R.c.record_id == record_id,
                R.c.status == RecordStatus.FAILED.value,
            )
        ).first()
        if row is None:
            continue
        tx.connection.execute(
            D.insert().values(
                connection_id=connection_id,
                object_type=object_type,
                side=side,
                record_id=record_id,
                error_category=row[0],
                detail=row[1],
                dismissed_at=now,
                dismissed_by=actor,
            )
        )
        count += 1
    return count


@dataclass(frozen=True, slots=True)
class Dismissal:
    object_type: str
    side: str
    record_id: str
    error_category: str | None
    detail: str | None
    dismissed_at: dt.datetime
    dismissed_by: str


def dismissed_history(tx: Tx, connection_id: int, *, limit: int = 50) -> list[Dismissal]:
    rows = tx.connection.execute(
        select(D).where(D.c.connection_id == connection_id).order_by(D.c.id.desc()).limit(limit)
    ).mappings()
    return [
        Dismissal(
            r["object_type"],
            r["side"],
            r["record_id"],
            r["error_category"],
            r["detail"],
            r["dismissed_at"],
            r["dismissed_by"],
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class PaymentInfo:
    hubspot_id: str
    qbo_id: str
    origin: str | None
    amount: str | None
    date: str | None
    voided: bool
    refunded: str | None
    status: str | None


def invoice_payments(tx: Tx, connection_id: int, hubspot_invoice_id: str) -> list[PaymentInfo]:
    """The linked payments applied to the invoice (HubSpot id), with their sync status."""
    invoice = L.c.base["invoice"].as_string()
    rows = tx.connection.execute(
        select(L.c.hubspot_id, L.c.qbo_id, L.c.origin, L.c.base, R.c.status)
        .select_from(L)
        .outerjoin(
            R,
            and_(
                R.c.connection_id == L.c.connection_id,
                R.c.object_type == L.c.object_type,
                R.c.side == HUBSPOT,
                R.c.record_id == L.c.hubspot_id,
            ),
        )
        .where(
            L.c.connection_id == connection_id,
            L.c.object_type == "payments",
            invoice == hubspot_invoice_id,
        )
        .order_by(L.c.id)
    )
    result: list[PaymentInfo] = []
    for hs_id, qbo_id, origin, base, status in rows:
        base = dict(base or {})
        result.append(
            PaymentInfo(
                hubspot_id=hs_id,
                qbo_id=qbo_id,
                origin=origin,
                amount=base.get("amount"),
                date=base.get("date"),
                voided=base.get("voided") == "true",
                refunded=base.get("refunded"),
                status=status,
            )
        )
    return result


def get_record(
    tx: Tx, connection_id: int, object_type: str, side: str, record_id: str
) -> SyncRecordRow | None:
    row = (
        tx.connection.execute(
            select(R).where(
                R.c.connection_id == connection_id,
                R.c.object_type == object_type,
                R.c.side == side,
                R.c.record_id == record_id,
            )
        )
        .mappings()
        .first()
    )
    return _record(row) if row is not None else None


def failures_since(tx: Tx, since: dt.datetime, *, limit: int = 200) -> list[SyncRecordRow]:
    """Failed records (every connection) attempted after `since`, not dismissed, newest
    first: what a failure digest looks at."""
    query = (
        select(R)
        .where(
            R.c.status == RecordStatus.FAILED.value,
            R.c.last_attempt_at > since,
            ~_dismissed(),
        )
        .order_by(R.c.last_attempt_at.desc())
        .limit(limit)
    )
    return [_record(r) for r in tx.connection.execute(query).mappings()]
