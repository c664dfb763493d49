"""Retries, replays, transient failures, authentication and dry runs (R-BEY, R-HLT-5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ledgerbridge.domain import System
from ledgerbridge.store import ConnectionStatus, RecordStatus
from ledgerbridge.sync.actions import Create
from ledgerbridge.sync.errors import ErrorCategory, TransientError
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.ports import WriteAction, WriteResult
from ledgerbridge.sync.rules import Direction, ObjectPair, SyncRule
from tests.integration.conftest import contacts_rule, products_rule
from tests.integration.faults import CrashingSide, WriteCounter
from tests.integration.harness import Lab
from tests.integration.invoicing import hs_invoice, qbo_invoice, qbo_item, set_up

PAIR = ObjectPair.CONTACTS_CUSTOMERS


async def test_R_BEY_1_no_duplicates_on_retry_and_replay(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    await lab.hs_create("contacts", email="h@x.io", firstname="Hana")
    await lab.qbo_create(
        "Customer", {"DisplayName": "Quy", "PrimaryEmailAddr": {"Address": "q@x.io"}}
    )
    planned = await lab.engine().run_pass(dry_run=True)
    creates = [a for a in planned.pairs[PAIR].actions if isinstance(a, Create)]
    assert {a.target for a in creates} == {System.HUBSPOT, System.QUICKBOOKS}

    rule = contacts_rule()
    first, second = lab.engine(), lab.engine()  # two processes, one after the other
    for create in creates:
        side = create.target
        (a,) = await first.sides[side].apply(rule, [create], RefIndex())
        (b,) = await second.sides[side].apply(rule, [create], RefIndex())  # the replay
        assert a.record is not None and b.record is not None
        assert a.record.ref == b.record.ref
    assert len(await lab.qbo_all("Customer")) == 2
    assert len(await lab.hs_all("contacts")) == 2

    # The pass that follows links what the replayed writes made, creating nothing.
    report = await lab.engine().run_pass()
    assert report.pairs[PAIR].created == 0 and report.pairs[PAIR].linked == 2, report.as_dict()
    assert len(await lab.qbo_all("Customer")) == 2
    assert len(await lab.hs_all("contacts")) == 2


class FlakySide(CrashingSide):
    """Every write fails transiently (a 503 that outlived the retries)."""

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        error = TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "503 after retries")
        return [WriteResult(a, error=error) for a in actions]


async def test_R_BEY_1_transient_failure_loses_nothing(lab: Lab) -> None:
    lab.save_rule(contacts_rule(direction=Direction.HUBSPOT_TO_QBO))
    first = await lab.hs_create("contacts", email="early@x.io", firstname="Early")
    await lab.engine().run_pass()
    cursor_before = _cursor(lab)
    late = await lab.hs_create("contacts", email="late@x.io", firstname="Late")
    base = lab.engine()
    flaky = lab.engine_with(qbo=FlakySide(base.sides[System.QUICKBOOKS], WriteCounter()))

    report = await flaky.run_pass()

    assert report.pairs[PAIR].pending == 1
    (pending,) = lab.records(PAIR, RecordStatus.PENDING)
    assert (pending.record_id, pending.error_category) == (late, "service_unavailable")
    late_record = next(c for c in await lab.hs_all("contacts") if c.id == late)
    assert late_record.updated_at is not None
    assert cursor_before <= _cursor(lab) < late_record.updated_at  # held before it
    report = await lab.engine().run_pass()
    assert report.pairs[PAIR].created == 1
    emails = sorted(c["PrimaryEmailAddr"]["Address"] for c in await lab.qbo_all("Customer"))
    assert emails == ["early@x.io", "late@x.io"]
    assert {r.record_id for r in lab.records(PAIR, RecordStatus.SYNCED)} >= {first, late}


def _cursor(lab: Lab) -> dt.datetime:
    with lab.store.begin() as tx:
        value = tx.get_cursor(lab.connection_id, System.HUBSPOT, PAIR.value)
    assert value is not None
    return dt.datetime.fromisoformat(value)


async def test_R_HLT_5_refused_token_marks_connection_needs_reauth(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    await lab.hs_create("contacts", email="a@x.io", firstname="Ann")
    response = await lab.http.patch(
        f"{lab.qbo_url}/_sandbox/config", json={"static_token": "rotated"}
    )
    response.raise_for_status()

    report = await lab.engine().run_pass()

    assert report.stopped == "authentication"
    with lab.store.begin() as tx:
        connection = tx.get_connection(lab.connection_id)
        assert connection is not None
        assert connection.status is ConnectionStatus.NEEDS_REAUTH
        assert tx.get_cursor(lab.connection_id, System.HUBSPOT, PAIR.value) is None
    assert lab.links(PAIR) == []


async def test_R_BEY_3_dry_run_writes_nothing(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    lab.save_rule(products_rule(direction=Direction.TWO_WAY))
    await lab.hs_create("contacts", email="a@x.io", firstname="Ann")
    await lab.qbo_create(
        "Customer", {"DisplayName": "Bo", "PrimaryEmailAddr": {"Address": "b@x.io"}}
    )
    await lab.hs_create("products", name="No SKU")
    await lab.hs_create("products", name="Plan", hs_sku="P-1")
    writes_before = _write_counts(lab)

    report = await lab.engine().run_pass(dry_run=True)

    assert report.dry_run and report.pairs[PAIR].created == 2
    assert report.pairs[ObjectPair.PRODUCTS_ITEMS].created == 2
    assert _write_counts(lab) == writes_before
    assert len(await lab.qbo_all("Customer")) == 1 and await lab.qbo_all("Item") == []
    assert len(await lab.hs_all("contacts")) == 1
    with lab.store.begin() as tx:
        assert tx.list_links(lab.connection_id) == []
        assert tx.list_records(lab.connection_id) == []
        assert tx.list_activity(lab.connection_id) == []
        assert tx.get_cursor(lab.connection_id, System.HUBSPOT, PAIR.value) is None
    described = report.as_dict()["pairs"][0]["actions"]
    assert {d["action"] for d in described} == {"create"}


def _write_counts(lab: Lab) -> tuple[int, int]:
    """(QBO writes made with a requestid, HubSpot records of every type)."""
    realm = next(iter(lab.qbo_sandbox.realms.values()))
    hubspot = lab.hubspot_sandbox.state.objects
    return len(realm.responses), sum(len(table) for table in hubspot.values())


async def test_R_BEY_3_a_dry_run_plans_invoices_for_the_customers_it_would_create(
    lab: Lab,
) -> None:
    """The preview of a new connection's first pass: the contacts rule would create the
    customer, so the invoice rule plans the invoice for it (as the pass will), instead
    of failing it for a customer not linked yet; then the pass does what it showed."""
    await set_up(lab, Direction.TWO_WAY)
    contact = await lab.hs_create("contacts", email="ann@example.com", firstname="Ann")
    invoice = await hs_invoice(lab, contact, [("Thing", "1x10", None)])
    body = {"DisplayName": "Bo", "PrimaryEmailAddr": {"Address": "bo@example.com"}}
    customer = str((await lab.qbo_create("Customer", body))["Id"])
    item = await qbo_item(lab, "Widget", "W-1", "50")
    await qbo_invoice(lab, customer, [(item, "2", "50")])

    preview = await lab.engine().run_pass(dry_run=True)

    invoices = preview.pairs[ObjectPair.INVOICES_INVOICES]
    assert (invoices.created, invoices.failed) == (2, 0), preview.as_dict()
    creates = {str(a.source_ref): a for a in invoices.actions if isinstance(a, Create)}
    assert creates[f"hubspot:{invoice}"].fields["customer"] == contact
    assert lab.links(PAIR) == [] and len(await lab.qbo_all("Invoice")) == 1

    report = await lab.engine().run_pass()
    assert report.pairs[ObjectPair.INVOICES_INVOICES].created == 2, report.as_dict()
