from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ledgerbridge.domain import RecordRef
from ledgerbridge.sync import canonical
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.mapping import read_raw, snapshot
from ledgerbridge.sync.model import RefIndex, SideRecord, snapshot_hash
from ledgerbridge.sync.payloads import (
    CUSTOM_LINE_ITEM_NAME,
    cowritten,
    custom_line_item_body,
    hubspot_payload,
    qbo_payload,
)
from ledgerbridge.sync.rules import (
    FieldMapping,
    FieldType,
    InvoiceSettings,
    ObjectPair,
    ServiceDateSource,
)

from .factories import LATER, H, Q, contact, customer, invoice, item, product

CONTACTS = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)
PRODUCTS = wizard_defaults(ObjectPair.PRODUCTS_ITEMS)
INVOICES = wizard_defaults(ObjectPair.INVOICES_INVOICES)


def test_canonical_forms() -> None:
    assert canonical.text("  Acme  ") == "Acme"
    assert canonical.text("   ") is None
    assert canonical.number("10.50") == "10.5"
    assert canonical.number(Decimal("1E+2")) == "100"
    assert canonical.number("-0.00") == "0"
    assert canonical.number(10.5) == "10.5"
    assert canonical.date("2025-03-04T23:00:00Z") == "2025-03-04"
    assert canonical.date("1741046400000") == "2025-03-04"  # HubSpot epoch ms
    assert canonical.date(dt.date(2025, 3, 4)) == "2025-03-04"


def test_same_party_gives_the_same_snapshot_on_both_sides() -> None:
    hs = contact("1", "  Jane@Example.com ", "Jane", "Doe", "Acme")
    qb = customer("7", "jane@example.com", "Jane", "Doe", "Acme")
    assert snapshot(CONTACTS, hs, RefIndex()) == snapshot(CONTACTS, qb, RefIndex())
    assert snapshot(CONTACTS, hs, RefIndex())["email"] == "jane@example.com"


def test_snapshot_hash_is_stable_and_order_independent() -> None:
    assert snapshot_hash({"a": "1", "b": None}) == snapshot_hash({"b": None, "a": "1"})
    assert snapshot_hash({"a": "1"}) != snapshot_hash({"a": "2"})


def test_raw_records_read_through_mapping_paths() -> None:
    hs = SideRecord(
        RecordRef(H, "1"), "1", LATER, None, {"name": "Widget", "hs_sku": "S1", "price": "10.00"}
    )
    qb = SideRecord(
        RecordRef(Q, "9"), "0", LATER, None, {"Name": "Widget", "Sku": "S1", "UnitPrice": 10}
    )
    assert snapshot(PRODUCTS, hs, RefIndex()) == snapshot(PRODUCTS, qb, RefIndex())


def test_R_CON_6_custom_mappings_read_any_field_by_path() -> None:
    rule = INVOICES.model_copy(
        update={
            "mappings": (
                FieldMapping(name="po", hubspot="hs_po", qbo="CustomField:PO number"),
                FieldMapping(name="ship", hubspot="ship_via", qbo="ShipMethodRef.value"),
                FieldMapping(
                    name="terms",
                    hubspot="terms",
                    qbo="SalesTermRef.value",
                    type=FieldType.ENUMERATION,
                    value_map={"net_30": "3"},
                ),
                FieldMapping(
                    name="ship_date", hubspot="ship_date", qbo="ShipDate", type=FieldType.DATE
                ),
            )
        }
    )
    qbo_raw = {
        "CustomField": [
            {"DefinitionId": "1", "Name": "PO number", "Type": "StringType", "StringValue": "PO-7"}
        ],
        "ShipMethodRef": {"value": "UPS"},
        "SalesTermRef": {"value": "3"},
        "ShipDate": "2025-02-01",
    }
    hs_raw = {"hs_po": "PO-7", "ship_via": "UPS", "terms": "net_30", "ship_date": "1738368000000"}
    qb = SideRecord(RecordRef(Q, "1"), "0", LATER, None, qbo_raw)
    hs = SideRecord(RecordRef(H, "1"), "1", LATER, None, hs_raw)
    expected = {"po": "PO-7", "ship": "UPS", "terms": "net_30", "ship_date": "2025-02-01"}
    assert snapshot(rule, qb, RefIndex()) == expected
    assert snapshot(rule, hs, RefIndex()) == expected
    # …and write back in each side's own shape.
    assert qbo_payload(rule, expected, RefIndex()) == {
        "CustomField": [{"Name": "PO number", "Type": "StringType", "StringValue": "PO-7"}],
        "ShipMethodRef": {"value": "UPS"},
        "SalesTermRef": {"value": "3"},
        "ShipDate": "2025-02-01",
    }
    assert hubspot_payload(rule, expected).properties == {
        "hs_po": "PO-7",
        "ship_via": "UPS",
        "terms": "net_30",
        "ship_date": "2025-02-01",
    }
    assert read_raw(qbo_raw, "CustomField:Missing", Q) is None


def test_R_CON_6_a_toggled_off_mapping_is_not_in_the_snapshot() -> None:
    rule = CONTACTS.model_copy(
        update={
            "mappings": tuple(
                m.model_copy(update={"enabled": m.name != "phone"}) for m in CONTACTS.mappings
            )
        }
    )
    assert "phone" not in snapshot(rule, contact("1", "a@x.io"), RefIndex())


def test_payloads_clear_with_empty_strings_and_write_decimals() -> None:
    assert hubspot_payload(PRODUCTS, {"price": "10.5", "description": None}).properties == {
        "price": "10.5",
        "description": "",
    }
    assert qbo_payload(PRODUCTS, {"price": "10.5"}, RefIndex()) == {"UnitPrice": Decimal("10.5")}


def test_qbo_nested_objects_are_written_whole() -> None:
    assert cowritten(CONTACTS, Q, {"billing_city"}) == {
        "billing_street",
        "billing_city",
        "billing_region",
        "billing_postal_code",
        "billing_country",
    }
    assert cowritten(CONTACTS, H, {"billing_city"}) == {"billing_city"}
    assert cowritten(INVOICES, Q, {"order_discount"}) == {"lines", "order_discount"}


def test_qbo_payload_sets_display_name() -> None:
    body = qbo_payload(
        CONTACTS, {"email": "a@x.io", "company": "Acme"}, RefIndex(), display_name="Acme"
    )
    assert body == {
        "PrimaryEmailAddr": {"Address": "a@x.io"},
        "CompanyName": "Acme",
        "DisplayName": "Acme",
    }


def test_invoice_references_translate_through_links() -> None:
    refs = RefIndex(contacts={"c1": "q1"}, products={"p1": "i1"}, custom_line_item_id="99")
    hs = invoice(H, "10", customer_id="c1", lines=(("p1", "2", "5.00"), (None, "1", "3")))
    qb = invoice(Q, "20", customer_id="q1", lines=(("i1", "2", "5"), ("99", "1", "3.00")))
    hs_snap = snapshot(INVOICES, hs, refs)
    assert hs_snap == snapshot(INVOICES, qb, refs)
    assert hs_snap["customer"] == "c1"
    body = qbo_payload(INVOICES, {"customer": "c1", "lines": hs_snap["lines"]}, refs)
    assert body["CustomerRef"] == {"value": "q1"}
    items = [line["SalesItemLineDetail"]["ItemRef"]["value"] for line in body["Line"]]
    assert items == ["i1", "99"]
    write = hubspot_payload(INVOICES, {"customer": "c1", "lines": hs_snap["lines"]})
    assert write.contact_id == "c1"
    assert write.line_items is not None
    assert write.line_items[0]["hs_product_id"] == "p1"


def test_R_PRD_3_unlinked_products_go_to_the_custom_line_item() -> None:
    refs = RefIndex(custom_line_item_id="99")
    hs = invoice(H, "10", customer_id=None, lines=(("p-unsynced", "1", "5"),))
    lines = snapshot(INVOICES, hs, refs)["lines"]
    assert isinstance(lines, list)
    assert lines[0]["product"] is None
    body = qbo_payload(INVOICES, {"lines": lines}, refs)
    assert body["Line"][0]["SalesItemLineDetail"]["ItemRef"] == {"value": "99"}
    rule = INVOICES.model_copy(
        update={"invoice": InvoiceSettings(custom_line_item_income_account="79")}
    )
    assert custom_line_item_body(rule) == {
        "Name": CUSTOM_LINE_ITEM_NAME,
        "Type": "Service",
        "IncomeAccountRef": {"value": "79"},
    }


def test_R_INV_10_service_date_mapping_fills_lines_from_the_invoice_date() -> None:
    rule = INVOICES.model_copy(
        update={"invoice": InvoiceSettings(service_date=ServiceDateSource.ISSUE_DATE)}
    )
    refs = RefIndex(custom_line_item_id="99")
    lines = snapshot(rule, invoice(H, "1", customer_id=None), refs)["lines"]
    assert isinstance(lines, list)
    assert lines[0]["service_date"] == "2025-01-02"
    body = qbo_payload(rule, {"lines": lines}, refs)
    assert body["Line"][0]["SalesItemLineDetail"]["ServiceDate"] == "2025-01-02"


def test_products_and_items_with_equal_prices_agree() -> None:
    assert snapshot(PRODUCTS, product("1", "S1", price="10.00"), RefIndex()) == snapshot(
        PRODUCTS, item("2", "S1", price="10"), RefIndex()
    )
