"""Hypothesis state machine over both sandboxes in-process (ASGI): random users on both
sides, random passes. After every pass:

- a second pass plans no write;
- linked records agree on every mapped field (unless one of them is excluded);
- no email or SKU is held by two records on either side;
- no excluded or failed record was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.operations.reconcile import reconcile_ports
from ledgerbridge.store import RecordStatus
from ledgerbridge.sync.actions import Create, Deactivate, Exclude, Fail, Update
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.match import match_key
from ledgerbridge.sync.model import RefIndex, SideRecord
from ledgerbridge.sync.ports import SidePort, WriteAction, WriteResult
from ledgerbridge.sync.reconcile import UnlinkedKind
from ledgerbridge.sync.rules import (
    ConflictPolicy,
    Direction,
    Filter,
    FilterOperator,
    ObjectPair,
    SyncRule,
)
from tests.integration.conftest import contacts_rule, products_rule
from tests.integration.faults import CrashingSide, WriteCounter
from tests.integration.harness import Lab, open_lab
from tests.support.profiles import machine_settings

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS, PRODUCTS = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS
EMAILS = ["a@x.io", "b@x.io", "c@x.io"]
SKUS = ["S1", "S2", "S3"]
NAMES = ["Ann", "Bob", None]
PHONES = ["555", None]
PRICES = ["10", "12.5"]


class RecordingSide(CrashingSide):
    """Remembers every write applied."""

    def __init__(self, inner: SidePort, log: list[WriteAction]) -> None:
        super().__init__(inner, WriteCounter())
        self.log = log

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        self.log.extend(actions)
        return await self.inner.apply(rule, actions, refs)


def touched(action: WriteAction) -> set[RecordRef]:
    if isinstance(action, Create):
        return {action.source_ref}
    if isinstance(action, Update):
        return {RecordRef(H, action.hubspot_id), RecordRef(Q, action.qbo_id)}
    return {action.source_ref, action.target_ref}


class SandboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.stack = contextlib.AsyncExitStack()
        self.lab: Lab = self.run(self.stack.enter_async_context(open_lab("asgi")))
        self.names = 0
        self.account: str | None = None
        self.writes = 0

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            if hasattr(self, "rules"):
                self.sync()  # every run ends with a pass over whatever the users did
        finally:
            self.close()

    def close(self) -> None:
        self.run(self.stack.aclose())
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()

    @initialize(
        policy=st.sampled_from(list(ConflictPolicy)),
        phone_filter=st.booleans(),
    )
    def setup(self, policy: ConflictPolicy, phone_filter: bool) -> None:
        filters = ()
        if phone_filter:
            filters = (
                Filter(
                    flow=Direction.HUBSPOT_TO_QBO,
                    property="phone",
                    operator=FilterOperator.IS_KNOWN,
                ),
            )
        self.rules = {
            CONTACTS: contacts_rule(conflict_policy=policy, filters=filters),
            PRODUCTS: products_rule(direction=Direction.TWO_WAY, conflict_policy=policy),
        }
        for r in self.rules.values():
            self.lab.save_rule(r)

    # ---- users ----

    def _keys(self, pair: ObjectPair, side: System) -> set[str]:
        return {k for k in self._all_keys(pair, side) if k}

    def _all_keys(self, pair: ObjectPair, side: System) -> list[str | None]:
        refs = RefIndex()
        rule = self.rules[pair]
        return [match_key(pair, snapshot(rule, r, refs)) for r in self._records(pair, side)]

    def _records(self, pair: ObjectPair, side: System) -> list[SideRecord]:
        engine = self.lab.engine()
        rule = self.rules[pair]

        async def read() -> list[SideRecord]:
            found = await engine.sides[side].read_changes(rule, None, RefIndex())
            return [r for r in found.records if not r.deleted]

        result: list[SideRecord] = self.run(read())
        return result

    @rule(email=st.sampled_from(EMAILS), name=st.sampled_from(NAMES), phone=st.sampled_from(PHONES))
    def hubspot_user_creates_contact(self, email: str, name: str | None, phone: str | None) -> None:
        if email in self._keys(CONTACTS, H):
            return  # HubSpot keeps emails unique
        props = {"email": email, "firstname": name or "", "phone": phone or ""}
        self.run(self.lab.hs_create("contacts", **{k: v for k, v in props.items() if v}))

    @rule(email=st.sampled_from(EMAILS), name=st.sampled_from(NAMES), phone=st.sampled_from(PHONES))
    def qbo_user_creates_customer(self, email: str, name: str | None, phone: str | None) -> None:
        if email in self._keys(CONTACTS, Q):
            return  # this test's users keep emails unique in QBO too
        self.names += 1
        body: dict[str, Any] = {
            "DisplayName": f"User customer {self.names}",
            "PrimaryEmailAddr": {"Address": email},
        }
        if name:
            body["GivenName"] = name
        if phone:
            body["PrimaryPhone"] = {"FreeFormNumber": phone}
        self.run(self.lab.qbo_create("Customer", body))

    @rule(data=st.data(), name=st.sampled_from(NAMES), phone=st.sampled_from(PHONES))
    def user_edits_contact(self, data: st.DataObject, name: str | None, phone: str | None) -> None:
        side = data.draw(st.sampled_from([H, Q]))
        records = self._records(CONTACTS, side)
        if not records:
            return
        record = data.draw(st.sampled_from(sorted(records, key=lambda r: r.ref.id)))
        if side is H:
            self.run(
                self.lab.hs_update(
                    "contacts", record.ref.id, firstname=name or "", phone=phone or ""
                )
            )
        else:
            fields = {"GivenName": name, "PrimaryPhone": {"FreeFormNumber": phone or ""}}
            self.run(self.lab.qbo_update("Customer", record.ref.id, fields))

    @rule(sku=st.sampled_from(SKUS), price=st.sampled_from(PRICES), side=st.sampled_from([H, Q]))
    def user_creates_product(self, sku: str, price: str, side: System) -> None:
        if sku in self._keys(PRODUCTS, side):
            return
        self.names += 1
        if side is H:
            self.run(
                self.lab.hs_create(
                    "products", name=f"Product {self.names}", hs_sku=sku, price=price
                )
            )
            return
        if self.account is None:
            self.account = self.run(self.lab.income_account())
        body = {
            "Name": f"Item {self.names}",
            "Sku": sku,
            "Type": "Service",
            "UnitPrice": price,
            "IncomeAccountRef": {"value": self.account},
        }
        self.run(self.lab.qbo_create("Item", body))

    @rule(data=st.data(), price=st.sampled_from(PRICES))
    def user_edits_product(self, data: st.DataObject, price: str) -> None:
        side = data.draw(st.sampled_from([H, Q]))
        records = self._records(PRODUCTS, side)
        if not records:
            return
        record = data.draw(st.sampled_from(sorted(records, key=lambda r: r.ref.id)))
        if side is H:
            self.run(self.lab.hs_update("products", record.ref.id, price=price))
        else:
            self.run(self.lab.qbo_update("Item", record.ref.id, {"UnitPrice": price}))

    # ---- passes ----

    def engine(self, log: list[WriteAction]) -> SyncEngine:
        base = self.lab.engine()
        return self.lab.engine_with(
            hubspot=RecordingSide(base.sides[H], log), qbo=RecordingSide(base.sides[Q], log)
        )

    @precondition(lambda self: hasattr(self, "rules"))
    @rule()
    def sync(self) -> None:
        log: list[WriteAction] = []
        report = self.run(self.engine(log).run_pass())
        self.writes += report.writes
        assert report.stopped is None and all(p.error is None for p in report.pairs.values())
        stopped = {
            a.ref for p in report.pairs.values() for a in p.actions if isinstance(a, Exclude | Fail)
        }
        written = set().union(*(touched(a) for a in log)) if log else set()
        assert not stopped & written, (stopped & written, log)
        assert not any(isinstance(a, Deactivate) for a in log)

        again: list[WriteAction] = []
        second = self.run(self.engine(again).run_pass())
        assert again == [], [type(a).__name__ for a in again]
        assert second.writes == 0
        self.check_no_duplicates()
        self.check_linked_agree()
        self.check_reconcile_finds_no_drift()

    def check_reconcile_finds_no_drift(self) -> None:
        """R-BEY-2: after any randomized two-way run, `reconcile` reports no drift but the
        records the engine refuses on purpose (failed or excluded ones, and keys shared by
        several records, which it never guesses between)."""
        blocked = {
            (r.side, r.record_id) for r in self.lab.records() if r.status is not RecordStatus.SYNCED
        }
        engine = self.lab.engine()
        report = self.run(reconcile_ports(engine.sides[H], engine.sides[Q], engine.state))
        assert not report.errors, report.as_dict()
        refused = (UnlinkedKind.AMBIGUOUS, UnlinkedKind.DUPLICATE)
        for drift in report.pairs:
            assert not drift.gone, drift.as_dict()
            for field in drift.fields:
                pair_ids = {("hubspot", field.hubspot_id), ("quickbooks", field.qbo_id)}
                assert pair_ids & blocked, drift.as_dict()
            for record in drift.unlinked:
                side_id = (record.ref.system.value, record.ref.id)
                assert side_id in blocked or record.kind in refused, drift.as_dict()

    def check_no_duplicates(self) -> None:
        for pair in (CONTACTS, PRODUCTS):
            for side in System:
                keys = [k for k in self._all_keys(pair, side) if k]
                assert len(keys) == len(set(keys)), (pair, side, sorted(keys))

    def check_linked_agree(self) -> None:
        blocked = {
            (r.side, r.record_id) for r in self.lab.records() if r.status is not RecordStatus.SYNCED
        }
        for pair in (CONTACTS, PRODUCTS):
            rule = self.rules[pair]
            records = {s: {r.ref.id: r for r in self._records(pair, s)} for s in System}
            for link in self.lab.links(pair):
                if ("hubspot", link.hubspot_id) in blocked or (
                    "quickbooks",
                    link.qbo_id,
                ) in blocked:
                    continue
                snaps = [
                    snapshot(rule, records[H][link.hubspot_id], RefIndex()),
                    snapshot(rule, records[Q][link.qbo_id], RefIndex()),
                ]
                assert snaps[0] == snaps[1], (pair, snaps)


SandboxMachine.TestCase.settings = machine_settings(
    int(os.environ.get("SANDBOX_MACHINE_EXAMPLES", "15")),
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_sandbox_machine = SandboxMachine.TestCase
