"""The engine's state port (`sync.ports.StatePort`) on the store.

Rules are stored as the JSON of `SyncRule` (`save_rule`); links as `LinkRow`s
(payment links under object type `payments`, see `sync.payments`); cursors as
ISO-8601 UTC datetimes. `commit` writes one rule's pass in one
transaction: links, sync records and activity first, then the cursors.
Store calls run in a worker thread so that a pass never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Collection, Sequence

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.store import ConnectionStatus, LinkRow, RecordStatus, Store, Tx, retries
from ledgerbridge.store.repository import ActivityRowIn, RecordStatusEntry
from ledgerbridge.sync.defaults import MATCH_FIELD
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.match import match_key
from ledgerbridge.sync.model import PAYMENTS, Link, LinkType, RefIndex
from ledgerbridge.sync.payments import PaymentState
from ledgerbridge.sync.ports import Commit, RecordOutcome
from ledgerbridge.sync.rules import ObjectPair, SyncRule


def save_rule(tx: Tx, connection_id: int, rule: SyncRule) -> None:
    """Store `rule` (create or edit; R-CON-4: `enabled` turns it off and on)."""
    config = rule.model_dump(mode="json", exclude={"id"})
    tx.save_rule(connection_id, rule.object_pair.value, config, enabled=rule.enabled)


def load_rules(tx: Tx, connection_id: int) -> list[SyncRule]:
    rules: list[SyncRule] = []
    for row in tx.list_rules(connection_id):
        rule = SyncRule.model_validate({**row.config, "id": str(row.id)})
        started = rule.sync_started_at or row.updated_at
        rules.append(rule.model_copy(update={"enabled": row.enabled, "sync_started_at": started}))
    return rules


def link_from_row(row: LinkRow) -> Link:
    """A stored link: of an object pair, or of payments (`object_type` "payments")."""
    kind: LinkType = PAYMENTS if row.object_type == PAYMENTS else ObjectPair(row.object_type)
    return Link(
        kind,
        row.hubspot_id,
        row.qbo_id,
        row.hubspot_version,
        row.qbo_version,
        row.hubspot_hash or "",
        row.qbo_hash or "",
        dict(row.base),
        System(row.origin) if row.origin else None,
    )


PAIRS = frozenset(p.value for p in ObjectPair)


def load_sync_links(tx: Tx, connection_id: int) -> list[Link]:
    """The links of the three object pairs (payment links are loaded on their own)."""
    return [link_from_row(r) for r in tx.list_links(connection_id) if r.object_type in PAIRS]


REF_PAIRS = (ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS)


def load_sync_links_for(
    tx: Tx,
    connection_id: int,
    object_type: ObjectPair,
    hubspot_ids: Collection[str] = (),
    qbo_ids: Collection[str] = (),
    keys: Collection[str] = (),
) -> list[Link]:
    """The links of `object_type` with one of these ids, or whose base snapshot's match
    key (`sync.match.match_key`) is one of `keys` (see `StatePort.load_links_for`)."""
    hubspot = set(hubspot_ids)
    name = MATCH_FIELD.get(object_type)
    if keys and name is not None:
        wanted = set(keys)
        hubspot.update(
            h
            for h, _, value in tx.link_base_values(connection_id, object_type.value, name)
            if match_key(object_type, {name: value}) in wanted
        )
    if not hubspot and not qbo_ids:
        return []
    rows = tx.find_links(connection_id, object_type.value, hubspot_ids=hubspot, qbo_ids=qbo_ids)
    return [link_from_row(r) for r in rows]


def load_link_ids(store: Store, connection_id: int, pair: ObjectPair) -> list[tuple[str, str]]:
    """(HubSpot id, QBO id) of the links of `pair`, without their snapshots."""
    with store.begin() as tx:
        return [(h, q) for _, h, q in tx.link_id_pairs(connection_id, [pair.value])]


def load_ref_index(tx: Tx, connection_id: int) -> RefIndex:
    """The cross-pair references (contacts, products) from the link ids alone."""
    pairs = tx.link_id_pairs(connection_id, [p.value for p in REF_PAIRS])
    contacts = {h: q for t, h, q in pairs if t == ObjectPair.CONTACTS_CUSTOMERS.value}
    products = {h: q for t, h, q in pairs if t == ObjectPair.PRODUCTS_ITEMS.value}
    return RefIndex(contacts, products)


def row_from_link(connection_id: int, link: Link) -> LinkRow:
    return LinkRow(
        connection_id=connection_id,
        object_type=link.type_value,
        hubspot_id=link.hubspot_id,
        qbo_id=link.qbo_id,
        hubspot_version=link.hubspot_version,
        qbo_version=link.qbo_version,
        hubspot_hash=link.hubspot_hash,
        qbo_hash=link.qbo_hash,
        base=dict(link.base),
        origin=link.origin.value if link.origin else None,
    )


def write_commit(
    tx: Tx, connection_id: int, commit: Commit, now: dt.datetime | None = None
) -> None:
    """Record one rule's pass; `now` (the store's clock) also schedules the retries of
    its failed records (`store.retries`)."""
    kind = commit.object_type.value
    rows = [row_from_link(connection_id, link) for link in commit.links]
    rows += [row_from_link(connection_id, payment) for payment in commit.payment_links]
    last = {(r.object_type, r.hubspot_id): r for r in rows}  # the last write of a pair wins
    tx.save_links(list(last.values()))
    tx.set_record_statuses(
        connection_id,
        [
            RecordStatusEntry(
                outcome.object_type or kind,
                outcome.ref.system,
                outcome.ref.id,
                RecordStatus(outcome.status),
                label=outcome.label,
                error_category=outcome.category.value if outcome.category else None,
                detail=outcome.detail,
                excluded_by=outcome.excluded_by,
            )
            for outcome in _last_per_record(commit.records, kind)
        ],
    )
    if now is not None:
        retries.schedule(
            tx,
            connection_id,
            (
                (o.object_type or kind, o.ref.system, o.ref.id, o.status)
                for o in _last_per_record(commit.records, kind)
            ),
            now,
        )
    tx.append_activities(
        connection_id,
        [
            ActivityRowIn(
                entry.object_type or kind,
                entry.ref.system,
                entry.ref.id,
                entry.direction,
                entry.operation,
                entry.outcome,
                entry.details,
            )
            for entry in commit.activity
        ],
    )
    for side, cursor in sorted(commit.cursors.items()):
        tx.set_cursor(connection_id, side, kind, cursor.astimezone(dt.UTC).isoformat())
    for side, cursor in sorted(commit.payment_cursors.items()):
        tx.set_cursor(connection_id, side, PAYMENTS, cursor.astimezone(dt.UTC).isoformat())


def _last_per_record(records: Sequence[RecordOutcome], kind: str) -> list[RecordOutcome]:
    """One outcome per record (the last), as the one-by-one writes left it: one
    INSERT … ON CONFLICT statement may not touch the same row twice."""
    last: dict[tuple[str, str, str], RecordOutcome] = {}
    for outcome in records:
        key = (outcome.object_type or kind, outcome.ref.system.value, outcome.ref.id)
        last.pop(key, None)
        last[key] = outcome
    return list(last.values())


class StoreState:
    """`StatePort` of one stored connection."""

    def __init__(self, store: Store, connection_id: int) -> None:
        self.store = store
        self.connection_id = connection_id

    def _load_rules(self) -> list[SyncRule]:
        with self.store.begin() as tx:
            return load_rules(tx, self.connection_id)

    def _load_links(self) -> list[Link]:
        with self.store.begin() as tx:
            return load_sync_links(tx, self.connection_id)

    def _load_links_for(
        self,
        object_type: ObjectPair,
        hubspot_ids: Collection[str],
        qbo_ids: Collection[str],
        keys: Collection[str],
    ) -> list[Link]:
        with self.store.begin() as tx:
            return load_sync_links_for(
                tx, self.connection_id, object_type, hubspot_ids, qbo_ids, keys
            )

    def _load_refs(self) -> RefIndex:
        with self.store.begin() as tx:
            return load_ref_index(tx, self.connection_id)

    def _load_payment_links(self) -> list[Link]:
        with self.store.begin() as tx:
            rows = tx.list_links(self.connection_id, PAYMENTS)
        return [link_from_row(r) for r in rows]

    def _get_payment_cursor(self, side: System) -> dt.datetime | None:
        with self.store.begin() as tx:
            value = tx.get_cursor(self.connection_id, side, PAYMENTS)
        return dt.datetime.fromisoformat(value) if value else None

    def _get_cursor(self, side: System, object_type: ObjectPair) -> dt.datetime | None:
        with self.store.begin() as tx:
            value = tx.get_cursor(self.connection_id, side, object_type.value)
        return dt.datetime.fromisoformat(value) if value else None

    def _commit(self, commit: Commit) -> None:
        with self.store.begin() as tx:
            write_commit(tx, self.connection_id, commit, self.store.clock())

    # -- the retry schedule (`sync.healing.RetryState`) --

    def _due_failures(self, object_type: ObjectPair, now: dt.datetime) -> list[RecordRef]:
        with self.store.begin() as tx:
            due = retries.due_failures(tx, self.connection_id, object_type.value, now)
        return [RecordRef(side, record_id) for side, record_id in due]

    def _failed_among(self, object_type: ObjectPair, refs: Collection[RecordRef]) -> set[RecordRef]:
        keys = [(ref.system, ref.id) for ref in refs]
        with self.store.begin() as tx:
            failed = retries.failed_records(tx, self.connection_id, object_type.value, keys)
        return {RecordRef(side, record_id) for side, record_id in failed}

    def _retry_dependents(self, object_type: ObjectPair, category: ErrorCategory) -> int:
        with self.store.begin() as tx:
            return retries.request_retry(
                tx, self.connection_id, object_type=object_type.value, error_category=category
            )

    async def due_failures(self, object_type: ObjectPair, now: dt.datetime) -> list[RecordRef]:
        return await asyncio.to_thread(self._due_failures, object_type, now)

    async def failed_among(
        self, object_type: ObjectPair, refs: Collection[RecordRef]
    ) -> set[RecordRef]:
        if not refs:
            return set()
        return await asyncio.to_thread(self._failed_among, object_type, refs)

    async def retry_dependents(self, object_type: ObjectPair, category: ErrorCategory) -> int:
        return await asyncio.to_thread(self._retry_dependents, object_type, category)

    def _needs_reauth(self, detail: str) -> None:
        with self.store.begin() as tx:
            tx.update_connection(
                self.connection_id, status=ConnectionStatus.NEEDS_REAUTH, status_detail=detail
            )

    async def load_rules(self) -> list[SyncRule]:
        return await asyncio.to_thread(self._load_rules)

    async def load_links(self) -> list[Link]:
        return await asyncio.to_thread(self._load_links)

    async def load_links_for(
        self,
        object_type: ObjectPair,
        hubspot_ids: Collection[str] = (),
        qbo_ids: Collection[str] = (),
        keys: Collection[str] = (),
    ) -> list[Link]:
        return await asyncio.to_thread(
            self._load_links_for, object_type, hubspot_ids, qbo_ids, keys
        )

    @property
    def payments(self) -> PaymentState:
        """This state keeps the payment links and cursors itself."""
        return self

    async def load_link_ids(self, object_type: ObjectPair) -> list[tuple[str, str]]:
        return await asyncio.to_thread(load_link_ids, self.store, self.connection_id, object_type)

    async def load_refs(self) -> RefIndex:
        return await asyncio.to_thread(self._load_refs)

    async def get_cursor(self, side: System, object_type: ObjectPair) -> dt.datetime | None:
        return await asyncio.to_thread(self._get_cursor, side, object_type)

    async def commit(self, commit: Commit) -> None:
        await asyncio.to_thread(self._commit, commit)

    async def load_payment_links(self) -> list[Link]:
        return await asyncio.to_thread(self._load_payment_links)

    async def get_payment_cursor(self, side: System) -> dt.datetime | None:
        return await asyncio.to_thread(self._get_payment_cursor, side)

    async def mark_needs_reauth(self, detail: str) -> None:
        await asyncio.to_thread(self._needs_reauth, detail)


JOURNAL_KEEP = dt.timedelta(days=7)
"""How long a batch's journal entries are kept (a write re-sent later goes out fresh)."""


class StoreBatchJournal:
    """`qbo.batch.BatchJournal` on the store: each write's QBO batch, durable before the
    batch is sent (its own small transaction), so a crash between sending and the pass's
    commit cannot make the next pass send a create in a different batch."""

    def __init__(self, store: Store, connection_id: int) -> None:
        self.store = store
        self.connection_id = connection_id

    async def recall(self, request_ids: Collection[str]) -> dict[str, tuple[str, str]]:
        def run() -> dict[str, tuple[str, str]]:
            with self.store.begin() as tx:
                return tx.journaled_writes(self.connection_id, request_ids)

        return await asyncio.to_thread(run)

    async def remember(self, entries: Sequence[tuple[str, str, str]]) -> None:
        def run() -> None:
            horizon = dt.datetime.now(dt.UTC) - JOURNAL_KEEP
            with self.store.begin() as tx:
                tx.forget_writes(self.connection_id, older_than=horizon)
                tx.journal_writes(self.connection_id, entries)

        await asyncio.to_thread(run)

    async def forget(self, request_ids: Collection[str]) -> None:
        def run() -> None:
            with self.store.begin() as tx:
                tx.forget_writes(self.connection_id, request_ids)

        await asyncio.to_thread(run)
