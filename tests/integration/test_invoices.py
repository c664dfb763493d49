"""Invoices ↔ invoices over both sandboxes (R-INV, R-PRD-3, R-BEY-1)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledgerbridge.operations.invoices import (
    CLOSE_BOOKS_WARNING,
    CUSTOM_TXN_NUMBERS_WARNING,
    InvoiceNotSyncedError,
    invoice_pdf,
    invoice_rule_problems,
    invoice_setup_warnings,
)
from ledgerbridge.store import RecordStatus
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.rules import Direction, FieldMapping, InvoiceSettings, ServiceDateSource
from tests.integration.conftest import contacts_rule, products_rule
from tests.integration.harness import Lab
from tests.integration.invoicing import (
    INVOICES,
    customer_and_contact,
    hs_associate,
    hs_get,
    hs_invoice,
    hs_lines,
    invoice_rule,
    product_and_item,
    qbo_get,
    qbo_invoice,
    qbo_item,
    qbo_lines,
    set_up,
)


async def _linked_qbo(lab: Lab, hubspot_id: str) -> str:
    return next(x.qbo_id for x in lab.links(INVOICES) if x.hubspot_id == hubspot_id)


async def test_R_INV_2_outbound_fixed_filters(lab: Lab) -> None:
    contact_old = await lab.hs_create("contacts", email="old@example.com")
    old = await hs_invoice(lab, contact_old, [("Before", "1x10", None)])
    lab.time.advance(10)
    await set_up(lab)
    contact, _ = await customer_and_contact(lab)
    draft = await hs_invoice(lab, contact, [("Draft", "1x10", None)], finalize=False)
    # An invoice made through the API (source "integration") is not HubSpot's own.
    api_made = (await lab.hubspot_client().create("invoices", {"hs_currency": "USD"})).id
    eligible = await hs_invoice(lab, contact, [("Service", "1x10", None)])

    report = await lab.engine().run_pass()

    counts = report.pairs[INVOICES]
    assert (counts.created, counts.failed) == (1, 0), report.as_dict()
    excluded = {r.record_id: r.excluded_by for r in lab.records(INVOICES, RecordStatus.EXCLUDED)}
    assert excluded == {
        old: "Created or modified after the sync started",
        draft: "Invoice is not a draft",
        api_made: "Invoice source is HubSpot",
    }
    assert [x.hubspot_id for x in lab.links(INVOICES)] == [eligible]
    assert len(await lab.qbo_all("Invoice")) == 1
    again = await lab.engine().run_pass()
    print(__import__("json").dumps(again.as_dict(), default=str))
    assert again.writes == 0


async def test_R_INV_4_outbound_create_update_void(lab: Lab) -> None:
    await set_up(lab, invoice=InvoiceSettings(custom_line_item_income_account=None))
    contact, customer = await customer_and_contact(lab)
    product, item = await product_and_item(lab, "W-1", "50")
    invoice_id = await hs_invoice(lab, contact, [("Widget", "2x50", product)], hs_comments="Thanks")

    report = await lab.engine().run_pass()

    assert report.pairs[INVOICES].created == 1, report.as_dict()
    qbo_id = await _linked_qbo(lab, invoice_id)
    qbo = await qbo_get(lab, "Invoice", qbo_id)
    hs = await hs_get(lab, "invoices", invoice_id)
    assert qbo["CustomerRef"]["value"] == customer
    assert qbo_lines(qbo) == [(item, "2", "50")]
    assert Decimal(str(qbo["TotalAmt"])) == Decimal("100")
    assert qbo["DocNumber"] == hs.get("hs_number")
    assert qbo["CustomerMemo"]["value"] == "Thanks"
    assert (await lab.engine().run_pass()).writes == 0

    # An edit in HubSpot (a line's quantity, the memo) updates the QBO invoice.
    line_id = hs.associated("line_items")[0]
    await lab.hs_update("line_items", line_id, quantity="3")
    await lab.hs_update("invoices", invoice_id, hs_comments="Updated")
    report = await lab.engine().run_pass()
    assert report.pairs[INVOICES].updated == 1, report.as_dict()
    qbo = await qbo_get(lab, "Invoice", qbo_id)
    assert qbo_lines(qbo) == [(item, "3", "50")]
    assert (Decimal(str(qbo["TotalAmt"])), qbo["CustomerMemo"]["value"]) == (150, "Updated")
    assert (await lab.engine().run_pass()).writes == 0

    # Voided in HubSpot → voided (never deleted) in QBO.
    await lab.hs_update("invoices", invoice_id, hs_invoice_status="voided")
    report = await lab.engine().run_pass()
    assert report.pairs[INVOICES].voided == 1, report.as_dict()
    qbo = await qbo_get(lab, "Invoice", qbo_id)
    assert Decimal(str(qbo["TotalAmt"])) == 0 and qbo["PrivateNote"].startswith("Voided")
    assert len(await lab.qbo_all("Invoice")) == 1
    assert (await lab.engine().run_pass()).writes == 0


async def test_R_PRD_3_unmatched_lines_use_the_custom_line_item(lab: Lab) -> None:
    account = await lab.income_account()
    await set_up(lab, invoice=InvoiceSettings(custom_line_item_income_account=account))
    contact, _ = await customer_and_contact(lab)
    first = await hs_invoice(lab, contact, [("Consulting", "3x100", None)])
    second = await hs_invoice(lab, contact, [("Support", "1x20", None)])

    report = await lab.engine().run_pass()

    assert report.pairs[INVOICES].created == 2, report.as_dict()
    items = [i for i in await lab.qbo_all("Item") if i["Name"] == "Custom line item"]
    assert len(items) == 1  # created once, on first need
    (custom,) = items
    assert custom["IncomeAccountRef"]["value"] == account
    for invoice_id in (first, second):
        qbo = await qbo_get(lab, "Invoice", await _linked_qbo(lab, invoice_id))
        assert {line[0] for line in qbo_lines(qbo)} == {custom["Id"]}
    descriptions = [
        line.get("Description")
        for line in (await qbo_get(lab, "Invoice", await _linked_qbo(lab, first)))["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    ]
    assert descriptions == ["Consulting"]
    assert (await lab.engine().run_pass()).writes == 0


@pytest.mark.parametrize("by", ["name", "unknown name"])
async def test_R_PRD_3_income_account_chosen_by_name(lab: Lab, by: str) -> None:
    """Users pick the income account by its name; the id is looked up in QBO."""
    account = await lab.income_account()
    (row,) = [a for a in await lab.qbo_all("Account") if str(a["Id"]) == account]
    name = row["Name"] if by == "name" else "No Such Account"
    await set_up(lab, invoice=InvoiceSettings(custom_line_item_income_account=name))
    contact, _ = await customer_and_contact(lab)
    await hs_invoice(lab, contact, [("Consulting", "1x100", None)])

    report = await lab.engine().run_pass()

    items = [i for i in await lab.qbo_all("Item") if i["Name"] == "Custom line item"]
    if by == "name":
        assert report.pairs[INVOICES].created == 1, report.as_dict()
        assert [i["IncomeAccountRef"]["value"] for i in items] == [account]
    else:
        assert report.pairs[INVOICES].created == 0 and not items
        (failed,) = lab.records(INVOICES, RecordStatus.FAILED)
        assert failed.error_category == ErrorCategory.VALIDATION.value
        assert "'No Such Account' does not exist in QuickBooks" in str(failed.detail)


async def test_R_INV_9_one_order_level_discount(lab: Lab) -> None:
    await set_up(lab)
    contact, _ = await customer_and_contact(lab)
    invoice_id = await hs_invoice(lab, contact, [("Plan", "2x100", None)], hs_discount_amount="25")

    await lab.engine().run_pass()

    qbo = await qbo_get(lab, "Invoice", await _linked_qbo(lab, invoice_id))
    discounts = [x for x in qbo["Line"] if x["DetailType"] == "DiscountLineDetail"]
    assert len(discounts) == 1 and Decimal(str(discounts[0]["Amount"])) == 25
    assert Decimal(str(qbo["TotalAmt"])) == Decimal("175")
    hs = await hs_get(lab, "invoices", invoice_id)
    assert Decimal(hs.get("hs_balance_due") or "0") == Decimal("175")
    assert (await lab.engine().run_pass()).writes == 0


async def test_R_INV_11_missing_customer(lab: Lab) -> None:
    await set_up(lab)
    await lab.engine().run_pass()
    # The contact exists only in HubSpot: the contact rule excludes it (no email match).
    lab.save_rule(contacts_rule(enabled=False))
    stranger = await lab.hs_create("contacts", email="nobody@example.com")
    invoice_id = await hs_invoice(lab, stranger, [("Thing", "1x10", None)])

    report = await lab.engine().run_pass()

    assert report.pairs[INVOICES].failed == 1, report.as_dict()
    (failed,) = lab.records(INVOICES, RecordStatus.FAILED)
    assert failed.record_id == invoice_id
    category = ErrorCategory(failed.error_category)
    assert category is ErrorCategory.MISSING_CUSTOMER
    assert "associated customer" in category.headline + category.explanation
    assert await lab.qbo_all("Invoice") == []
    assert await hs_lines(lab, invoice_id) == [("Thing", "1", "10")]


async def test_R_INV_3_inbound_creates_updates_and_voids_hubspot_invoices(lab: Lab) -> None:
    await set_up(lab, Direction.QBO_TO_HUBSPOT)
    contact, customer = await customer_and_contact(lab)
    product, item = await product_and_item(lab, "W-1", "50")
    loose = await qbo_item(lab, "Labour", "", "0")  # no SKU: no product in HubSpot
    qbo = await qbo_invoice(lab, customer, [(item, "2", "50"), (loose, "1", "30")])

    report = await lab.engine().run_pass()

    assert report.pairs[INVOICES].created == 1, report.as_dict()
    (link,) = lab.links(INVOICES)
    assert link.qbo_id == qbo["Id"]
    hs = await hs_get(lab, "invoices", link.hubspot_id)
    assert (hs.get("hs_invoice_status"), hs.get("hs_invoice_source")) == ("open", "integration")
    assert hs.get("ledgerbridge_qbo_id") == qbo["Id"]
    assert hs.associated("contacts") == (contact,)
    assert hs.associated("deals") == ()  # R-INV-6: never associated with a deal
    assert Decimal(hs.get("hs_balance_due") or "0") == Decimal("130")
    assert await hs_lines(lab, link.hubspot_id) == [
        ("Widget W-1", "2", "50"),
        ("Labour", "1", "30"),
    ]
    first_line = await hs_get(lab, "line_items", sorted(hs.associated("line_items"), key=int)[0])
    assert first_line.get("hs_product_id") == product
    # Each side's record is labelled with its own number (HubSpot numbers its invoices).
    labels = {(r.side, r.record_id): r.label for r in lab.records(INVOICES, RecordStatus.SYNCED)}
    assert labels[("quickbooks", qbo["Id"])] == qbo["DocNumber"]
    assert labels[("hubspot", link.hubspot_id)] == hs.get("hs_number") != qbo["DocNumber"]
    assert (await lab.engine().run_pass()).writes == 0

    # A QBO-made invoice can be edited freely in QBO (R-INV-7): lines are replaced.
    await lab.qbo_update(
        "Invoice",
        qbo["Id"],
        {
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 150,
                    "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 3, "UnitPrice": 50},
                }
            ]
        },
    )
    report = await lab.engine().run_pass()
    assert report.pairs[INVOICES].updated == 1, report.as_dict()
    assert await hs_lines(lab, link.hubspot_id) == [("Widget W-1", "3", "50")]
    hs = await hs_get(lab, "invoices", link.hubspot_id)
    assert Decimal(hs.get("hs_balance_due") or "0") == Decimal("150")
    assert (await lab.engine().run_pass()).writes == 0

    # Voided in QBO → voided in HubSpot.
    current = await qbo_get(lab, "Invoice", qbo["Id"])
    lab.time.advance(1)
    await lab.qbo_client().void("Invoice", qbo["Id"], current["SyncToken"], request_id="user-void")
    report = await lab.engine().run_pass()
    assert report.pairs[INVOICES].updated == 1, report.as_dict()
    hs = await hs_get(lab, "invoices", link.hubspot_id)
    assert hs.get("hs_invoice_status") == "voided"
    assert (await lab.engine().run_pass()).writes == 0
    assert len(await lab.hs_all("invoices")) == 1


async def test_R_INV_7_qbo_line_edit_fails_until_reverted(lab: Lab) -> None:
    await set_up(lab, Direction.TWO_WAY)
    contact, _ = await customer_and_contact(lab)
    product, item = await product_and_item(lab, "W-1", "50")
    invoice_id = await hs_invoice(lab, contact, [("Widget", "2x50", product)])
    await lab.engine().run_pass()
    qbo_id = await _linked_qbo(lab, invoice_id)
    original = await qbo_get(lab, "Invoice", qbo_id)

    def lines(qty: int) -> list[dict[str, object]]:
        return [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": qty * 50,
                "Description": "Widget",
                "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": 50},
            }
        ]

    await lab.qbo_update("Invoice", qbo_id, {"Line": lines(5)})
    report = await lab.engine().run_pass()

    assert report.pairs[INVOICES].failed == 1, report.as_dict()
    (failed,) = lab.records(INVOICES, RecordStatus.FAILED)
    category = ErrorCategory(failed.error_category)
    assert category is ErrorCategory.HUBSPOT_INVOICE_EDITED_IN_QBO
    assert "make them in HubSpot" in category.headline + category.explanation + category.fix
    assert await hs_lines(lab, invoice_id) == [("Widget", "2", "50")]  # not taken
    again = await lab.engine().run_pass()
    assert (again.writes, again.pairs[INVOICES].failed) == (0, 1)

    # A header-only edit in QBO is allowed, and reverting the lines clears the failure.
    await lab.qbo_update("Invoice", qbo_id, {"Line": lines(2), "CustomerMemo": {"value": "Hi"}})
    report = await lab.engine().run_pass()
    assert report.pairs[INVOICES].failed == 0, report.as_dict()
    assert lab.records(INVOICES, RecordStatus.FAILED) == []
    hs = await hs_get(lab, "invoices", invoice_id)
    assert hs.get("hs_comments") == "Hi"
    assert qbo_lines(await qbo_get(lab, "Invoice", qbo_id)) == qbo_lines(original)
    assert (await lab.engine().run_pass()).writes == 0


async def _qbo_settings(lab: Lab, **settings: object) -> None:
    response = await lab.http.patch(
        f"{lab.qbo_url}/_sandbox/realms/{lab.qbo_client().realm_id}/settings", json=settings
    )
    response.raise_for_status()


async def test_R_INV_8_non_us_company_refuses_outbound(lab: Lab) -> None:
    existing = [contacts_rule(), products_rule()]
    account = await lab.income_account()
    settings = InvoiceSettings(custom_line_item_income_account=account)
    outbound = invoice_rule(Direction.HUBSPOT_TO_QBO, invoice=settings)
    inbound = invoice_rule(Direction.QBO_TO_HUBSPOT, invoice=settings)
    qbo = lab.qbo_client()
    assert await invoice_rule_problems(outbound, existing, qbo) == []

    await _qbo_settings(lab, country="CA")

    problems = await invoice_rule_problems(outbound, existing, qbo)
    assert len(problems) == 1 and "requires tax" in problems[0]
    two_way = invoice_rule(Direction.TWO_WAY, invoice=settings)
    assert await invoice_rule_problems(two_way, existing, qbo) == problems
    assert await invoice_rule_problems(inbound, existing, qbo) == []


async def test_R_INV_10_service_date(lab: Lab) -> None:
    await set_up(lab)
    await _qbo_settings(lab, revenue_recognition=True)
    contact, _ = await customer_and_contact(lab)
    invoice_id = await hs_invoice(lab, contact, [("Subscription", "1x120", None)])

    report = await lab.engine().run_pass()

    assert report.pairs[INVOICES].failed == 1, report.as_dict()
    (failed,) = lab.records(INVOICES, RecordStatus.FAILED)
    assert failed.record_id == invoice_id
    category = ErrorCategory(failed.error_category)
    assert category is ErrorCategory.REVENUE_RECOGNITION_SERVICE_DATE
    assert "service date" in category.headline.lower()
    assert await lab.qbo_all("Invoice") == []

    # Beyond: the service date mapping fills it from the invoice date.
    settings = InvoiceSettings(service_date=ServiceDateSource.ISSUE_DATE)
    lab.save_rule(invoice_rule(Direction.HUBSPOT_TO_QBO, invoice=settings))
    await lab.hs_update("invoices", invoice_id, hs_comments="retry")
    report = await lab.engine().run_pass()
    assert report.pairs[INVOICES].created == 1, report.as_dict()
    (qbo,) = await lab.qbo_all("Invoice")
    (line,) = [x for x in qbo["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert line["SalesItemLineDetail"]["ServiceDate"] == qbo["TxnDate"]
    assert lab.records(INVOICES, RecordStatus.FAILED) == []
    assert (await lab.engine().run_pass()).writes == 0


async def test_R_INV_12_setup_warnings(lab: Lab) -> None:
    qbo = lab.qbo_client()
    assert await invoice_setup_warnings(qbo) == [CLOSE_BOOKS_WARNING]
    await _qbo_settings(lab, custom_txn_numbers=True)
    assert await invoice_setup_warnings(qbo) == [CUSTOM_TXN_NUMBERS_WARNING, CLOSE_BOOKS_WARNING]


async def test_R_INV_13_pdf(lab: Lab) -> None:
    await set_up(lab)
    contact, _ = await customer_and_contact(lab)
    invoice_id = await hs_invoice(lab, contact, [("Consulting", "2x75", None)])
    await lab.engine().run_pass()
    qbo_id = await _linked_qbo(lab, invoice_id)

    by_hubspot = await invoice_pdf(lab.store, lab.connection_id, invoice_id, qbo=lab.qbo_client())
    by_qbo = await invoice_pdf(
        lab.store, lab.connection_id, f"quickbooks:{qbo_id}", qbo=lab.qbo_client()
    )

    assert by_hubspot.startswith(b"%PDF") and by_hubspot == by_qbo
    assert b"Consulting" in by_hubspot
    with pytest.raises(InvoiceNotSyncedError):
        await invoice_pdf(lab.store, lab.connection_id, "hubspot:999999", qbo=lab.qbo_client())


async def test_R_INV_14_custom_invoice_property_maps_to_qbo_custom_field(lab: Lab) -> None:
    await lab.hubspot_client().ensure_property("invoices", "po_number", "PO number")
    po = FieldMapping(name="po_number", hubspot="po_number", qbo="CustomField:PO number")
    rule = invoice_rule(Direction.TWO_WAY)
    await set_up(lab, Direction.TWO_WAY, mappings=(*rule.mappings, po))
    contact, _ = await customer_and_contact(lab)
    invoice_id = await hs_invoice(lab, contact, [("Thing", "1x10", None)])
    await lab.hs_update("invoices", invoice_id, po_number="PO-77")

    await lab.engine().run_pass()

    qbo_id = await _linked_qbo(lab, invoice_id)
    qbo = await qbo_get(lab, "Invoice", qbo_id)
    assert [(f["Name"], f["StringValue"]) for f in qbo["CustomField"]] == [("PO number", "PO-77")]
    # Header fields may be edited in QBO (R-INV-7): the PO number flows back.
    await lab.qbo_update(
        "Invoice",
        qbo_id,
        {"CustomField": [{"Name": "PO number", "Type": "StringType", "StringValue": "PO-78"}]},
    )
    await lab.engine().run_pass()
    hs = await hs_get(lab, "invoices", invoice_id, "po_number")
    assert hs.get("po_number") == "PO-78"
    assert (await lab.engine().run_pass()).writes == 0


async def test_R_INV_6_qbo_invoices_are_not_associated_with_deals(lab: Lab) -> None:
    await set_up(lab, Direction.TWO_WAY)
    contact, customer = await customer_and_contact(lab)
    deal = await lab.hs_create("deals", dealname="Big deal")
    await hs_associate(lab, "deals", deal, "contacts", contact, 3)
    item = await qbo_item(lab, "Plan", "P-1", "10")
    await qbo_invoice(lab, customer, [(item, "1", "10")])

    await lab.engine().run_pass()

    (link,) = lab.links(INVOICES)
    hs = await hs_get(lab, "invoices", link.hubspot_id)
    assert hs.associated("deals") == ()
