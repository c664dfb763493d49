from __future__ import annotations

import datetime as dt

from ledgerbridge.domain import InvoiceStatus, System
from ledgerbridge.sync.actions import Create, Exclude, Fail, Update
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.plan import plan
from ledgerbridge.sync.rules import Direction, InvoiceSettings, ObjectPair, SyncRule

from .factories import T0, H, Q, ctx, invoice, link_for

REFS = RefIndex(contacts={"c1": "q1"}, products={"p1": "i1"}, custom_line_item_id="99")
OUTBOUND = wizard_defaults(ObjectPair.INVOICES_INVOICES).model_copy(
    update={"invoice": InvoiceSettings(custom_line_item_income_account="79")}
)
TWO_WAY = OUTBOUND.model_copy(update={"direction": Direction.TWO_WAY})


def linked_pair(rule: SyncRule, origin: System = H):  # type: ignore[no-untyped-def]
    hs = invoice(H, "10", customer_id="c1", lines=(("p1", "2", "50"),))
    qb = invoice(Q, "20", customer_id="q1", lines=(("i1", "2", "50"),), source=Q, version="0")
    base = dict(snapshot(rule, hs, REFS))
    link = link_for(ObjectPair.INVOICES_INVOICES, hs, qb, base, origin=origin, refs=REFS, rule=rule)
    return hs, qb, link


def test_R_INV_4_new_invoice_is_created_on_the_other_side() -> None:
    hs = invoice(H, "10", customer_id="c1", lines=(("p1", "2", "50"),))
    (create,) = plan(OUTBOUND, [], [hs], [], ctx(refs=REFS))
    assert isinstance(create, Create)
    assert create.target is Q
    assert create.fields["customer"] == "c1"
    assert "status" not in create.fields  # QBO has no writable status
    assert create.link_after.origin is H


def test_R_INV_2_fixed_filters_exclude_drafts_old_and_qbo_made_invoices() -> None:
    draft = invoice(H, "1", customer_id="c1", status=InvoiceStatus.DRAFT)
    old = invoice(H, "2", customer_id="c1", updated_at=T0 - dt.timedelta(days=1))
    from_qbo = invoice(H, "3", customer_id="c1", source=Q)
    actions = plan(OUTBOUND, [], [draft, old, from_qbo], [], ctx(refs=REFS))
    assert actions == [
        Exclude(draft.ref, "Invoice is not a draft"),
        Exclude(old.ref, "Created or modified after the sync started"),
        Exclude(from_qbo.ref, "Invoice source is HubSpot"),
    ]


def test_R_INV_11_invoice_without_a_linked_customer_fails() -> None:
    unlinked = invoice(H, "1", customer_id="c-unsynced")
    nobody = invoice(H, "2", customer_id=None)
    actions = plan(OUTBOUND, [], [unlinked, nobody], [], ctx(refs=REFS))
    fails = [a for a in actions if isinstance(a, Fail)]
    assert [a.category for a in fails] == [
        ErrorCategory.MISSING_CUSTOMER,
        ErrorCategory.MISSING_CUSTOMER,
    ]
    # The detail names the customer as a person reads it, and the way it has to sync.
    assert fails[0].detail == (
        "the invoice's customer, HubSpot contact c-unsynced, is not linked to a customer in "
        "QuickBooks: the contact rule must sync HubSpot → QuickBooks (or two-way) and its "
        "filters must let it through"
    )
    assert fails[1].detail.startswith("the invoice has no customer")
    inbound = OUTBOUND.model_copy(update={"direction": Direction.QBO_TO_HUBSPOT, "filters": ()})
    (fail,) = plan(
        inbound, [], [], [invoice(Q, "5", customer_id="q-unsynced", source=Q)], ctx(refs=REFS)
    )
    assert isinstance(fail, Fail) and fail.category is ErrorCategory.MISSING_CUSTOMER
    assert "QuickBooks customer q-unsynced" in fail.detail
    assert "must sync QuickBooks → HubSpot" in fail.detail


def test_R_INV_7_line_edits_in_qbo_on_a_hubspot_invoice_fail() -> None:
    _hs, _qb, link = linked_pair(TWO_WAY)
    edited = invoice(Q, "20", customer_id="q1", lines=(("i1", "3", "50"),), source=Q, version="1")
    (fail,) = plan(TWO_WAY, [link], [], [edited], ctx(refs=REFS))
    assert isinstance(fail, Fail)
    assert fail.category is ErrorCategory.HUBSPOT_INVOICE_EDITED_IN_QBO
    assert "lines" in fail.detail
    # Same under an outbound-only rule: the change is not taken, the record fails.
    (fail,) = plan(OUTBOUND, [link], [], [edited], ctx(refs=REFS))
    assert isinstance(fail, Fail)


def test_R_INV_7_header_only_edits_in_qbo_are_allowed() -> None:
    _hs, _qb, link = linked_pair(TWO_WAY)
    memo = invoice(
        Q, "20", customer_id="q1", lines=(("i1", "2", "50"),), memo="Thanks!", version="1"
    )
    (update,) = plan(TWO_WAY, [link], [], [memo], ctx(refs=REFS))
    assert isinstance(update, Update)
    assert (update.target, dict(update.fields)) == (H, {"memo": "Thanks!"})


def test_R_INV_7_qbo_made_invoices_can_be_edited_freely_in_qbo() -> None:
    rule = TWO_WAY.model_copy(update={"filters": ()})
    _hs, _qb, link = linked_pair(rule, origin=Q)
    edited = invoice(Q, "20", customer_id="q1", lines=(("i1", "3", "50"),), source=Q, version="1")
    (update,) = plan(rule, [link], [], [edited], ctx(refs=REFS))
    assert isinstance(update, Update) and update.target is H
    assert "lines" in update.fields


def test_R_INV_9_order_discount_is_written_with_the_lines_to_qbo() -> None:
    hs, _qb, link = linked_pair(OUTBOUND)
    from ledgerbridge.domain import Discount, Invoice

    assert isinstance(hs.domain, Invoice)
    discounted = type(hs)(
        hs.ref, "2", hs.updated_at, _replace(hs.domain, discount=Discount.percent(10)), hs.raw
    )
    (update,) = plan(OUTBOUND, [link], [discounted], [], ctx(refs=REFS))
    assert isinstance(update, Update)
    assert set(update.fields) == {"lines", "order_discount"}
    assert update.fields["order_discount"] == "percent:10"


def _replace(doc: object, **changes: object) -> object:
    import dataclasses

    return dataclasses.replace(doc, **changes)  # type: ignore[type-var]
