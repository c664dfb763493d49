"""Records whose last outcome stands until they change are not planned again every
pass (`sync.settled`): the change readers read them again, unchanged."""

from __future__ import annotations

from ledgerbridge.domain import System
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.errors import ErrorCategory, TerminalError
from ledgerbridge.sync.rules import Direction, Filter, FilterOperator, ObjectPair, SyncRule
from tests.unit.engine.fakes import Clock, FakeSide, FakeState

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS = ObjectPair.CONTACTS_CUSTOMERS


def setup(rule: SyncRule) -> tuple[SyncEngine, FakeSide, FakeSide, FakeState]:
    clock = Clock()
    hubspot, qbo = FakeSide(H, clock), FakeSide(Q, clock)
    state = FakeState([rule])
    return SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now), hubspot, qbo, state


def logged(state: FakeState, record_id: str) -> list[str]:
    return [e.operation for c in state.commits for e in c.activity if e.ref.id == record_id]


def outcomes(state: FakeState, record_id: str) -> list[str]:
    return [o.status for c in state.commits for o in c.records if o.ref.id == record_id]


def only_example_io() -> SyncRule:
    """Contacts two-way, QBO customers only when their email is at example.io."""
    rule = wizard_defaults(CONTACTS)
    keep = Filter(
        flow=Direction.QBO_TO_HUBSPOT,
        property="PrimaryEmailAddr.Address",
        operator=FilterOperator.CONTAINS,
        value="@example.io",
    )
    return rule.model_copy(update={"filters": (keep,)})


async def test_a_failed_record_read_again_unchanged_is_not_tried_again() -> None:
    engine, hubspot, qbo, state = setup(wizard_defaults(CONTACTS))
    hs_id = hubspot.put({"email": "a@x.io", "firstname": "Ann"})
    qbo.fail_writes = TerminalError(ErrorCategory.VALIDATION, "bad phone")
    await engine.run_pass()
    assert len(qbo.applied) == 1

    for _ in range(3):  # the reader's cursor includes it: every pass reads it again
        await engine.run_pass()
    assert len(qbo.applied) == 1, "tried again though nothing changed and no retry was due"
    assert outcomes(state, hs_id) == ["failed"]

    hubspot.put({"firstname": "Anne"}, hs_id)  # the user fixes the record: tried at once
    qbo.fail_writes = None
    report = await engine.run_pass()
    assert report.pairs[CONTACTS].created == 1 and len(qbo.applied) == 2


async def test_an_excluded_record_is_logged_once_until_it_changes() -> None:
    engine, _hubspot, qbo, state = setup(only_example_io())
    q_id = qbo.put({"DisplayName": "Bo", "PrimaryEmailAddr": {"Address": "b@x.io"}})
    for _ in range(4):  # read again every pass
        await engine.run_pass()
    assert logged(state, q_id) == ["exclude"] and outcomes(state, q_id) == ["excluded"]

    qbo.put({"DisplayName": "Bob"}, q_id)  # changed, still excluded: logged again
    await engine.run_pass()
    assert logged(state, q_id) == ["exclude", "exclude"]

    qbo.put({"PrimaryEmailAddr": {"Address": "bob@example.io"}}, q_id)
    report = await engine.run_pass()
    assert report.pairs[CONTACTS].created == 1


async def test_an_edited_rule_plans_its_records_again() -> None:
    rule = only_example_io()
    engine, _hubspot, qbo, state = setup(rule)
    q_id = qbo.put({"DisplayName": "Bo", "PrimaryEmailAddr": {"Address": "b@x.io"}})
    await engine.run_pass()
    await engine.run_pass()
    assert logged(state, q_id) == ["exclude"]

    state.rules = [rule.model_copy(update={"filters": ()})]
    report = await engine.run_pass()
    assert report.pairs[CONTACTS].created == 1
    assert outcomes(state, q_id) == ["excluded", "synced"]


async def test_a_dry_run_still_plans_every_record_it_reads() -> None:
    engine, _hubspot, qbo, _state = setup(only_example_io())
    qbo.put({"DisplayName": "Bo", "PrimaryEmailAddr": {"Address": "b@x.io"}})
    await engine.run_pass()
    preview = await engine.run_pass(dry_run=True)
    assert preview.pairs[CONTACTS].excluded == 1
