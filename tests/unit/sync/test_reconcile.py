"""The pure reconciliation (R-BEY-2): field drift, unlinked records, gone links."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import Discount, InvoiceStatus, RecordRef, System
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import Link, RefIndex, SideRecord
from ledgerbridge.sync.reconcile import (
    FieldDrift,
    GoneLink,
    UnlinkedKind,
    invoice_key,
    pair_unlinked,
    reconcile,
    show,
)
from ledgerbridge.sync.rules import Direction, Filter, FilterOperator, ObjectPair, SyncRule

from .factories import H, Q, contact, customer, invoice, item, link_for, product

CONTACTS = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)
PRODUCTS = wizard_defaults(ObjectPair.PRODUCTS_ITEMS).model_copy(
    update={"direction": Direction.TWO_WAY, "filters": ()}
)
INVOICES = wizard_defaults(ObjectPair.INVOICES_INVOICES).model_copy(
    update={"direction": Direction.TWO_WAY, "filters": ()}
)
NONE = RefIndex()


def linked(rule: SyncRule, hs: SideRecord, qb: SideRecord) -> Link:
    return link_for(rule.object_pair, hs, qb, dict(snapshot(rule, hs, NONE)), rule=rule)


def test_agreeing_pairs_have_no_drift() -> None:
    hs, qb = contact("1", "jane@x.io", "Jane", "Doe"), customer("7", "Jane@X.io", "Jane", "Doe")
    report = reconcile(CONTACTS, [linked(CONTACTS, hs, qb)], [hs], [qb], NONE)
    assert report.count == 0
    assert (report.links, report.hubspot_records, report.qbo_records) == (1, 1, 1)


def test_field_drift_compares_current_snapshots_not_hashes() -> None:
    hs, qb = contact("1", "jane@x.io", "Jane", "Doe"), customer("7", "jane@x.io", "Jane", "Doe")
    link = linked(CONTACTS, hs, qb)
    edited = customer("7", "jane@x.io", "Janet", None)
    report = reconcile(CONTACTS, [link], [hs], [edited], NONE)
    assert report.fields == (
        FieldDrift("1", "7", "first_name", "Jane", "Janet"),
        FieldDrift("1", "7", "last_name", "Doe", None),
    )
    assert report.unlinked == () and report.gone == ()


def test_disabled_mappings_are_not_compared() -> None:
    rule = CONTACTS.model_copy(
        update={
            "mappings": tuple(
                m.model_copy(update={"enabled": m.name != "first_name"}) for m in CONTACTS.mappings
            )
        }
    )
    hs, qb = contact("1", "jane@x.io", "Jane"), customer("7", "jane@x.io", "Janet")
    assert reconcile(rule, [linked(rule, hs, qb)], [hs], [qb], NONE).count == 0


def test_unlinked_records_with_one_key_on_each_side_should_be_linked() -> None:
    hs, qb = contact("1", "ann@x.io", "Ann"), customer("7", "ANN@x.io", "Ann")
    report = reconcile(CONTACTS, [], [hs], [qb], NONE)
    (entry,) = report.unlinked
    assert (entry.kind, entry.ref, entry.counterparts) == (
        UnlinkedKind.MATCH,
        hs.ref,
        (qb.ref,),
    )
    assert entry.key == "ann@x.io" and entry.note is None


def test_ambiguous_keys_are_reported_for_every_record() -> None:
    hs = contact("1", "ann@x.io")
    qbs = [customer("7", "ann@x.io"), customer("8", "ann@x.io")]
    report = reconcile(CONTACTS, [], [hs], qbs, NONE)
    kinds = sorted((u.kind, str(u.ref)) for u in report.unlinked)
    assert kinds == [
        (UnlinkedKind.AMBIGUOUS, "hubspot:1"),
        (UnlinkedKind.AMBIGUOUS, "quickbooks:7"),
        (UnlinkedKind.AMBIGUOUS, "quickbooks:8"),
    ]


def test_a_key_held_by_a_linked_record_is_a_duplicate() -> None:
    hs, qb = contact("1", "ann@x.io"), customer("7", "ann@x.io")
    twin = customer("8", "ann@x.io")
    report = reconcile(CONTACTS, [linked(CONTACTS, hs, qb)], [hs], [qb, twin], NONE)
    (entry,) = report.unlinked
    assert (entry.kind, entry.ref, entry.counterparts) == (
        UnlinkedKind.DUPLICATE,
        twin.ref,
        (hs.ref,),
    )


def test_missing_counterparts_respect_direction_and_filters() -> None:
    rule = PRODUCTS.model_copy(
        update={
            "direction": Direction.QBO_TO_HUBSPOT,
            "filters": (
                Filter(
                    flow=Direction.QBO_TO_HUBSPOT,
                    property="Sku",
                    operator=FilterOperator.IS_KNOWN,
                ),
            ),
        }
    )
    only_hs = product("1", "H-1")  # HubSpot does not flow to QBO in this rule
    with_sku = item("7", "Q-1")
    no_sku = item("8", None)  # excluded by the filter
    report = reconcile(rule, [], [only_hs], [with_sku, no_sku], NONE)
    assert [(u.kind, u.ref) for u in report.unlinked] == [(UnlinkedKind.MISSING, with_sku.ref)]


def test_a_match_excluded_by_a_filter_says_why() -> None:
    rule = CONTACTS.model_copy(
        update={
            "filters": (
                Filter(
                    flow=Direction.HUBSPOT_TO_QBO,
                    property="lifecyclestage",
                    operator=FilterOperator.EQUALS,
                    value="customer",
                    label="Lifecycle stage is customer",
                ),
            ),
            "direction": Direction.HUBSPOT_TO_QBO,
        }
    )
    hs, qb = contact("1", "ann@x.io"), customer("7", "ann@x.io")
    (entry,) = reconcile(rule, [], [hs], [qb], NONE).unlinked
    assert entry.kind is UnlinkedKind.MATCH
    assert entry.note == "not linked because: Lifecycle stage is customer"


def test_gone_links_deleted_or_missing_on_one_side() -> None:
    a_hs, a_qb = contact("1", "a@x.io"), customer("7", "a@x.io")
    b_hs, b_qb = contact("2", "b@x.io"), customer("8", "b@x.io")
    c_hs, c_qb = contact("3", "c@x.io"), customer("9", "c@x.io")
    links = [linked(CONTACTS, h, q) for h, q in ((a_hs, a_qb), (b_hs, b_qb), (c_hs, c_qb))]
    archived = contact("1", "a@x.io", deleted=True)
    c_gone = contact("3", "c@x.io", deleted=True)
    c_inactive = SideRecord(c_qb.ref, c_qb.version, c_qb.updated_at, c_qb.domain, {}, True)
    # a: archived in HubSpot; b: the QBO record is not there at all; c: gone on both
    report = reconcile(CONTACTS, links, [archived, b_hs, c_gone], [a_qb, c_inactive], NONE)
    assert report.gone == (
        GoneLink("1", "7", H, "deleted"),
        GoneLink("2", "8", Q, "missing"),
    )
    assert report.fields == () and report.unlinked == ()


def test_invoices_match_on_number_customer_date_and_amount() -> None:
    refs = RefIndex(contacts={"c1": "q1"})
    hs = invoice(H, "10", customer_id="c1", number="INV-7")
    qb = invoice(Q, "20", customer_id="q1", number="inv-7", source=Q)
    other_amount = invoice(Q, "21", customer_id="q1", number="INV-8", lines=((None, "2", "5"),))
    assert invoice_key(INVOICES, hs, refs) == invoice_key(INVOICES, qb, refs)
    assert invoice_key(INVOICES, hs, refs) == "inv-7|c1|2025-01-02|100 USD"
    assert pair_unlinked(INVOICES, [], [hs], [qb, other_amount], refs) == [
        (hs, qb, "inv-7|c1|2025-01-02|100 USD")
    ]
    # An unlinked customer gives no key: such invoices are never paired.
    assert invoice_key(INVOICES, hs, NONE) is None
    report = reconcile(INVOICES, [], [hs], [qb, other_amount], refs)
    kinds = sorted((u.kind, u.ref.id) for u in report.unlinked)
    assert kinds == [(UnlinkedKind.MATCH, "10"), (UnlinkedKind.MISSING, "21")]


def test_report_as_dict_and_show() -> None:
    hs, qb = contact("1", "jane@x.io", "Jane"), customer("7", "jane@x.io", "Janet")
    new = customer("8", "zed@x.io")
    data = reconcile(CONTACTS, [linked(CONTACTS, hs, qb)], [hs], [qb, new], NONE).as_dict()
    assert data["drift"] == 2
    assert data["fields"][0]["field"] == "first_name"
    assert data["unlinked"] == [
        {
            "kind": "missing",
            "record": "quickbooks:8",
            "key": "zed@x.io",
            "counterparts": [],
            "note": None,
            "action": data["unlinked"][0]["action"],
        }
    ]
    assert "ledgerbridge backfill --object contacts" in data["unlinked"][0]["action"]
    assert data["fields"][0]["action"].startswith("edit First name in HubSpot or QuickBooks")
    assert show(None) == "—" and show("x") == "x"
    assert show([{"a": "1"}]) == '[{"a":"1"}]'
    assert RecordRef(H, "1") == hs.ref


# ---- only what the rules keep equal, each with its fix (issue 19, finding 2) ----

INVOICE_REFS = RefIndex(contacts={"c1": "q1"})


def invoice_pair(
    origin: System, *, hs_number: str, qbo_number: str, **qbo: Any
) -> tuple[Link, SideRecord, SideRecord]:
    hs = invoice(H, "10", customer_id="c1", number=hs_number, source=origin)
    qb = invoice(Q, "20", customer_id="q1", number=qbo_number, source=origin, **qbo)
    base = dict(snapshot(INVOICES, hs, INVOICE_REFS))
    link = link_for(INVOICES.object_pair, hs, qb, base, origin=origin, refs=INVOICE_REFS)
    return link, hs, qb


def test_an_invoice_from_qbo_keeps_hubspots_own_number_without_drift() -> None:
    link, hs, qb = invoice_pair(Q, hs_number="INV-1085", qbo_number="1001")
    report = reconcile(INVOICES, [link], [hs], [qb], INVOICE_REFS)
    assert report.count == 0, report.as_dict()
    # matched by key (no origin on the link): the invoice's own source says where it began
    unknown = dataclasses.replace(link, origin=None)
    assert reconcile(INVOICES, [unknown], [hs], [qb], INVOICE_REFS).count == 0


def test_a_hubspot_invoice_renumbered_in_qbo_is_drift_with_its_fix() -> None:
    link, hs, qb = invoice_pair(H, hs_number="INV-7", qbo_number="9999")
    report = reconcile(INVOICES, [link], [hs], [qb], INVOICE_REFS)
    assert report.fields == (FieldDrift("10", "20", "number", "INV-7", "9999"),)
    action = report.fields[0].action
    assert "QuickBooks back to 'INV-7'" in action and "HubSpot to QuickBooks" in action


def test_a_voided_invoice_is_not_compared_on_the_amounts_qbo_zeroes() -> None:
    hs = invoice(H, "10", customer_id="c1", status=InvoiceStatus.VOIDED, source=H)
    qb = invoice(Q, "20", customer_id="q1", status=InvoiceStatus.VOIDED, lines=((None, "1", "0"),))
    discounted = dataclasses.replace(
        hs, domain=dataclasses.replace(hs.domain, discount=Discount.percent(Decimal("10")))
    )
    base = dict(snapshot(INVOICES, discounted, INVOICE_REFS))
    link = link_for(INVOICES.object_pair, discounted, qb, base, origin=H, refs=INVOICE_REFS)
    report = reconcile(INVOICES, [link], [discounted], [qb], INVOICE_REFS)
    assert report.count == 0, report.as_dict()


def test_a_hubspot_void_not_made_in_qbo_is_drift_with_its_fix() -> None:
    rule = INVOICES.model_copy(update={"direction": Direction.HUBSPOT_TO_QBO})
    hs = invoice(H, "10", customer_id="c1", status=InvoiceStatus.VOIDED)
    qb = invoice(Q, "20", customer_id="q1")
    link = link_for(rule.object_pair, hs, qb, {}, origin=H, refs=INVOICE_REFS, rule=rule)
    (drift,) = reconcile(rule, [link], [hs], [qb], INVOICE_REFS).fields
    assert (drift.field, drift.hubspot_value, drift.qbo_value) == ("status", "voided", "open")
    assert drift.action.startswith("void the invoice in QuickBooks")
    # a paid / open difference is not copied from HubSpot to QuickBooks: not drift
    paid = invoice(H, "10", customer_id="c1", status=InvoiceStatus.PAID)
    assert reconcile(rule, [link], [paid], [qb], INVOICE_REFS).fields == ()


def test_fields_no_side_flows_from_are_not_compared() -> None:
    rule = PRODUCTS.model_copy(update={"direction": Direction.QBO_TO_HUBSPOT})
    name = next(m for m in rule.mappings if m.name == "name")
    one_way = rule.model_copy(
        update={
            "mappings": tuple(
                m.model_copy(update={"read_only_on": H}) if m is name else m for m in rule.mappings
            )
        }
    )
    hs, qb = product("1", "S-1", "Hub name"), item("7", "S-1", "QBO name")
    link = linked(one_way, hs, qb)
    assert reconcile(one_way, [link], [hs], [qb], NONE).count == 0
    (drift,) = reconcile(rule, [linked(rule, hs, qb)], [hs], [qb], NONE).fields
    assert "HubSpot back to 'QBO name'" in drift.action


def test_a_voided_invoice_never_synced_is_not_missing() -> None:
    voided = invoice(H, "10", customer_id="c1", status=InvoiceStatus.VOIDED)
    report = reconcile(INVOICES, [], [voided], [], INVOICE_REFS)
    assert report.unlinked == ()


def test_every_reported_difference_says_what_fixes_it() -> None:
    a_hs, a_qb = contact("1", "a@x.io", "Ann"), customer("7", "a@x.io", "Anne")
    b_hs, b_qb = contact("2", "b@x.io"), customer("8", "b@x.io")
    links = [linked(CONTACTS, a_hs, customer("7", "a@x.io", "Ann")), linked(CONTACTS, b_hs, b_qb)]
    extra = [customer("9", "z@x.io"), customer("10", "b@x.io"), contact("3", "m@x.io")]
    archived = contact("2", "b@x.io", deleted=True)
    report = reconcile(CONTACTS, links, [a_hs, archived, extra[2]], [a_qb, b_qb, *extra[:2]], NONE)
    entries = [*report.fields, *report.unlinked, *report.gone]
    assert len(entries) == report.count >= 4
    assert all(entry.action for entry in entries)
