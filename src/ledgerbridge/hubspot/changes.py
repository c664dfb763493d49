"""Incremental change reading: HubSpot search on the last-modified date, plus deletions.

How a pass reads every record modified at or after the cursor `since`:

* Keyset paging, never offsets: each search asks for `modified >= T` (or `> T`),
  sorted ascending, 200 at a time, always from the first result. A page whose last
  record has timestamp T' contains *every* record with `T <= modified < T'` (they
  sort before T'), so the next search asks for `modified >= T'`. The records at T'
  are read again and de-duplicated. The 10,000-result cap of a search never
  applies: no search is paged past its first 200 results.
* Ties: when a whole page shares one timestamp T (more than 200 records modified in
  the same millisecond, e.g. a bulk import, possibly far more than 10,000), the
  reader switches to `modified == T AND hs_object_id > last id`, sorted by id,
  until that timestamp is exhausted, then continues with `modified > T`. No loop
  can stall: every search either raises the timestamp or the id.
* Deletions: search never returns archived records, so the reader also lists
  `archived=true` records and keeps those archived at or after `since`
  (`deleted=True`). Without an overlap the list is read after the search, so an
  archive that happens during the pass is either seen now or is later than the next
  cursor. With an overlap of at least `CONCURRENT_OVERLAP` (the runtime's 30 s) the
  next cursor is that far before the newest change, so an archive during the pass is
  after it anyway: the list is then read at the same time as the search, one round
  trip less per pass (issue 18).

The next cursor is the newest modification timestamp seen (inclusive: the next
pass re-reads the records of exactly that millisecond, which the engine
recognises as echoes), minus `overlap`. HubSpot's search index lags writes by a
few seconds; pass e.g. `overlap=timedelta(seconds=30)` against the real API so a
record indexed late is still read. With no changes, the cursor stays at `since`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.objects import HubSpotRecord, ObjectType, object_type, parse_timestamp

__all__ = ["ChangeSet", "modified_property", "read_changes"]

PAGE = 200
CONCURRENT_OVERLAP = dt.timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Changed records in modification order (live first, then deleted) and the next cursor."""

    records: list[HubSpotRecord]
    next_cursor: dt.datetime | None
    searches: int = 0


def modified_property(obj: ObjectType) -> str:
    """Contacts keep `lastmodifieddate`; every other object `hs_lastmodifieddate`."""
    return "lastmodifieddate" if obj == "contacts" else "hs_lastmodifieddate"


def _ms(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("the cursor must be timezone-aware")
    return int(moment.timestamp() * 1000)


def _stamp(record: HubSpotRecord, prop: str) -> int:
    """A record's modification time in ms (its property, else `updatedAt`)."""
    moment = parse_timestamp(record.get(prop)) or record.updated_at
    if moment is None:
        raise ValueError(f"record {record.id} has no modification time")
    return _ms(moment)


def _filter(prop: str, op: str, value: int) -> dict[str, Any]:
    return {"propertyName": prop, "operator": op, "value": str(value)}


async def _read_live(
    client: HubSpotClient, obj: ObjectType, since: dt.datetime | None, props: list[str]
) -> tuple[dict[str, HubSpotRecord], int | None, int]:
    prop = modified_property(obj)
    by_id: dict[str, HubSpotRecord] = {}
    newest: int | None = None
    lower, op = (_ms(since) if since else 0), "GTE"
    searches = 0
    asc = [{"propertyName": prop, "direction": "ASCENDING"}]
    while True:
        group = {"filters": [_filter(prop, op, lower)]}
        _, page, _ = await client.search_page(obj, [group], asc, props, limit=PAGE)
        searches += 1
        for record in page:
            by_id[record.id] = record
        if not page:
            return by_id, newest, searches
        first, last = _stamp(page[0], prop), _stamp(page[-1], prop)
        newest = last if newest is None else max(newest, last)
        if len(page) < PAGE:
            return by_id, newest, searches
        if first != last:
            lower, op = last, "GTE"
            continue
        # A full page of one timestamp: walk that millisecond by id, then move past it.
        searches += await _read_tie(client, obj, prop, last, props, by_id)
        lower, op = last, "GT"


async def _read_tie(
    client: HubSpotClient,
    obj: ObjectType,
    prop: str,
    stamp: int,
    props: list[str],
    by_id: dict[str, HubSpotRecord],
) -> int:
    last_id: int | None = None
    searches = 0
    by_ident = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    while True:
        filters = [_filter(prop, "EQ", stamp)]
        if last_id is not None:
            filters.append(_filter("hs_object_id", "GT", last_id))
        _, page, _ = await client.search_page(
            obj, [{"filters": filters}], by_ident, props, limit=PAGE
        )
        searches += 1
        for record in page:
            by_id[record.id] = record
        if len(page) < PAGE:
            return searches
        last_id = max(int(r.id) for r in page)


async def read_changes(
    client: HubSpotClient,
    obj: str,
    since: dt.datetime | None,
    properties: Sequence[str],
    *,
    associations: Sequence[str] = (),
    include_deleted: bool = True,
    overlap: dt.timedelta = dt.timedelta(0),
) -> ChangeSet:
    """Records of `obj` modified (or archived) at or after `since` (everything when None)."""
    kind = object_type(obj)
    prop = modified_property(kind)
    props = list(dict.fromkeys([*properties, prop, "hs_object_id"]))

    async def archived() -> list[HubSpotRecord]:
        if not include_deleted:
            return []
        return [record async for record in client.list_all(kind, props, archived=True)]

    if overlap >= CONCURRENT_OVERLAP:
        (by_id, newest, searches), listed = await asyncio.gather(
            _read_live(client, kind, since, props), archived()
        )
    else:
        by_id, newest, searches = await _read_live(client, kind, since, props)
        listed = await archived()
    live = sorted(by_id.values(), key=lambda r: (_stamp(r, prop), int(r.id)))
    if associations:
        live = await _with_associations(client, kind, live, associations)
    floor = since or dt.datetime.min.replace(tzinfo=dt.UTC)
    deleted: list[HubSpotRecord] = []
    for record in listed:
        moment = record.archived_at or record.updated_at
        if moment is not None and moment >= floor and record.id not in by_id:
            deleted.append(record)
    cursor = since
    if newest is not None:
        cursor = dt.datetime.fromtimestamp(newest / 1000, tz=dt.UTC) - overlap
        if since is not None:
            cursor = max(cursor, since)
    return ChangeSet(records=live + deleted, next_cursor=cursor, searches=searches)


async def _with_associations(
    client: HubSpotClient,
    obj: ObjectType,
    records: list[HubSpotRecord],
    associations: Sequence[str],
) -> list[HubSpotRecord]:
    ids = [r.id for r in records]
    links: dict[str, dict[str, tuple[str, ...]]] = {r.id: {} for r in records}
    for to in associations:
        kind = object_type(to)
        found = await client.batch_read_associations(obj, kind, ids)
        for from_id, targets in found.items():
            if from_id in links:
                links[from_id][kind] = tuple(targets)
    return [replace(r, associations={**r.associations, **links[r.id]}) for r in records]
