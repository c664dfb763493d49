"""Historical backfill (R-INV-3 Beyond): sync records created before the sync started.

`backfill_ports` runs the unchanged `SyncEngine` (its writes stay idempotent, recorded
and audited) over three wrappers: `backfill_rule` (the stored rule minus its time
filters, e.g. R-INV-2's "after the sync started", plus "created on or after `since`"
per source side); `WindowedSide` (a `SidePort` that reads the window once and serves
it in batches in modification order, each batch re-read fresh; look-ups go to the
real side); `BackfillState` (a `StatePort` keeping the backfill's own cursor rows under
`backfill:<object>`, written in each batch's transaction, activity tagged
`"via": "backfill"`). A later run with the same `since` resumes after the last
committed batch; a batch cut by a crash is re-planned and its writes replay
idempotently. Existing counterparts are linked, not duplicated: contacts / products by
the engine's email / SKU matching, invoices by number + customer + date + amount
(`sync.reconcile.pair_unlinked`) before the first batch. `dry_run` writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.domain import System
from ledgerbridge.runtime.store_state import load_rules, load_sync_links, write_commit
from ledgerbridge.store import ConnectionStatus, Store
from ledgerbridge.sync.engine import SyncEngine, utc_now
from ledgerbridge.sync.filters import passes
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
from ledgerbridge.sync.reconcile import link_as_is, pair_unlinked
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


class BackfillError(ValueError):
    """The backfill cannot run (no rule, rule turned off, bad date)."""


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


class WindowedSide:
    """A `SidePort` whose `read_changes` serves the backfill window in batches."""

    def __init__(
        self,
        inner: SidePort,
        window: Filter | None,
        batch_size: int | None,
        hide: Collection[str] = (),
    ) -> None:
        self.inner = inner
        self.window = window
        self.batch_size = batch_size
        self.hide = set(hide)
        self.cache: list[SideRecord] | None = None
        self.served = 0
        self.pending = 0

    @property
    def system(self) -> System:
        return self.inner.system

    async def read_changes(
        self, rule: SyncRule, since: dt.datetime | None, refs: RefIndex
    ) -> Changes:
        if self.cache is None:
            found = await self.inner.read_changes(rule, since, refs)
            self.cache = sorted(
                (r for r in found.records if self._wanted(r)),
                key=lambda r: (r.updated_at, r.ref.id),
            )
        todo = [r for r in self.cache if since is None or r.updated_at > since]
        batch = todo if self.batch_size is None else todo[: self.batch_size]
        if batch and len(batch) < len(todo):  # never split one timestamp across batches
            last = batch[-1].updated_at
            batch += [r for r in todo[len(batch) :] if r.updated_at == last]
        self.served, self.pending = len(batch), len(todo) - len(batch)
        if not batch:
            return Changes([], since)
        fresh = {
            r.ref.id: r
            for r in await self.inner.read_records(rule, [r.ref.id for r in batch], refs)
        }
        records = [fresh[r.ref.id] for r in batch if r.ref.id in fresh]
        return Changes([r for r in records if not r.deleted], batch[-1].updated_at)

    def _wanted(self, record: SideRecord) -> bool:
        if record.deleted or record.ref.id in self.hide:
            return False
        return self.window is None or passes(self.window, record)

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


def progress_key(name: str) -> str:
    return f"backfill:{name}"


class BackfillState:
    """A `StatePort` that serves the backfill rule and keeps the backfill's own cursors."""

    def __init__(
        self, store: Store, connection_id: int, rule: SyncRule, name: str, since: dt.date
    ) -> None:
        self.store = store
        self.connection_id = connection_id
        self.rule = rule
        self.key = progress_key(name)
        self.since = since
        self.cursors: dict[System, dt.datetime] = {}
        with store.begin() as tx:
            for side in System:
                raw = tx.get_cursor(connection_id, side, self.key)
                saved = json.loads(raw) if raw else {}
                if saved.get("since") == since.isoformat():
                    self.cursors[side] = dt.datetime.fromisoformat(saved["cursor"])

    async def load_rules(self) -> list[SyncRule]:
        return [self.rule]

    async def load_links(self) -> list[Link]:
        with self.store.begin() as tx:
            return load_sync_links(tx, self.connection_id)

    async def get_cursor(self, side: System, object_type: ObjectPair) -> dt.datetime | None:
        return self.cursors.get(side, window_start(self.since) - EDGE)

    async def commit(self, commit: Commit) -> None:
        tagged = [
            ActivityEntry(
                a.ref, a.direction, a.operation, a.outcome, {**a.details, "via": "backfill"}
            )
            for a in commit.activity
        ]
        body = Commit(commit.object_type, commit.links, commit.records, tagged)
        with self.store.begin() as tx:
            write_commit(tx, self.connection_id, body)
            for side, cursor in sorted(commit.cursors.items()):
                value = {"since": self.since.isoformat(), "cursor": cursor.isoformat()}
                tx.set_cursor(self.connection_id, side, self.key, json.dumps(value))
                self.cursors[side] = cursor

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


async def _match_existing(
    rule: SyncRule, state: BackfillState, hubspot: SidePort, qbo: SidePort, dry_run: bool
) -> list[tuple[SideRecord, SideRecord, str]]:
    """Invoices in the window that exist on both sides unlinked: link them (by key)."""
    links = await state.load_links()
    refs = RefIndex.from_links(links)
    hs = await hubspot.read_changes(rule, None, refs)
    qb = await qbo.read_changes(rule, None, refs)
    windows = [w for w in (window_of(rule, s) for s in System) if w is not None]
    pairs = [
        (h, q, key)
        for h, q, key in pair_unlinked(rule, links, hs.records, qb.records, refs)
        if any(passes(w, r) for w in windows for r in (h, q) if w.source is r.system)
    ]
    if pairs and not dry_run:
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
    return pairs


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
    hide: dict[System, set[str]] = {H: set(), Q: set()}
    if pair is ObjectPair.INVOICES_INVOICES:
        found = await _match_existing(rule, state, hubspot, qbo, dry_run)
        result.matched = [(h.ref.id, q.ref.id, key) for h, q, key in found]
        if dry_run:  # not linked yet: keep the engine from planning them as new
            hide = {H: {h.ref.id for h, _, _ in found}, Q: {q.ref.id for _, q, _ in found}}
    windows = {s: window_of(rule, s) for s in System}
    sides = {
        s: WindowedSide(port, windows[s], None if dry_run else batch_size, hide[s])
        for s, port in ((H, hubspot), (Q, qbo))
    }
    engine = SyncEngine(hubspot=sides[H], qbo=sides[Q], state=state, clock=clock)
    done = 0
    while True:
        before = dict(state.cursors)
        report = await engine.run_pass(dry_run=dry_run, only={pair})
        result.passes += 1
        _add(result.report, report, pair, keep_actions=dry_run)
        served = sum(s.served for s in sides.values())
        pending = sum(s.pending for s in sides.values())
        done += served
        if progress is not None:
            progress(done, done + pending)
        error = report.pairs[pair].error if pair in report.pairs else None
        if report.stopped or error:
            result.stopped = report.stopped or error
            break
        if dry_run or served == 0:
            result.complete = True
            break
        if state.cursors == before:
            result.stopped = "no progress: some records wait for a retry (run again later)"
            break
    return result
