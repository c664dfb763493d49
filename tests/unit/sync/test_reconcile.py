"""The pure reconciliation (R-BEY-2): field drift, unlinked records, gone links."""

from __future__ import annotations

from ledgerbridge.domain import RecordRef
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
        }
    ]
    assert show(None) == "—" and show("x") == "x"
    assert show([{"a": "1"}]) == '[{"a":"1"}]'
    assert RecordRef(H, "1") == hs.ref
