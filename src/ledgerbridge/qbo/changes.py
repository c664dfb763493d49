"""Incremental change reader for QBO: CDC since a cursor, with a query fallback.

`read_changes(client, entities, since, now)`:
* `since is None` → a full read: `SELECT * FROM <E> ORDERBY MetaData.LastUpdatedTime`
  (paged, 1,000 a page) for every entity;
* `since` within CDC's 30-day look-back → one `GET /cdc` for all entities. CDC answers at
  most 1,000 objects across the entities, so a response that reaches the cap is not
  trusted: each entity is asked again on its own, and an entity that still reaches the cap
  is read with the query fallback (plus the deletes its capped CDC answer did carry);
* `since` older than 30 days → the query fallback for every entity:
  `SELECT * FROM <E> WHERE MetaData.LastUpdatedTime >= '<since>' ORDERBY MetaData.LastUpdatedTime`.
  A query cannot see deletes; CDC is the only source of those (deletes older than the
  look-back are gone, and the periodic reconcile catches them).
Name-list entities (Customer, Item, …) are queried with `Active IN (true, false)`, since a
QBO query hides inactive rows and a deactivation is a change.

**Cursor choice** (re-reading is harmless, skipping is not): the next cursor is the latest
`LastUpdatedTime` seen minus `overlap` (default 30 s, for transactions that commit with a
timestamp a little in the past; both are QBO's clock, so our clock's skew plays no part).
Not "now": a change committed during the read, stamped before "now", would otherwise be
skipped. When nothing changed, it is `now - IDLE_LAG` (5 min: our clock may run ahead of
QBO's), so a quiet company does not drift out of CDC's 30-day window. The cursor never
moves backwards (it is at least `since`).

The overlap is what a live pass reads again every time: at a steady 10 changes a second
(5 + 5, issue 18) 30 s is ~300 objects a read, well under CDC's 1,000; the 5 minutes of
before were ~3,000, so every pass after the first ~100 s of such a stream hit the cap and
paged the query fallback (measured: QBO at 95 % of its requests in the busiest minute).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ledgerbridge.qbo.codec_values import datetime_of

Obj = dict[str, Any]

CDC_WINDOW = dt.timedelta(days=30)
CDC_MAX_OBJECTS = 1000
DEFAULT_OVERLAP = dt.timedelta(seconds=30)
IDLE_LAG = dt.timedelta(minutes=5)
"""How far behind our clock a quiet read leaves the cursor (QBO's clock may lag ours)."""
# Entities with `Active` (no delete): a plain query would hide the deactivated ones.
LIST_ENTITIES = frozenset(
    {"Customer", "Vendor", "Employee", "Item", "Account", "Term", "PaymentMethod", "TaxCode"}
)


class ChangeSource(Protocol):
    """What `read_changes` needs of a client (`QboClient` is one)."""

    async def cdc(self, entities: Sequence[str], changed_since: str) -> list[Obj]: ...

    async def query_all(self, statement: str, *, page_size: int = 1000) -> list[Obj]: ...


@dataclass(frozen=True, slots=True)
class QboRecord:
    entity: str
    id: str
    sync_token: str | None
    last_updated: dt.datetime | None
    raw: Obj = field(repr=False, compare=False)
    deleted: bool = False

    @classmethod
    def from_raw(cls, entity: str, raw: Obj) -> QboRecord:
        meta = raw.get("MetaData") or {}
        token = raw.get("SyncToken")
        return cls(
            entity=entity,
            id=str(raw["Id"]),
            sync_token=str(token) if token is not None else None,
            last_updated=datetime_of(meta.get("LastUpdatedTime")),
            raw=raw,
            deleted=str(raw.get("status", "")).lower() == "deleted",
        )


@dataclass(frozen=True, slots=True)
class ChangeSet:
    records: list[QboRecord]
    next_cursor: dt.datetime
    method: Literal["full", "cdc", "query", "mixed"] = "cdc"
    one_answer: bool = False
    """Every record came from one CDC answer: one moment of QBO's, for every entity."""


def ql_string(value: str) -> str:
    """`value` as a quoted string literal of QBO's query language (backslash and quote
    escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def qbo_datetime(when: dt.datetime) -> str:
    """A cursor as QBO wants it in queries and `changedSince` (ISO 8601 with offset)."""
    if when.tzinfo is None:
        raise ValueError("cursors must be timezone-aware")
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def _statement(entity: str, since: dt.datetime | None) -> str:
    conditions = []
    if entity in LIST_ENTITIES:
        conditions.append("Active IN (true, false)")
    if since is not None:
        conditions.append(f"MetaData.LastUpdatedTime >= '{qbo_datetime(since)}'")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT * FROM {entity}{where} ORDERBY MetaData.LastUpdatedTime"


async def _query(client: ChangeSource, entity: str, since: dt.datetime | None) -> list[QboRecord]:
    rows = await client.query_all(_statement(entity, since))
    return [QboRecord.from_raw(entity, row) for row in rows if "Id" in row]


def _from_cdc(pages: list[Obj], entities: Sequence[str]) -> dict[str, list[QboRecord]]:
    found: dict[str, list[QboRecord]] = {entity: [] for entity in entities}
    for page in pages:
        for entity in entities:
            for raw in page.get(entity) or []:
                if isinstance(raw, dict) and "Id" in raw:
                    found[entity].append(QboRecord.from_raw(entity, raw))
    return found


def _dedupe(records: list[QboRecord]) -> list[QboRecord]:
    """One record per (entity, id): the latest version wins; deletes win ties."""
    latest: dict[tuple[str, str], QboRecord] = {}
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    for record in records:
        key = (record.entity, record.id)
        seen = latest.get(key)
        if seen is None or (record.last_updated or floor, record.deleted) >= (
            seen.last_updated or floor,
            seen.deleted,
        ):
            latest[key] = record
    return sorted(latest.values(), key=lambda r: (r.last_updated or floor, r.entity, r.id))


def next_cursor(
    records: Sequence[QboRecord],
    since: dt.datetime | None,
    now: dt.datetime,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
) -> dt.datetime:
    stamps = [r.last_updated for r in records if r.last_updated is not None]
    candidate = max(stamps) - overlap if stamps else now - max(overlap, IDLE_LAG)
    return max(candidate, since) if since is not None else candidate


async def read_changes(
    client: ChangeSource,
    entities: Sequence[str],
    since: dt.datetime | None,
    now: dt.datetime,
    *,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
) -> ChangeSet:
    """Records changed in `entities` since `since` (deletes included), and the next cursor."""
    if not entities:
        raise ValueError("read_changes needs at least one entity")
    if now.tzinfo is None or (since is not None and since.tzinfo is None):
        raise ValueError("datetimes must be timezone-aware")
    method: Literal["full", "cdc", "query", "mixed"]
    records: list[QboRecord] = []
    one_answer = False
    if since is None:
        method = "full"
        for entity in entities:
            records.extend(await _query(client, entity, None))
    elif since < now - CDC_WINDOW + dt.timedelta(minutes=1):
        method = "query"
        for entity in entities:
            records.extend(await _query(client, entity, since))
    else:
        method = "cdc"
        changed_since = qbo_datetime(since)
        found = _from_cdc(await client.cdc(entities, changed_since), entities)
        one_answer = True
        if sum(len(v) for v in found.values()) >= CDC_MAX_OBJECTS and len(entities) > 1:
            found, one_answer = {}, False
            for entity in entities:
                found.update(_from_cdc(await client.cdc([entity], changed_since), [entity]))
        for entity in entities:
            got = found.get(entity, [])
            if len(got) >= CDC_MAX_OBJECTS:
                method, one_answer = "mixed", False
                records.extend(r for r in got if r.deleted)
                records.extend(await _query(client, entity, since))
            else:
                records.extend(got)
    unique = _dedupe(records)
    single = method == "cdc" and one_answer
    return ChangeSet(unique, next_cursor(unique, since, now, overlap), method, single)
