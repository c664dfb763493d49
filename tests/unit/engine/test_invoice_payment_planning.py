"""Invoice voids, fixed filters on linked pairs, payment planning, and adapter helpers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ledgerbridge.domain import InvoiceStatus, RecordRef, System
from ledgerbridge.hubspot.side.invoices import status_path
from ledgerbridge.qbo.side.invoices import custom_field_ids
from ledgerbridge.sync.actions import Skip, SkipReason, Update, Void
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.errors import TerminalError
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import Link, RefIndex
from ledgerbridge.sync.payments import PaymentRecord, PaymentSkip, PaymentWrite, plan_payments
from ledgerbridge.sync.plan import plan
from ledgerbridge.sync.rules import Direction, InvoiceSettings, ObjectPair
from tests.unit.sync.factories import H, Q, ctx, invoice, link_for

REFS = RefIndex(contacts={"c1": "q1"}, products={"p1": "i1"}, custom_line_item_id="99")
TWO_WAY = (
    wizard_defaults(ObjectPair.INVOICES_INVOICES)
    .model_copy(update={"direction": Direction.TWO_WAY, "invoice": InvoiceSettings()})
    .with_fixed_filters()
)
INBOUND = TWO_WAY.model_copy(update={"direction": Direction.QBO_TO_HUBSPOT, "filters": ()})
T = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)


def _pair(origin: System = H, hs_source: System = H):  # type: ignore[no-untyped-def]
    hs = invoice(H, "10", customer_id="c1", lines=(("p1", "2", "50"),), source=hs_source)
    qb = invoice(Q, "20", customer_id="q1", lines=(("i1", "2", "50"),), source=Q, version="0")
    base = dict(snapshot(TWO_WAY, hs, REFS))
    pair = ObjectPair.INVOICES_INVOICES
    return hs, qb, link_for(pair, hs, qb, base, origin=origin, refs=REFS, rule=TWO_WAY)


def test_R_INV_4_a_hubspot_void_voids_the_qbo_invoice() -> None:
    _hs, qb, link = _pair()
    voided = invoice(
        H, "10", customer_id="c1", lines=(("p1", "2", "50"),), status=InvoiceStatus.VOIDED
    )
    (void,) = plan(TWO_WAY, [link], [voided], [qb], ctx(refs=REFS))
    assert isinstance(void, Void) and void.target_ref == RecordRef(Q, "20")
    assert void.link_after.base["status"] == "voided"


def test_R_INV_2_a_qbo_made_invoice_changed_in_hubspot_is_not_taken_nor_excluded() -> None:
    _hs, qb, link = _pair(origin=Q, hs_source=Q)
    paid = invoice(
        H, "10", customer_id="c1", lines=(("p1", "2", "50"),), source=Q, memo="edited", version="2"
    )
    actions = plan(TWO_WAY, [link], [paid], [qb], ctx(refs=REFS))
    assert all(isinstance(a, Skip) for a in actions)
    assert {a.reason for a in actions if isinstance(a, Skip)} == {SkipReason.ONE_WAY_TARGET}
    # …while the QBO side of the same pair still syncs.
    edited = invoice(Q, "20", customer_id="q1", lines=(("i1", "3", "50"),), source=Q, version="1")
    (update,) = plan(TWO_WAY, [link], [paid], [edited], ctx(refs=REFS))
    assert isinstance(update, Update) and update.target is H and "lines" in update.fields
    assert "memo" not in update.fields


def test_hubspot_status_transitions() -> None:
    assert status_path("draft", "paid") == ["open", "paid"]
    assert status_path("paid", "voided") == ["open", "voided"]
    assert status_path("open", "open") == []
    with pytest.raises(TerminalError):
        status_path("voided", "open")


def test_qbo_custom_field_definition_ids_come_from_preferences() -> None:
    prefs = {
        "SalesFormsPrefs": {
            "CustomField": [
                {
                    "CustomField": [
                        {"Name": "SalesFormsPrefs.UseSalesCustom2", "BooleanValue": True}
                    ]
                },
                {
                    "CustomField": [
                        {"Name": "SalesFormsPrefs.SalesCustomName2", "StringValue": "PO number"}
                    ]
                },
            ]
        }
    }
    assert custom_field_ids(prefs) == {"PO number": "2"}
    assert custom_field_ids({}) == {}


def _payment(system: System, id_: str, invoice_id: str, amount: str, **kw: object) -> PaymentRecord:
    return PaymentRecord(
        RecordRef(system, id_),
        "1",
        T,
        invoice_id,
        Decimal(amount),
        "USD",
        T.date(),
        **kw,  # type: ignore[arg-type]
    )


def _invoice_link() -> Link:
    return Link(ObjectPair.INVOICES_INVOICES, "10", "20", "1", "0", "h", "q", {})


def test_R_PAY_1_payments_follow_outbound_and_two_way_invoice_sync_only() -> None:
    qbo = _payment(Q, "7@20", "20", "40")
    (create,) = plan_payments(TWO_WAY, [], [_invoice_link()], [], [qbo])
    assert isinstance(create, PaymentWrite)
    assert (create.kind, create.target, create.invoice_id, create.amount) == (
        "create",
        H,
        "10",
        Decimal("40"),
    )
    assert plan_payments(INBOUND, [], [_invoice_link()], [], [qbo]) == []


def test_R_BEY_1_our_own_payments_and_payments_on_unsynced_invoices_are_not_posted() -> None:
    ours = _payment(H, "5", "10", "40", ours=True)
    elsewhere = _payment(H, "6", "11", "40")
    actions = plan_payments(TWO_WAY, [], [_invoice_link()], [ours, elsewhere], [])
    assert all(isinstance(a, PaymentSkip) for a in actions)
    again = plan_payments(TWO_WAY, [], [_invoice_link()], [_payment(H, "5", "10", "40")], [])
    (first,) = again
    (second,) = plan_payments(TWO_WAY, [], [_invoice_link()], [_payment(H, "5", "10", "40")], [])
    assert isinstance(first, PaymentWrite) and isinstance(second, PaymentWrite)
    assert first.key == second.key  # the same payment is posted with the same request id
