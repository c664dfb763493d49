"""Historical backfill (R-INV-3 Beyond): sync records created before the sync started.

`backfill_ports` runs the unchanged `SyncEngine` (its writes stay idempotent, recorded
and audited) over three wrappers: `backfill_rule` (the stored rule minus its time
filters, e.g. R-INV-2's "after the sync started", plus "created on or after `since`"
per source side); `WindowedSide` (a `SidePort` whose `read_changes` streams the window
one page per engine batch); `BackfillState` (a `StatePort` keeping the backfill's own
position rows under `backfill:<object>`, written in each batch's transaction, activity
tagged `"via": "backfill"`). `backfill_all` runs contacts, products, then invoices.

**Streaming, in a stable order.** The window is read page by page in *creation* order,
by keyset: each page asks for "created at or after B" (QBO: `MetaData.CreateTime`,
whole seconds; HubSpot search: `createdate` / `hs_createdate`, ms) sorted by creation
time, and drops the ids already done at exactly B (`Position.skip`). Creation times
never change, so a record updated during the backfill keeps its place (paging by
offset over a modification-time order would skip records); a deleted one only leaves
its place. When a whole page holds records already done at B (a crowded second), the
page reads all of B (`WindowReader.tie`), then continues strictly after B. The window
is also capped at the run's start ("created at or before `until`"): records created
later (among them the ones this backfill creates on a two-way rule's other side) are
the live sync's, and are not read back as echoes. Memory holds the current page, the
prefetched next one and the links: not the window.

**One read per page.** A page is planned as it was read, without a second fresh read:
a record that changes after its read is written with a stale version and fails as
stale (transient: held and retried by the next batch), and its change is also seen by
the live sync's cursor. The next page is prefetched (an asyncio task) while the
engine plans, writes and commits the current batch. Before it is served it is read
again (the same one query) only when it is older than `fresh_for`, and the few of its
records the current batch just linked or wrote are re-read by id.

**Resumable.** The position after each batch (before its first held record) is written
in the batch's commit. A later run with the same `since` resumes there; a batch cut by
a crash is re-planned and its writes replay idempotently. Existing counterparts are
linked, not duplicated: contacts / products by the engine's email / SKU matching,
invoices by number + customer + date + amount (`sync.reconcile.invoice_key`, one to
one, as `pair_unlinked`) before the first batch, from a key index built while
streaming one side and then only the matching keys of the other. `dry_run` writes
nothing; it plans the whole window in one pass (its report lists every action anyway).

The window is read straight from the connector side (`QboSide`, `HubSpotSide`) found
under any wrappers with an `inner` attribute; any other `SidePort` is read whole
through `read_changes` (`LoadedWindow`, for in-memory fakes).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledgerbridge.domain import System
from ledgerbridge.errors import BackfillError as BackfillError
from ledgerbridge.hubspot.objects import HubSpotRecord, parse_timestamp
from ledgerbridge.hubspot.side.port import HubSpotSide, object_of
from ledgerbridge.qbo.changes import qbo_datetime, ql_string
from ledgerbridge.qbo.codec_values import datetime_of
from ledgerbridge.qbo.side.port import ENTITIES, QboSide
from ledgerbridge.store import ConnectionStatus, Store
from ledgerbridge.store.state import (
    load_ref_index,
    load_rules,
    load_sync_links,
    load_sync_links_for,
    write_commit,
)
from ledgerbridge.sync.engine import SyncEngine, utc_now
from ledgerbridge.sync.filters import passes, property_value
from ledgerbridge.sync.model import Link, RefIndex, SideRecord
from ledgerbridge.sync.ports import (
    ActivityEntry,
    Changes,
    Commit,
    RecordOutcome,
    SidePort,
    WriteAction,
    WriteResult,
)
from ledgerbridge.sync.reconcile import invoice_key, link_as_is
from ledgerbridge.sync.report import COUNTERS, PassReport
from ledgerbridge.sync.rules import (
    SYNC_STARTED,
    Direction,
    Filter,
    FilterOperator,
    ObjectPair,
    SyncRule,
)

H, Q = System.HUBSPOT, System.QUICKBOOKS
OBJECTS: dict[str, ObjectPair] = {
    "contacts": ObjectPair.CONTACTS_CUSTOMERS,
    "products": ObjectPair.PRODUCTS_ITEMS,
    "invoices": ObjectPair.INVOICES_INVOICES,
}
HUBSPOT_CREATED = {
    ObjectPair.CONTACTS_CUSTOMERS: "createdate",
    ObjectPair.PRODUCTS_ITEMS: "createdate",
    ObjectPair.INVOICES_INVOICES: "hs_createdate",
}
QBO_CREATED = "MetaData.CreateTime"
TIME_PROPERTIES = frozenset(
    {"@updated_at", QBO_CREATED, "MetaData.LastUpdatedTime"}
    | {"createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate"}
)
WINDOW_LABEL = "Backfill: created on or after"
EDGE = dt.timedelta(milliseconds=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
FRESH_FOR = dt.timedelta(seconds=30)
LINK_CHUNK = 100


def window_start(since: dt.date) -> dt.datetime:
    return dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)


def _time_window(flt: Filter) -> bool:
    dated = flt.property in TIME_PROPERTIES or flt.value == SYNC_STARTED
    return flt.operator in (FilterOperator.AFTER, FilterOperator.BEFORE) and dated


def window_filter(pair: ObjectPair, source: System, since: dt.date) -> Filter:
    prop = HUBSPOT_CREATED[pair] if source is H else QBO_CREATED
    return Filter(
        flow=Direction.flow_from(source),
        property=prop,
        operator=FilterOperator.AFTER,
        value=(window_start(since) - EDGE).isoformat(),
        label=f"{WINDOW_LABEL} {since.isoformat()}",
    )


def window_of(rule: SyncRule, side: System) -> Filter | None:
    """The backfill window filter of `side` in a `backfill_rule` (None: not a source)."""
    found = (f for f in rule.filters_for(side) if (f.label or "").startswith(WINDOW_LABEL))
    return next(found, None)


def backfill_rule(rule: SyncRule, since: dt.date) -> SyncRule:
    """`rule` without its time-window filters, with the backfill window instead."""
    keep = tuple(f for f in rule.filters if not _time_window(f))
    window = tuple(
        window_filter(rule.object_pair, s, since) for s in sorted(rule.direction.sources)
    )
    return rule.model_copy(update={"filters": (*keep, *window), "enabled": True})


# ---- reading the window: keyset pages in creation order ----


@dataclass(frozen=True, slots=True)
class Entry:
    """One record of a window page: its id, creation time, and the record (None when
    the reader was told not to decode it)."""

    id: str
    created: dt.datetime
    record: SideRecord | None
    tie: bool = False
    """Read by `WindowReader.tie` (a crowded second, walked in id order)."""


def id_order(record_id: str) -> tuple[int, int, str]:
    """How the services order ids: numerically (QBO's IdType, HubSpot's hs_object_id)."""
    return (0, int(record_id), "") if record_id.isdigit() else (1, 0, record_id)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a window read goes on: records created at or after `bound` (after it when
    `past`: every record of that second is done), except the ids in `skip` (done
    already; all created at or after `bound`). When `tie` is set, the second `bound`
    holds more records than a page and is walked in id order: those with an id up to
    `tie` are done ("" : none yet)."""

    bound: dt.datetime
    skip: frozenset[str] = frozenset()
    tie: str | None = None
    past: bool = False

    def after(self, done: Sequence[Entry], floor: Callable[[dt.datetime], dt.datetime]) -> Position:
        """The position once `done` (in creation order, read from here) is done."""
        if not done:
            return self
        last = done[-1]
        if last.tie:  # inside a crowded second: its records in creation order, then by id
            at = floor(last.created)
            plain = {e.id for e in done if not e.tie and e.created >= at}
            kept = self.skip if self.bound == at else frozenset()
            return Position(at, frozenset(plain | kept), tie=last.id)
        bound = max(self.bound, floor(last.created))
        skip = {e.id for e in done if e.created >= bound}
        if bound == self.bound:
            skip |= self.skip
        return Position(bound, frozenset(skip), past=self.past and bound == self.bound)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"created": self.bound.isoformat(), "skip": sorted(self.skip)}
        if self.tie is not None:
            out["tie"] = self.tie
        if self.past:
            out["past"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Position | None:
        if "created" not in data:
            return None  # another format (an older version's cursor): start over
        tie = data.get("tie")
        return cls(
            dt.datetime.fromisoformat(data["created"]),
            frozenset(data.get("skip", ())),
            tie=str(tie) if tie is not None else None,
            past=bool(data.get("past", False)),
        )


Keep = Callable[[str], bool]


class WindowReader(Protocol):
    """One side's records in creation order (`Entry.created`, then as the service sorts)."""

    max_page: int

    def floor(self, moment: dt.datetime) -> dt.datetime:
        """`moment` at the precision the service compares creation times."""
        ...

    async def query(
        self,
        rule: SyncRule,
        after: dt.datetime,
        until: dt.datetime | None,
        limit: int,
        *,
        strict: bool = False,
        keep: Keep | None = None,
    ) -> list[Entry]:
        """Up to `limit` records created at (unless `strict`) or after `after`."""
        ...

    async def tie(
        self,
        rule: SyncRule,
        at: dt.datetime,
        until: dt.datetime | None,
        keep: Keep | None,
        *,
        after: str,
        limit: int,
    ) -> list[Entry]:
        """Up to `limit` records created exactly at `at` (a crowded second) with an id
        after `after` ("" : from the first), in id order (`id_order`), as `tie` entries."""
        ...

    async def count(self, rule: SyncRule, after: dt.datetime, until: dt.datetime | None) -> int: ...


class QboWindow:
    """The window of a QBO company: `SELECT * … WHERE MetaData.CreateTime >= … ORDERBY
    MetaData.CreateTime MAXRESULTS n` (one query a page; inactive names are left out)."""

    max_page = 1000

    def __init__(self, side: QboSide) -> None:
        self.side = side

    def floor(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(dt.UTC).replace(microsecond=0)

    def _where(self, op: str, at: dt.datetime, until: dt.datetime | None) -> str:
        where = f"{QBO_CREATED} {op} '{qbo_datetime(at)}'"
        if until is not None:
            where += f" AND {QBO_CREATED} <= '{qbo_datetime(until)}'"
        return where

    def _entries(
        self,
        rule: SyncRule,
        rows: Sequence[dict[str, Any]],
        keep: Keep | None,
        *,
        tie: bool = False,
    ) -> list[Entry]:
        out = []
        for row in rows:
            if "Id" not in row:
                continue
            created = datetime_of((row.get("MetaData") or {}).get("CreateTime")) or EPOCH
            wanted = keep is None or keep(str(row["Id"]))
            record = self.side.side_record(rule, row) if wanted else None
            out.append(Entry(str(row["Id"]), created, record, tie))
        return out

    async def query(
        self,
        rule: SyncRule,
        after: dt.datetime,
        until: dt.datetime | None,
        limit: int,
        *,
        strict: bool = False,
        keep: Keep | None = None,
    ) -> list[Entry]:
        entity = ENTITIES[rule.object_pair]
        where = self._where(">" if strict else ">=", after, until)
        statement = f"SELECT * FROM {entity} WHERE {where} ORDERBY {QBO_CREATED} MAXRESULTS {limit}"
        page = await self.side.client.query_page(statement)
        rows = page.get(entity)
        return self._entries(rule, rows if isinstance(rows, list) else [], keep)

    async def tie(
        self,
        rule: SyncRule,
        at: dt.datetime,
        until: dt.datetime | None,
        keep: Keep | None,
        *,
        after: str,
        limit: int,
    ) -> list[Entry]:
        entity = ENTITIES[rule.object_pair]
        where = self._where("=", at, until)
        if after:
            where += f" AND Id > {ql_string(after)}"
        page = await self.side.client.query_page(
            f"SELECT * FROM {entity} WHERE {where} ORDERBY Id MAXRESULTS {limit}"
        )
        rows = page.get(entity)
        return self._entries(rule, rows if isinstance(rows, list) else [], keep, tie=True)

    async def count(self, rule: SyncRule, after: dt.datetime, until: dt.datetime | None) -> int:
        return await self.side.client.count(
            ENTITIES[rule.object_pair], self._where(">=", after, until)
        )


class HubSpotWindow:
    """The window of a HubSpot portal: search on the creation date, ascending, 200 a page
    (never paged with `after`, so the 10,000-result cap of a search never applies)."""

    max_page = 200

    def __init__(self, side: HubSpotSide) -> None:
        self.side = side

    def floor(self, moment: dt.datetime) -> dt.datetime:
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    @staticmethod
    def _ms(moment: dt.datetime) -> str:
        return str(int(moment.timestamp() * 1000))

    def _filters(
        self, rule: SyncRule, op: str, at: dt.datetime, until: dt.datetime | None
    ) -> list[dict[str, Any]]:
        prop = HUBSPOT_CREATED[rule.object_pair]
        filters = [{"propertyName": prop, "operator": op, "value": self._ms(at)}]
        if until is not None:
            filters.append({"propertyName": prop, "operator": "LTE", "value": self._ms(until)})
        return filters

    async def _search(
        self, rule: SyncRule, filters: list[dict[str, Any]], sort: str, limit: int
    ) -> tuple[int, list[HubSpotRecord]]:
        props = [*self.side.properties(rule), HUBSPOT_CREATED[rule.object_pair], "hs_object_id"]
        sorts = [{"propertyName": sort, "direction": "ASCENDING"}]
        total, records, _ = await self.side.client.search_page(
            object_of(rule), [{"filters": filters}], sorts, list(dict.fromkeys(props)), limit=limit
        )
        return total, records

    async def _entries(
        self,
        rule: SyncRule,
        records: Sequence[HubSpotRecord],
        keep: Keep | None,
        *,
        tie: bool = False,
    ) -> list[Entry]:
        wanted = [r for r in records if keep is None or keep(r.id)]
        if rule.object_pair is ObjectPair.INVOICES_INVOICES:
            decoded = [
                self.side.side_record(rule, r, lines)
                for r, lines in await self.side.invoices.enrich(wanted)
            ]
        else:
            decoded = [self.side.side_record(rule, r) for r in wanted]
        by_id = {r.ref.id: r for r in decoded}
        prop = HUBSPOT_CREATED[rule.object_pair]
        return [
            Entry(r.id, parse_timestamp(r.get(prop)) or r.created_at or EPOCH, by_id.get(r.id), tie)
            for r in records
        ]

    async def query(
        self,
        rule: SyncRule,
        after: dt.datetime,
        until: dt.datetime | None,
        limit: int,
        *,
        strict: bool = False,
        keep: Keep | None = None,
    ) -> list[Entry]:
        filters = self._filters(rule, "GT" if strict else "GTE", after, until)
        _, records = await self._search(rule, filters, HUBSPOT_CREATED[rule.object_pair], limit)
        return await self._entries(rule, records, keep)

    async def tie(
        self,
        rule: SyncRule,
        at: dt.datetime,
        until: dt.datetime | None,
        keep: Keep | None,
        *,
        after: str,
        limit: int,
    ) -> list[Entry]:
        filters = self._filters(rule, "EQ", at, None)
        if after:
            filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": after})
        _, page = await self._search(rule, filters, "hs_object_id", min(limit, self.max_page))
        return await self._entries(rule, page, keep, tie=True)

    async def count(self, rule: SyncRule, after: dt.datetime, until: dt.datetime | None) -> int:
        total, _ = await self._search(
            rule, self._filters(rule, "GTE", after, until), HUBSPOT_CREATED[rule.object_pair], 1
        )
        return total


class LoadedWindow:
    """Any other `SidePort`: its whole `read_changes(None)`, read once, sorted by creation
    (the window filter's property, else `updated_at`). Not streamed: for in-memory fakes."""

    max_page = 1000

    def __init__(self, port: SidePort, refs: RefIndex) -> None:
        self.port = port
        self.refs = refs
        self.entries: list[Entry] | None = None

    def floor(self, moment: dt.datetime) -> dt.datetime:
        return moment

    async def _all(self, rule: SyncRule, until: dt.datetime | None) -> list[Entry]:
        if self.entries is None:
            found = await self.port.read_changes(rule, None, self.refs)
            prop = HUBSPOT_CREATED[rule.object_pair] if self.port.system is H else QBO_CREATED
            entries = [
                Entry(r.ref.id, _created(r, prop), r) for r in found.records if not r.deleted
            ]
            self.entries = sorted(entries, key=lambda e: (e.created, id_order(e.id)))
        return [e for e in self.entries if until is None or e.created <= until]

    async def query(
        self,
        rule: SyncRule,
        after: dt.datetime,
        until: dt.datetime | None,
        limit: int,
        *,
        strict: bool = False,
        keep: Keep | None = None,
    ) -> list[Entry]:
        rows = [
            e
            for e in await self._all(rule, until)
            if e.created > after or (not strict and e.created == after)
        ]
        return rows[:limit]

    async def tie(
        self,
        rule: SyncRule,
        at: dt.datetime,
        until: dt.datetime | None,
        keep: Keep | None,
        *,
        after: str,
        limit: int,
    ) -> list[Entry]:
        start = id_order(after) if after else None
        found = [
            dataclasses.replace(e, tie=True)
            for e in await self._all(rule, until)
            if e.created == at and (start is None or id_order(e.id) > start)
        ]
        return found[:limit]

    async def count(self, rule: SyncRule, after: dt.datetime, until: dt.datetime | None) -> int:
        return len([e for e in await self._all(rule, until) if e.created >= after])


def _created(record: SideRecord, prop: str) -> dt.datetime:
    value = property_value(record, prop)
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str | int) and value:
        with contextlib.suppress(ValueError):
            return parse_timestamp(value) or record.updated_at
    return record.updated_at


def connector_of(port: SidePort) -> QboSide | HubSpotSide | None:
    """The connector side under `port` and any wrappers (`inner` attributes)."""
    seen: object = port
    for _ in range(10):
        if isinstance(seen, QboSide | HubSpotSide):
            return seen
        seen = getattr(seen, "inner", None)
        if seen is None:
            return None
    return None


def reader_for(port: SidePort, refs: RefIndex | None = None) -> WindowReader:
    found = connector_of(port)
    if isinstance(found, QboSide):
        return QboWindow(found)
    if isinstance(found, HubSpotSide):
        return HubSpotWindow(found)
    return LoadedWindow(port, refs or RefIndex())


async def read_page(
    reader: WindowReader,
    rule: SyncRule,
    position: Position,
    until: dt.datetime | None,
    limit: int | None,
    keep: Keep | None = None,
) -> list[Entry]:
    """The next records after `position`, in creation order: about `limit` of them (the
    rows read count, skipped ones too, so a page of `max_page` is one request), all of
    them when `limit` is None."""
    got: list[Entry] = []
    remaining = limit
    pos = position
    while remaining is None or remaining > 0 or not got:
        room = reader.max_page if remaining is None else max(remaining, 1)
        want = min(reader.max_page, room + len(pos.skip))
        if pos.tie is not None:  # a crowded second, walked in id order, a page at a time
            rows = await reader.tie(rule, pos.bound, until, keep, after=pos.tie, limit=want)
            got += [e for e in rows if e.id not in pos.skip]
            if len(rows) < want:  # the second is done: go on after it
                pos = Position(pos.bound, past=True)
            else:
                pos = Position(pos.bound, pos.skip, tie=rows[-1].id)
        else:
            rows = await reader.query(rule, pos.bound, until, want, strict=pos.past, keep=keep)
            new = [e for e in rows if e.id not in pos.skip]
            if not new and len(rows) == want:  # a full page done already at `bound`: more
                pos = Position(pos.bound, pos.skip, tie="")  # than a page share that second
                continue
            got += new
            if len(rows) < want:
                break
            pos = pos.after(new, reader.floor)
        if remaining is not None:
            remaining -= len(rows)
    return got


async def stream(
    reader: WindowReader,
    rule: SyncRule,
    position: Position,
    until: dt.datetime | None,
    page: int,
    keep: Keep | None = None,
) -> AsyncIterator[list[Entry]]:
    """The whole window after `position`, one page at a time."""
    while True:
        entries = await read_page(reader, rule, position, until, page, keep)
        if not entries:
            return
        yield entries
        position = position.after(entries, reader.floor)


# ---- the engine's view ----


@dataclass(slots=True)
class _Prefetch:
    start: Position
    task: asyncio.Task[list[Entry]]
    read_at: dt.datetime | None = None


class WindowedSide:
    """A `SidePort` whose `read_changes` serves the next page of the backfill window
    (the engine's cursor is ignored: the position lives here and in `BackfillState`)."""

    def __init__(
        self,
        inner: SidePort,
        reader: WindowReader,
        position: Position,
        *,
        until: dt.datetime | None,
        batch_size: int | None,
        hide: Collection[str] = (),
        clock: Callable[[], dt.datetime] = utc_now,
        fresh_for: dt.timedelta = FRESH_FOR,
        prefetch: bool = True,
    ) -> None:
        self.inner = inner
        self.reader = reader
        self.position = position
        self.until = until
        self.batch_size = batch_size
        self.hide = set(hide)
        self.clock = clock
        self.fresh_for = fresh_for
        self.prefetch = prefetch and batch_size is not None
        self.batch: list[Entry] | None = None
        """The page served and not yet committed."""
        self.served = 0
        self.reads = 0
        """Pages read for the engine (prefetched or not), re-reads included."""
        self._next: _Prefetch | None = None

    @property
    def system(self) -> System:
        return self.inner.system

    async def _read(self, rule: SyncRule, position: Position) -> list[Entry]:
        self.reads += 1
        return await read_page(self.reader, rule, position, self.until, self.batch_size)

    async def _take(self, rule: SyncRule) -> list[Entry]:
        ahead, self._next = self._next, None
        if ahead is None or ahead.start != self.position:
            await _cancel(ahead)
            return await self._read(rule, self.position)
        page = await ahead.task
        read_at = ahead.read_at or self.clock()
        if self.clock() - read_at > self.fresh_for:
            return await self._read(rule, self.position)  # too old: read it again, once
        return page

    async def read_changes(
        self, rule: SyncRule, since: dt.datetime | None, refs: RefIndex
    ) -> Changes:
        page = await self._take(rule)
        self.batch, self.served = page, len(page)
        if self.prefetch and page:
            start = self.position.after(page, self.reader.floor)
            self._next = _Prefetch(start, asyncio.create_task(self._prefetched(rule, start)))
        records = [
            e.record
            for e in page
            if e.record is not None and not e.record.deleted and e.id not in self.hide
        ]
        return Changes(records, None)

    async def _prefetched(self, rule: SyncRule, start: Position) -> list[Entry]:
        page = await self._read(rule, start)
        if self._next is not None and self._next.start == start:
            self._next.read_at = self.clock()
        return page

    def position_after(self, held: Collection[str]) -> Position:
        """Where the next batch starts: after the served page, or at its first held record."""
        page = self.batch or []
        stop = next((n for n, e in enumerate(page) if e.id in held), len(page))
        return self.position.after(page[:stop], self.reader.floor)

    async def committed(self, rule: SyncRule, position: Position, touched: Collection[str]) -> None:
        """The served page is recorded: go on from `position`. Records of the prefetched
        page that this batch linked or wrote are read again (their read may predate it)."""
        self.position, self.batch = position, None
        ahead = self._next
        if ahead is None or ahead.start != position or not touched:
            return
        page = await ahead.task
        stale = [e.id for e in page if e.id in touched and e.record is not None]
        if stale:
            fresh = {r.ref.id: r for r in await self.inner.read_records(rule, stale, RefIndex())}
            page = [Entry(e.id, e.created, fresh.get(e.id)) if e.id in fresh else e for e in page]
            done: asyncio.Future[list[Entry]] = asyncio.get_running_loop().create_future()
            done.set_result(page)
            self._next = _Prefetch(ahead.start, asyncio.ensure_future(done), ahead.read_at)

    async def aclose(self) -> None:
        ahead, self._next = self._next, None
        await _cancel(ahead)

    async def read_records(
        self, rule: SyncRule, ids: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        return await self.inner.read_records(rule, ids, refs)

    async def find_candidates(
        self, rule: SyncRule, keys: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        return await self.inner.find_candidates(rule, keys, refs)

    async def display_names(self) -> frozenset[str]:
        return await self.inner.display_names()

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        return await self.inner.apply(rule, actions, refs)


async def _cancel(ahead: _Prefetch | None) -> None:
    if ahead is None:
        return
    ahead.task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await ahead.task


def progress_key(name: str) -> str:
    return f"backfill:{name}"


class BackfillState:
    """A `StatePort` that serves the backfill rule and keeps the backfill's positions."""

    def __init__(
        self, store: Store, connection_id: int, rule: SyncRule, name: str, since: dt.date
    ) -> None:
        self.store = store
        self.connection_id = connection_id
        self.rule = rule
        self.key = progress_key(name)
        self.since = since
        self.positions: dict[System, Position] = {}
        self.windows: dict[System, WindowedSide] = {}
        with store.begin() as tx:
            for side in System:
                raw = tx.get_cursor(connection_id, side, self.key)
                saved = json.loads(raw) if raw else {}
                if saved.get("since") == since.isoformat():
                    found = Position.from_json(saved)
                    if found is not None:
                        self.positions[side] = found

    def position(self, side: System) -> Position:
        return self.positions.get(side, Position(window_start(self.since)))

    async def load_rules(self) -> list[SyncRule]:
        return [self.rule]

    async def load_links(self) -> list[Link]:
        with self.store.begin() as tx:
            return load_sync_links(tx, self.connection_id)

    async def load_links_for(
        self,
        object_type: ObjectPair,
        hubspot_ids: Collection[str] = (),
        qbo_ids: Collection[str] = (),
        keys: Collection[str] = (),
    ) -> list[Link]:
        with self.store.begin() as tx:
            return load_sync_links_for(
                tx, self.connection_id, object_type, hubspot_ids, qbo_ids, keys
            )

    async def load_refs(self) -> RefIndex:
        with self.store.begin() as tx:
            return load_ref_index(tx, self.connection_id)

    async def get_cursor(self, side: System, object_type: ObjectPair) -> dt.datetime | None:
        return self.position(side).bound

    async def commit(self, commit: Commit) -> None:
        tagged = [
            ActivityEntry(
                a.ref, a.direction, a.operation, a.outcome, {**a.details, "via": "backfill"}
            )
            for a in commit.activity
        ]
        body = Commit(commit.object_type, commit.links, commit.records, tagged)
        served = {s: w for s, w in self.windows.items() if w.batch is not None}
        held = {o.ref for o in commit.records if o.status == "pending"}
        moved = {
            s: w.position_after({r.id for r in held if r.system is s}) for s, w in served.items()
        }
        with self.store.begin() as tx:
            write_commit(tx, self.connection_id, body)
            for side, position in sorted(moved.items()):
                value = {"since": self.since.isoformat(), **position.as_json()}
                tx.set_cursor(self.connection_id, side, self.key, json.dumps(value))
        self.positions.update(moved)
        for side, position in moved.items():
            touched = {x.id_on(side) for x in commit.links}
            await served[side].committed(self.rule, position, touched)

    async def mark_needs_reauth(self, detail: str) -> None:
        with self.store.begin() as tx:
            tx.update_connection(
                self.connection_id, status=ConnectionStatus.NEEDS_REAUTH, status_detail=detail
            )


@dataclass(slots=True)
class BackfillResult:
    name: str
    since: dt.date
    dry_run: bool
    report: PassReport
    matched: list[tuple[str, str, str]] = field(default_factory=list)
    """Invoices linked (or, in a dry run, to be linked) by key: (HubSpot id, QBO id, key)."""
    passes: int = 0
    complete: bool = False
    stopped: str | None = None
    reads: int = 0
    """Window pages read for the engine (prefetched and re-read ones included)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.name,
            "since": self.since.isoformat(),
            "dry_run": self.dry_run,
            "complete": self.complete,
            "stopped": self.stopped,
            "passes": self.passes,
            "matched": [{"hubspot": h, "qbo": q, "key": k} for h, q, k in self.matched],
            "report": self.report.as_dict(),
        }


Progress = Callable[[int, int], None]


def _stored_rule(store: Store, connection_id: int, pair: ObjectPair) -> SyncRule:
    with store.begin() as tx:
        rules = {r.object_pair: r for r in load_rules(tx, connection_id)}
    rule = rules.get(pair)
    if rule is None:
        raise BackfillError(f"no {pair.value} rule is set up for connection {connection_id}")
    if not rule.enabled:
        raise BackfillError(f"the {pair.value} rule is turned off; turn it on to backfill")
    return rule


async def _key_index(
    reader: WindowReader,
    rule: SyncRule,
    side: System,
    linked: set[str],
    refs: RefIndex,
    until: dt.datetime | None,
    page: int,
    wanted: Collection[str] | None = None,
) -> dict[str, list[tuple[str, bool]]]:
    """Invoice key → [(id, in the window)] of `side`'s live unlinked invoices (only keys
    in `wanted`, when given), streamed: only the keys stay in memory."""
    window = window_of(rule, side)
    index: dict[str, list[tuple[str, bool]]] = {}
    async for entries in stream(
        reader, rule, Position(EPOCH), until, page, keep=lambda i: i not in linked
    ):
        for entry in entries:
            record = entry.record
            if record is None or record.deleted:
                continue
            key = invoice_key(rule, record, refs)
            if key is not None and (wanted is None or key in wanted):
                inside = window is not None and passes(window, record)
                index.setdefault(key, []).append((entry.id, inside))
    return index


async def _match_existing(
    rule: SyncRule,
    state: BackfillState,
    sides: dict[System, SidePort],
    readers: dict[System, WindowReader],
    until: dt.datetime | None,
    dry_run: bool,
    page: int,
) -> list[tuple[str, str, str]]:
    """Invoices that exist on both sides unlinked, one to one by key, at least one of
    them in the window: link them (as `sync.reconcile.pair_unlinked` would). The side that
    is not the only source is indexed first (often empty: then the other is not read)."""
    links = [x for x in await state.load_links() if x.object_type is rule.object_pair]
    refs = RefIndex.from_links(await state.load_links())
    linked = {H: {x.hubspot_id for x in links}, Q: {x.qbo_id for x in links}}
    first = Q if rule.direction.sources == {H} else H
    mine = await _key_index(readers[first], rule, first, linked[first], refs, until, page)
    if not mine:
        return []
    theirs = await _key_index(
        readers[first.other], rule, first.other, linked[first.other], refs, until, page, mine
    )
    found: list[tuple[str, str, str]] = []
    for key, ours in mine.items():
        others = theirs.get(key, [])
        if len(ours) == 1 and len(others) == 1 and (ours[0][1] or others[0][1]):
            ids = {first: ours[0][0], first.other: others[0][0]}
            found.append((ids[H], ids[Q], key))
    found.sort()
    if dry_run:
        return found
    for start in range(0, len(found), LINK_CHUNK):
        chunk = found[start : start + LINK_CHUNK]
        got = {
            s: {r.ref.id: r for r in await sides[s].read_records(rule, [c[n] for c in chunk], refs)}
            for n, s in enumerate((H, Q))
        }
        pairs = [(got[H][h], got[Q][q], k) for h, q, k in chunk if h in got[H] and q in got[Q]]
        await state.commit(
            Commit(
                rule.object_pair,
                links=[link_as_is(rule, h, q, refs) for h, q, _ in pairs],
                records=[RecordOutcome(r.ref, "synced") for h, q, _ in pairs for r in (h, q)],
                activity=[
                    ActivityEntry(h.ref, "none", "link", "ok", {"matched_on": k, "qbo": q.ref.id})
                    for h, q, k in pairs
                ],
            )
        )
    return found


def _add(total: PassReport, report: PassReport, pair: ObjectPair, keep_actions: bool) -> None:
    if pair not in report.pairs:
        return
    mine, theirs = total.pair(pair), report.pairs[pair]
    for name in (*COUNTERS, "pending"):
        setattr(mine, name, mine.count(name) + theirs.count(name))
    mine.error = theirs.error or mine.error
    if keep_actions:
        mine.actions.extend(theirs.actions)


async def backfill_ports(
    store: Store,
    connection_id: int,
    *,
    hubspot: SidePort,
    qbo: SidePort,
    name: str,
    since: dt.date,
    dry_run: bool = False,
    batch_size: int = 100,
    progress: Progress | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    fresh_for: dt.timedelta = FRESH_FOR,
) -> BackfillResult:
    """Backfill object `name` (contacts, products, invoices) created on or after `since`."""
    pair = OBJECTS.get(name)
    if pair is None:
        raise BackfillError(f"cannot backfill {name!r}; choose one of {', '.join(OBJECTS)}")
    if batch_size < 1:
        raise BackfillError("the batch size must be at least 1")
    rule = backfill_rule(_stored_rule(store, connection_id, pair), since)
    state = BackfillState(store, connection_id, rule, name, since)
    result = BackfillResult(name, since, dry_run, PassReport(dry_run=dry_run))
    until = clock()
    ports: dict[System, SidePort] = {H: hubspot, Q: qbo}
    readers = {s: reader_for(port) for s, port in ports.items()}
    hide: dict[System, set[str]] = {H: set(), Q: set()}
    if pair is ObjectPair.INVOICES_INVOICES:
        found = await _match_existing(rule, state, ports, readers, until, dry_run, batch_size)
        result.matched = found
        if dry_run:  # not linked yet: keep the engine from planning them as new
            hide = {H: {h for h, _, _ in found}, Q: {q for _, q, _ in found}}
    sources = sorted(rule.direction.sources)
    sides = {
        s: WindowedSide(
            ports[s],
            readers[s],
            state.position(s),
            until=until,
            batch_size=None if dry_run else batch_size,
            hide=hide[s],
            clock=clock,
            fresh_for=fresh_for,
        )
        for s in System
    }
    state.windows = {s: sides[s] for s in sources}
    engine = SyncEngine(hubspot=sides[H], qbo=sides[Q], state=state, clock=clock)
    total = 0
    if progress is not None:
        for s in sources:
            total += await readers[s].count(rule, state.position(s).bound, until)
    done = 0
    try:
        while True:
            before = dict(state.positions)
            report = await engine.run_pass(dry_run=dry_run, only={pair})
            result.passes += 1
            _add(result.report, report, pair, keep_actions=dry_run)
            served = sum(sides[s].served for s in sources)
            done += served
            if progress is not None:
                total = max(total, done)
                progress(done, total)
            error = report.pairs[pair].error if pair in report.pairs else None
            if report.stopped or error:
                result.stopped = report.stopped or error
                break
            if dry_run or served == 0:
                result.complete = True
                break
            if state.positions == before:
                result.stopped = "no progress: some records wait for a retry (run again later)"
                break
            for s in sources:
                sides[s].served = 0
    finally:
        for side in sides.values():
            await side.aclose()
        result.reads = sum(s.reads for s in sides.values())
    return result


def enabled_objects(store: Store, connection_id: int) -> list[str]:
    """The objects whose rule is set up and on, in dependency order."""
    with store.begin() as tx:
        rules = {r.object_pair: r for r in load_rules(tx, connection_id)}
    return [n for n, p in OBJECTS.items() if (r := rules.get(p)) is not None and r.enabled]


async def backfill_all(
    store: Store,
    connection_id: int,
    *,
    hubspot: SidePort,
    qbo: SidePort,
    since: dt.date,
    names: Sequence[str] | None = None,
    dry_run: bool = False,
    batch_size: int = 100,
    progress: Callable[[str], Progress | None] | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> list[BackfillResult]:
    """Backfill several objects in dependency order (contacts, products, invoices; all
    whose rule is on when `names` is None). Stops after the first one that does not
    complete: invoices need their customers and items linked first."""
    chosen = enabled_objects(store, connection_id) if names is None else list(names)
    if not chosen:
        raise BackfillError(f"no rule is set up and on for connection {connection_id}")
    unknown = [n for n in chosen if n not in OBJECTS]
    if unknown:
        raise BackfillError(f"cannot backfill {unknown[0]!r}; choose one of {', '.join(OBJECTS)}")
    results: list[BackfillResult] = []
    for name in (n for n in OBJECTS if n in chosen):
        result = await backfill_ports(
            store,
            connection_id,
            hubspot=hubspot,
            qbo=qbo,
            name=name,
            since=since,
            dry_run=dry_run,
            batch_size=batch_size,
            progress=progress(name) if progress is not None else None,
            clock=clock,
        )
        results.append(result)
        if not result.complete:
            break
    return results
