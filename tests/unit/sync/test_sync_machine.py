"""Hypothesis state machine over a pure in-memory model of the two sides (issue 6).

Two dicts of raw records (HubSpot `properties`, QBO entity JSON) stand for the two
services; `plan` decides; a tiny in-test `apply` executes the actions through the
write payloads (`hubspot_payload`, `qbo_payload`) and keeps the links, as the
engine will. After every pass we check: a second pass plans no write; linked
records agree on every mapped field (per direction and conflict policy); no
record is created twice on either side; excluded and failed records were not
written.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from typing import Any

from hypothesis import Phase
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.actions import (
    WRITES,
    Action,
    Create,
    Exclude,
    Fail,
    LinkRecords,
    Skip,
    Update,
)
from ledgerbridge.sync.defaults import DEFAULT_MAPPINGS
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.match import match_key
from ledgerbridge.sync.model import (
    Link,
    LinkState,
    PlanContext,
    RefIndex,
    SideRecord,
    snapshot_hash,
)
from ledgerbridge.sync.payloads import hubspot_payload, qbo_payload
from ledgerbridge.sync.plan import plan
from ledgerbridge.sync.rules import (
    ConflictPolicy,
    Direction,
    Filter,
    FilterOperator,
    ObjectPair,
    SyncRule,
)
from tests.support.profiles import machine_settings

H, Q = System.HUBSPOT, System.QUICKBOOKS
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NO_REFS = RefIndex()

VALUES: dict[ObjectPair, dict[str, list[str | None]]] = {
    ObjectPair.CONTACTS_CUSTOMERS: {
        "email": ["a@x.io", "B@x.io", " c@x.io", None],
        "first_name": ["Ann", "Bob", None],
        "last_name": ["Lee", "Ray"],
        "company": ["Acme", "Initech", None],
        "phone": ["555", None],
        "billing_city": ["Oslo", "Rome", None],
        "billing_street": ["1 Main St", None],
    },
    ObjectPair.PRODUCTS_ITEMS: {
        "sku": ["S1", "S2", "S3", None],
        "name": ["Widget", "Gadget"],
        "price": ["10", "10.50", "99.99", None],
        "description": ["nice", None],
    },
}


def _mapping_path(pair: ObjectPair, name: str, system: System) -> str:
    return next(m for m in DEFAULT_MAPPINGS[pair] if m.name == name).path(system)


def _set(record: dict[str, Any], system: System, path: str, value: Any) -> None:
    if system is H:
        record[path] = "" if value is None else value
        return
    *parents, leaf = path.split(".")
    node = record
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.records: dict[System, dict[str, dict[str, Any]]] = {H: {}, Q: {}}
        self.versions: dict[RecordRef, int] = {}
        self.touched: dict[RecordRef, int] = {}
        self.dirty: dict[RecordRef, set[str]] = {}
        self.links: dict[tuple[str, str], Link] = {}
        self.blocked: set[RecordRef] = set()
        self.clock = 0
        self.last_pass = -1
        self.ids = itertools.count(1)

    @initialize(
        pair=st.sampled_from([ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS]),
        direction=st.sampled_from(list(Direction)),
        policy=st.sampled_from(list(ConflictPolicy)),
        filtered=st.booleans(),
    )
    def setup(
        self, pair: ObjectPair, direction: Direction, policy: ConflictPolicy, filtered: bool
    ) -> None:
        filters: tuple[Filter, ...] = ()
        if filtered:
            # Only records with a known value on the source side's first field flow.
            filters = tuple(
                Filter(
                    flow=Direction.flow_from(s),
                    property=_mapping_path(pair, self._filter_field(pair), s),
                    operator=FilterOperator.IS_KNOWN,
                )
                for s in direction.sources
            )
        self.pair = pair
        self.rule = SyncRule(
            object_pair=pair,
            direction=direction,
            conflict_policy=policy,
            mappings=DEFAULT_MAPPINGS[pair],
            filters=filters,
        )

    @staticmethod
    def _filter_field(pair: ObjectPair) -> str:
        return "phone" if pair is ObjectPair.CONTACTS_CUSTOMERS else "description"

    # ---- the model ----

    def side_record(self, system: System, id_: str) -> SideRecord:
        ref = RecordRef(system, id_)
        version = str(self.versions[ref])
        updated = T0 + dt.timedelta(seconds=self.touched[ref])
        return SideRecord(ref, version, updated, None, self.records[system][id_])

    def snap(self, system: System, id_: str) -> dict[str, Any]:
        return snapshot(self.rule, self.side_record(system, id_), NO_REFS)

    def touch(self, ref: RecordRef) -> None:
        self.clock += 1
        self.versions[ref] = self.versions.get(ref, 0) + 1
        self.touched[ref] = self.clock

    def fields(self) -> dict[str, list[str | None]]:
        return VALUES[self.pair]

    # ---- user edits ----

    @rule(side=st.sampled_from([H, Q]), data=st.data())
    def user_creates(self, side: System, data: st.DataObject) -> None:
        id_ = f"{side.value[0]}{next(self.ids)}"
        record: dict[str, Any] = {}
        if side is Q and self.pair is ObjectPair.CONTACTS_CUSTOMERS:
            record["DisplayName"] = f"User customer {id_}"
        ref = RecordRef(side, id_)
        self.dirty[ref] = set()
        for name, options in self.fields().items():
            value = data.draw(st.sampled_from(options), label=name)
            _set(record, side, _mapping_path(self.pair, name, side), value)
            self.dirty[ref].add(name)
        self.records[side][id_] = record
        self.touch(ref)

    @precondition(lambda self: any(self.records[s] for s in System))
    @rule(data=st.data())
    def user_edits(self, data: st.DataObject) -> None:
        side = data.draw(st.sampled_from([s for s in System if self.records[s]]))
        id_ = data.draw(st.sampled_from(sorted(self.records[side])))
        name = data.draw(st.sampled_from(sorted(self.fields())))
        value = data.draw(st.sampled_from(self.fields()[name]))
        _set(self.records[side][id_], side, _mapping_path(self.pair, name, side), value)
        ref = RecordRef(side, id_)
        self.dirty[ref].add(name)
        self.touch(ref)

    # ---- a pass ----

    def changed_since(self, since: int) -> dict[System, list[SideRecord]]:
        """Records changed since the cursor, plus the counterparts of changed linked ones."""
        ids = {
            s: {i for i in self.records[s] if self.touched[RecordRef(s, i)] > since} for s in System
        }
        for hs_id, qbo_id in self.links:
            if hs_id in ids[H] or qbo_id in ids[Q]:
                ids[H].add(hs_id)
                ids[Q].add(qbo_id)
        return {s: [self.side_record(s, i) for i in sorted(ids[s])] for s in System}

    def context(self) -> PlanContext:
        # The engine looks candidates up by key; every record is a superset of that.
        candidates = {s: [self.side_record(s, i) for i in sorted(self.records[s])] for s in System}
        names = frozenset(
            str(r.get("DisplayName")) for r in self.records[Q].values() if r.get("DisplayName")
        )
        return PlanContext(
            sync_started_at=T0,
            qbo_display_names=names,
            hubspot_candidates=candidates[H],
            qbo_candidates=candidates[Q],
        )

    def plan_since(self, since: int) -> list[Action]:
        changed = self.changed_since(since)
        return plan(self.rule, list(self.links.values()), changed[H], changed[Q], self.context())

    @rule()
    def sync(self) -> None:
        start = self.clock
        actions = self.plan_since(self.last_pass)
        self.last_pass = start
        self.apply(actions)
        # A second pass (over everything the first pass wrote) plans no write.
        again = self.plan_since(start)
        writes = [a for a in again if isinstance(a, WRITES)]
        assert not writes, writes

    def apply(self, actions: list[Action]) -> None:
        stopped = {a.ref for a in actions if isinstance(a, Exclude | Fail)}
        for action in actions:
            if isinstance(action, Create):
                assert action.source_ref not in stopped
                self.apply_create(action)
            elif isinstance(action, LinkRecords):
                assert not {action.hubspot_ref, action.qbo_ref} & stopped
                self.store_link(action.hubspot_ref.id, action.qbo_ref.id, action.link_after)
            elif isinstance(action, Update):
                pair_refs = {RecordRef(H, action.hubspot_id), RecordRef(Q, action.qbo_id)}
                assert not pair_refs & stopped, (action, stopped)
                self.apply_update(action)
            elif isinstance(action, Skip) and action.link_after is not None:
                assert action.hubspot_id is not None and action.qbo_id is not None
                self.store_link(action.hubspot_id, action.qbo_id, action.link_after)
            else:
                assert not isinstance(action, WRITES), action
        # A pair that failed or was excluded is checked again once it synced.
        synced = {
            ref for a in actions if isinstance(a, Update | LinkRecords) for ref in self.refs_of(a)
        }
        self.blocked = (self.blocked | stopped) - synced

    def refs_of(self, action: Update | LinkRecords) -> set[RecordRef]:
        if isinstance(action, LinkRecords):
            return {action.hubspot_ref, action.qbo_ref}
        return {RecordRef(H, action.hubspot_id), RecordRef(Q, action.qbo_id)}

    def write(self, target: System, id_: str, fields: dict[str, Any], extra: Any = None) -> None:
        record = self.records[target].setdefault(id_, {})
        if target is H:
            record.update(hubspot_payload(self.rule, fields).properties)
        else:
            payload = qbo_payload(self.rule, fields, NO_REFS, display_name=extra)
            record.update(payload)  # a sparse update replaces top-level keys whole
        ref = RecordRef(target, id_)
        self.dirty.setdefault(ref, set()).difference_update(fields)
        self.touch(ref)

    def apply_create(self, action: Create) -> None:
        target = action.target
        key = match_key(self.pair, action.link_after.base)
        for other in self.records[target]:
            assert key is None or match_key(self.pair, self.snap(target, other)) != key, (
                f"created a second record with key {key!r} on {target}"
            )
        if action.display_name is not None:
            taken = {str(r.get("DisplayName", "")).casefold() for r in self.records[Q].values()}
            assert action.display_name.casefold() not in taken
        id_ = f"{target.value[0]}{next(self.ids)}"
        self.write(target, id_, dict(action.fields), action.display_name)
        source = action.source_ref.id
        hs_id, qbo_id = (id_, source) if target is H else (source, id_)
        self.store_link(hs_id, qbo_id, action.link_after)

    def apply_update(self, action: Update) -> None:
        target_id = action.target_ref.id
        assert str(self.versions[action.target_ref]) == action.base_version
        self.write(action.target, target_id, dict(action.fields))
        self.store_link(action.hubspot_id, action.qbo_id, action.link_after)

    def store_link(self, hs_id: str, qbo_id: str, state: LinkState) -> None:
        for key in self.links:
            if key != (hs_id, qbo_id):
                assert hs_id != key[0] and qbo_id != key[1], "a record is linked twice"
        # As the engine does: hashes and versions from what the services now hold.
        self.links[(hs_id, qbo_id)] = Link(
            self.pair,
            hs_id,
            qbo_id,
            str(self.versions[RecordRef(H, hs_id)]),
            str(self.versions[RecordRef(Q, qbo_id)]),
            snapshot_hash(self.snap(H, hs_id)),
            snapshot_hash(self.snap(Q, qbo_id)),
            state.base,
            state.origin,
        )

    # ---- invariants ----

    @invariant()
    def linked_records_agree(self) -> None:
        if self.last_pass < 0:
            return
        sources = self.rule.direction.sources
        for hs_id, qbo_id in self.links:
            refs = {H: RecordRef(H, hs_id), Q: RecordRef(Q, qbo_id)}
            if any(r in self.blocked for r in refs.values()):
                continue
            if any(self.touched[r] > self.last_pass for r in refs.values()):
                continue  # edited since the last pass: not synced yet
            snaps = {s: self.snap(s, refs[s].id) for s in System}
            for name in snaps[H]:
                if snaps[H][name] == snaps[Q][name]:
                    continue
                if len(sources) == 1:
                    (source,) = sources
                    # One-way: only edits made on the target side may differ.
                    assert name in self.dirty[refs[source.other]], (name, snaps)
                else:
                    raise AssertionError(f"{name} differs: {snaps}")


SyncMachine.TestCase.settings = machine_settings(
    int(os.environ.get("SYNC_MACHINE_EXAMPLES", "200")),
    stateful_step_count=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    if os.environ.get("NO_SHRINK")
    else list(Phase),
)
test_sync_machine = SyncMachine.TestCase
