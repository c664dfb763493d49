"""`BackfillState`: the `StatePort` of a backfill (the backfill rule, its own positions
under `backfill:<object>`, activity tagged `"via": "backfill"`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Collection

from ledgerbridge.domain import System
from ledgerbridge.operations.backfill.position import Position
from ledgerbridge.operations.backfill.rule import window_start
from ledgerbridge.operations.backfill.windowed import Order, Turn, WindowedSide
from ledgerbridge.store import ConnectionStatus, Store
from ledgerbridge.store.state import (
    load_link_ids,
    load_ref_index,
    load_sync_links,
    load_sync_links_for,
    write_commit,
)
from ledgerbridge.sync.model import Link, RefIndex
from ledgerbridge.sync.ports import ActivityEntry, Commit
from ledgerbridge.sync.rules import ObjectPair, SyncRule


def progress_key(name: str) -> str:
    return f"backfill:{name}"


class BackfillState:
    """The backfill's state: the backfill rule, the links, and the backfill's positions.
    Each turn's commit is written in turn order (`commit_turn`); the engine sees it
    through `operations.backfill.pipeline.LaneState`."""

    def __init__(
        self, store: Store, connection_id: int, rule: SyncRule, name: str, since: dt.date
    ) -> None:
        self.store = store
        self.connection_id = connection_id
        self.rule = rule
        self.key = progress_key(name)
        self.since = since
        self.positions: dict[System, Position] = {}
        self.planned: RefIndex | None = None
        """A dry run's links that the earlier objects would make (`backfill_all`): the
        invoices' customers and items resolve to them as the real backfill's would."""
        self.windows: dict[System, WindowedSide] = {}
        self._order = Order()
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

    payments = None
    """A backfill syncs records; payments follow in the live sync (no payment state)."""

    async def load_link_ids(self, object_type: ObjectPair) -> list[tuple[str, str]]:
        return load_link_ids(self.store, self.connection_id, object_type)

    async def load_refs(self) -> RefIndex:
        with self.store.begin() as tx:
            stored = load_ref_index(tx, self.connection_id)
        return stored if self.planned is None else stored.with_planned(self.planned)

    async def get_cursor(self, side: System, object_type: ObjectPair) -> dt.datetime | None:
        return self.position(side).bound

    async def commit_turn(self, turn: Turn, commit: Commit) -> None:
        """Record `turn`'s pass, after every earlier turn's. A side's position moves only
        when the turn's page there started at it (an earlier turn that stopped short of
        its page's end, or never committed, leaves later pages to be read again: their
        writes are recorded, and replay idempotently when their records come again)."""
        await self._order.wait(turn.seq)
        try:
            await self._commit(turn, commit)
        finally:
            await self._order.done(turn.seq)

    async def release(self, turn: Turn) -> None:
        """`turn` is over; if it never committed, the next one may."""
        await self._order.skip(turn.seq)

    async def commit(self, commit: Commit) -> None:
        """Record links made outside the turns (invoices matched by key); no position moves."""
        self._write(commit, {})

    def _write(self, commit: Commit, moved: dict[System, Position]) -> None:
        tagged = [
            ActivityEntry(
                a.ref, a.direction, a.operation, a.outcome, {**a.details, "via": "backfill"}
            )
            for a in commit.activity
        ]
        body = Commit(commit.object_type, commit.links, commit.records, tagged)
        with self.store.begin() as tx:
            write_commit(tx, self.connection_id, body)
            for side, position in sorted(moved.items()):
                value = {"since": self.since.isoformat(), **position.as_json()}
                tx.set_cursor(self.connection_id, side, self.key, json.dumps(value))

    async def _commit(self, turn: Turn, commit: Commit) -> None:
        served = {s: w for s, w in self.windows.items() if s in turn.pages}
        turn.current = all(turn.pages[s][0] == w.position for s, w in served.items())
        current = {s: w for s, w in served.items() if turn.pages[s][0] == w.position}
        held = {o.ref for o in commit.records if o.status == "pending"}
        moved = {
            s: w.position_after(turn, {r.id for r in held if r.system is s})
            for s, w in current.items()
        }
        # In a worker thread: a turn's rows (a thousand invoices' links, records and
        # activity) are ~0.1 s of SQLite; on the loop they held the requests whose window
        # slots freed meanwhile (issue 18: the chain of 10-s windows). Not when the store
        # is one shared connection (in-memory SQLite), which the loop's reads also use.
        if self.store.one_connection:
            self._write(commit, moved)
        else:
            await asyncio.to_thread(self._write, commit, moved)
        turn.committed = True
        turn.moved = any(p != self.position(s) for s, p in moved.items())
        self.positions.update(moved)
        for side, position in moved.items():
            touched = {x.id_on(side) for x in commit.links}
            await current[side].committed(self.rule, position, touched)

    async def mark_needs_reauth(self, detail: str) -> None:
        with self.store.begin() as tx:
            tx.update_connection(
                self.connection_id, status=ConnectionStatus.NEEDS_REAUTH, status_detail=detail
            )
