"""The engine over in-memory ports: apply, record, cursors, failures, dry run."""

from __future__ import annotations

import pytest

from ledgerbridge.domain import System
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    TerminalError,
    TransientError,
)
from ledgerbridge.sync.rules import Direction, ObjectPair, SyncRule
from tests.unit.engine.fakes import Clock, FakeSide, FakeState

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS, PRODUCTS = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS


def setup(*rules: SyncRule) -> tuple[SyncEngine, FakeSide, FakeSide, FakeState]:
    clock = Clock()
    hubspot, qbo = FakeSide(H, clock), FakeSide(Q, clock)
    state = FakeState(list(rules or [wizard_defaults(CONTACTS)]))
    return SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now), hubspot, qbo, state


async def test_a_pass_creates_links_and_records_in_one_commit() -> None:
    engine, hubspot, qbo, state = setup()
    hs_id = hubspot.put({"email": "a@x.io", "firstname": "Ann"})
    qbo.put({"DisplayName": "Bo", "PrimaryEmailAddr": {"Address": "b@x.io"}})

    report = await engine.run_pass()

    assert report.pairs[CONTACTS].created == 2
    (commit,) = state.commits
    assert len(commit.links) == 2 and set(commit.cursors) == {H, Q}
    assert {o.status for o in commit.records} == {"synced"}
    assert {e.operation for e in commit.activity} == {"create"}
    assert any(x.hubspot_id == hs_id for x in commit.links)
    # The new QBO customer carries the hash of what QBO holds: the next pass is quiet.
    again = await engine.run_pass()
    assert again.writes == 0, again.as_dict()


async def test_rules_run_in_dependency_order_and_disabled_rules_are_not_read() -> None:
    products = wizard_defaults(PRODUCTS)
    contacts = wizard_defaults(CONTACTS).model_copy(update={"enabled": False})
    engine, hubspot, qbo, state = setup(products, contacts)
    await engine.run_pass()
    assert [c.object_type for c in state.commits] == [PRODUCTS]
    assert hubspot.reads == 0 and qbo.reads == 1  # products: QBO → HubSpot only

    state.rules = [products, contacts.model_copy(update={"enabled": True})]
    await engine.run_pass()
    assert [c.object_type for c in state.commits][1:] == [CONTACTS, PRODUCTS]


async def test_transient_failure_leaves_record_pending_and_holds_the_cursor() -> None:
    rule = wizard_defaults(CONTACTS).model_copy(update={"direction": Direction.HUBSPOT_TO_QBO})
    engine, hubspot, qbo, state = setup(rule)
    hubspot.put({"email": "a@x.io"})
    await engine.run_pass()
    late = hubspot.put({"email": "late@x.io"})
    qbo.fail_writes = TransientError(ErrorCategory.RATE_LIMITED, "slow down")

    report = await engine.run_pass()

    assert report.pairs[CONTACTS].pending == 1
    commit = state.commits[-1]
    assert [(o.ref.id, o.status) for o in commit.records] == [(late, "pending")]
    assert commit.cursors[H] < hubspot.records[late].updated_at
    qbo.fail_writes = None
    assert (await engine.run_pass()).pairs[CONTACTS].created == 1


async def test_terminal_failure_is_recorded_with_its_category_and_the_cursor_moves() -> None:
    engine, hubspot, qbo, state = setup()
    hs_id = hubspot.put({"email": "a@x.io"})
    qbo.fail_writes = TerminalError(ErrorCategory.VALIDATION, "bad phone")

    report = await engine.run_pass()

    assert report.pairs[CONTACTS].failed == 1
    (outcome,) = state.commits[-1].records
    assert (outcome.ref.id, outcome.status, outcome.category) == (
        hs_id,
        "failed",
        ErrorCategory.VALIDATION,
    )
    assert state.commits[-1].cursors[H] >= hubspot.records[hs_id].updated_at
    assert state.commits[-1].links == []


async def test_authentication_error_stops_the_pass_and_marks_the_connection() -> None:
    engine, hubspot, qbo, state = setup(wizard_defaults(CONTACTS), wizard_defaults(PRODUCTS))
    hubspot.put({"email": "a@x.io"})
    qbo.fail_writes, qbo.raise_on = AuthenticationError("token revoked"), "read_changes"

    report = await engine.run_pass()

    assert report.stopped == "authentication"
    assert state.needs_reauth == "token revoked"
    assert state.commits == [] and state.cursors == {}


async def test_a_failed_read_skips_the_rule_without_recording() -> None:
    engine, hubspot, _qbo, state = setup(wizard_defaults(CONTACTS), wizard_defaults(PRODUCTS))
    hubspot.fail_writes = TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "503")
    hubspot.raise_on = "read_changes"
    report = await engine.run_pass()
    assert report.pairs[CONTACTS].error == "service_unavailable: 503"
    assert [c.object_type for c in state.commits] == [PRODUCTS]


@pytest.mark.parametrize("only", [None, {CONTACTS}])
async def test_dry_run_applies_and_records_nothing(only: set[ObjectPair] | None) -> None:
    engine, hubspot, qbo, state = setup(wizard_defaults(CONTACTS), wizard_defaults(PRODUCTS))
    hubspot.put({"email": "a@x.io"})

    report = await engine.run_pass(dry_run=True, only=only)

    assert report.dry_run and report.pairs[CONTACTS].created == 1
    assert hubspot.applied == qbo.applied == [] and state.commits == []
    assert (PRODUCTS in report.pairs) is (only is None)
