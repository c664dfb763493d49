"""In-memory ports for engine unit tests: records are raw dicts, time is a counter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.actions import Create, Deactivate
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.match import match_key
from ledgerbridge.sync.model import Link, RefIndex, SideRecord
from ledgerbridge.sync.payloads import hubspot_payload, qbo_payload
from ledgerbridge.sync.payments import PaymentState
from ledgerbridge.sync.ports import NO_CAPABILITIES, Changes, Commit, WriteAction, WriteResult
from ledgerbridge.sync.rules import ObjectPair, SyncRule

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class Clock:
    ticks: int = 0

    def now(self) -> dt.datetime:
        return T0 + dt.timedelta(seconds=self.ticks)

    def tick(self) -> dt.datetime:
        self.ticks += 1
        return self.now()


BACK_REFERENCE = "ledgerbridge_qbo_id"


@dataclass
class Stored:
    raw: dict[str, Any]
    version: int
    updated_at: dt.datetime


class FakeSide:
    """One service: records by id; writes replayed by idempotency key."""

    def __init__(self, system: System, clock: Clock) -> None:
        self.system = system
        self.capabilities = NO_CAPABILITIES
        self.clock = clock
        self.records: dict[str, Stored] = {}
        self.by_key: dict[str, str] = {}
        self.fail_writes: SyncError | None = None
        self.raise_on: str | None = None  # method name that raises `fail_writes`
        self.applied: list[WriteAction] = []
        self.reads = 0
        self._ids = iter(range(1, 10_000))

    def put(self, raw: dict[str, Any], record_id: str | None = None) -> str:
        record_id = record_id or f"{self.system.value[0]}{next(self._ids)}"
        old = self.records.get(record_id)
        merged = {**(old.raw if old else {}), **raw}
        self.records[record_id] = Stored(merged, (old.version + 1) if old else 1, self.clock.tick())
        return record_id

    def side(self, record_id: str) -> SideRecord:
        stored = self.records[record_id]
        ref = RecordRef(self.system, record_id)
        counterpart = stored.raw.get(BACK_REFERENCE) if self.system is System.HUBSPOT else None
        return SideRecord(
            ref,
            str(stored.version),
            stored.updated_at,
            None,
            dict(stored.raw),
            counterpart_id=counterpart,
        )

    def _check(self, method: str) -> None:
        if self.raise_on == method and self.fail_writes is not None:
            raise self.fail_writes

    async def read_changes(
        self, rule: SyncRule, since: dt.datetime | None, refs: RefIndex
    ) -> Changes:
        self._check("read_changes")
        self.reads += 1
        found = [
            self.side(i)
            for i, s in sorted(self.records.items())
            if since is None or s.updated_at >= since
        ]
        newest = max((r.updated_at for r in found), default=since)
        return Changes(found, newest)

    async def read_records(
        self, rule: SyncRule, ids: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        return [self.side(i) for i in sorted(ids) if i in self.records]

    async def find_candidates(
        self, rule: SyncRule, keys: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        records = [self.side(i) for i in sorted(self.records)]
        return [
            r for r in records if match_key(rule.object_pair, snapshot(rule, r, refs)) in set(keys)
        ]

    async def display_names(self) -> frozenset[str]:
        return frozenset(
            str(s.raw["DisplayName"]) for s in self.records.values() if "DisplayName" in s.raw
        )

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        self._check("apply")
        results = []
        for action in actions:
            self.applied.append(action)
            if self.fail_writes is not None:
                results.append(WriteResult(action, error=self.fail_writes))
                continue
            if isinstance(action, Deactivate):
                body: dict[str, Any] = {"Active": False}
            elif self.system is System.HUBSPOT:
                body = dict(hubspot_payload(rule, action.fields).properties)
                if isinstance(action, Create):  # as the adapter's upsert on the QBO id does
                    body[BACK_REFERENCE] = action.source_ref.id
            else:
                name = action.display_name if isinstance(action, Create) else None
                body = qbo_payload(rule, action.fields, refs, display_name=name)
            if isinstance(action, Create):
                existing = self.by_key.get(action.idempotency_key)
                record_id = existing or self.put(body)
                self.by_key[action.idempotency_key] = record_id
            else:
                record_id = self.put(body, action.target_ref.id)
            results.append(WriteResult(action, self.side(record_id)))
        return results


@dataclass
class FakeState:
    rules: list[SyncRule]
    links: dict[tuple[str, str, str], Link] = field(default_factory=dict)
    cursors: dict[tuple[System, ObjectPair], dt.datetime] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)
    needs_reauth: str | None = None
    links_read: int = 0
    payments: PaymentState | None = None
    """Links (with their snapshots) handed out by `load_links` and `load_links_for`."""

    async def load_rules(self) -> list[SyncRule]:
        return list(self.rules)

    async def load_links(self) -> list[Link]:
        self.links_read += len(self.links)
        return list(self.links.values())

    async def load_links_for(
        self,
        object_type: ObjectPair,
        hubspot_ids: Collection[str] = (),
        qbo_ids: Collection[str] = (),
        keys: Collection[str] = (),
    ) -> list[Link]:
        found = [
            x
            for x in self.links.values()
            if x.object_type is object_type
            and (
                x.hubspot_id in hubspot_ids
                or x.qbo_id in qbo_ids
                or match_key(object_type, x.base) in keys
            )
        ]
        self.links_read += len(found)
        return found

    async def load_link_ids(self, object_type: ObjectPair) -> list[tuple[str, str]]:
        return [
            (x.hubspot_id, x.qbo_id) for x in self.links.values() if x.object_type is object_type
        ]

    async def load_refs(self) -> RefIndex:
        return RefIndex.from_links(list(self.links.values()))

    async def get_cursor(self, side: System, object_type: ObjectPair) -> dt.datetime | None:
        return self.cursors.get((side, object_type))

    async def commit(self, commit: Commit) -> None:
        self.commits.append(commit)
        for link in commit.links:
            self.links[(link.object_type.value, link.hubspot_id, link.qbo_id)] = link
        for side, cursor in commit.cursors.items():
            self.cursors[(side, commit.object_type)] = cursor

    async def mark_needs_reauth(self, detail: str) -> None:
        self.needs_reauth = detail
