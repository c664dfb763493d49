"""Workflow actions end to end (R-WF-1…9, R-CUS-2): the HubSpot sandbox's flow runner enrolls
records on the documented triggers (R-WF-5), calls the engine's signed execution endpoint,
the engine answers BLOCK and completes through the callbacks API; the QBO sandbox is checked
for what was (or was not) written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from ledgerbridge.hubspot.actions import ActionKind
from ledgerbridge.runtime.connection import engine_for_clients
from ledgerbridge.store import RecordStatus, workflow_runs
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import Direction as Flow
from ledgerbridge.sync.rules import Filter, FilterOperator, InvoiceSettings, ObjectPair
from tests.integration.workflow_rig import (
    ESIGNED,
    GADGET,
    PAYMENT_LINK,
    REFUNDED,
    SUCCEEDED,
    WIDGET,
    Rig,
    add_lines,
    failed,
    make_contact,
    make_deal,
    make_item,
    make_payment,
    only_step,
    open_rig,
    qbo_counts,
)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(tmp_path) as running:
        running.save_rule(wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS))
        yield running


# ---------------------------------------------------------------- the six actions


async def test_r_wf_1_r_wf_5_deal_with_payment_link_creates_invoice(rig: Rig) -> None:
    widget = await make_item(rig, "Widget", "W-1", "40")
    gadget = await make_item(rig, "Gadget", "G-1", "15")
    flow = await rig.define_flow(
        "deals", ActionKind.INVOICE, PAYMENT_LINK, {"payment_terms": "Net 30"}
    )
    deal = await make_deal(rig, await make_contact(rig), WIDGET, GADGET)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/1")

    step = await only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    invoices = await rig.qbo_all("Invoice")
    assert len(invoices) == 1
    invoice = invoices[0]
    assert step["outputFields"]["qbo_id"] == invoice["Id"]
    assert step["outputFields"]["qbo_doc_number"] == invoice["DocNumber"]
    assert step["outputFields"]["qbo_url"].endswith(f"/app/invoice?txnId={invoice['Id']}")
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("95")
    items = [line["SalesItemLineDetail"]["ItemRef"]["value"] for line in invoice["Line"][:2]]
    assert items == [widget, gadget]
    terms = await rig.qbo_client().query_all("SELECT * FROM Term WHERE Name = 'Net 30'")
    assert invoice["SalesTermRef"]["value"] == terms[0]["Id"]
    # the contact passed the contact rule and became the customer (new mode)
    customers = await rig.qbo_all("Customer")
    assert [c["PrimaryEmailAddr"]["Address"] for c in customers] == ["ada@example.com"]
    assert invoice["CustomerRef"]["value"] == customers[0]["Id"]
    # recorded as a synced sync record with activity
    with rig.store.begin() as tx:
        records = tx.list_records(rig.connection_id, object_type=workflow_runs.OBJECT_TYPE)
        activity = tx.list_activity(rig.connection_id, object_type=workflow_runs.OBJECT_TYPE)
    assert [r.status for r in records] == [RecordStatus.SYNCED]
    assert activity[0].outcome == "succeeded"
    assert activity[0].details["qbo_id"] == invoice["Id"]


async def test_r_wf_1_r_wf_5_esigned_quote_creates_estimate(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("quotes", ActionKind.ESTIMATE, ESIGNED)
    quote = await rig.hs_create("quotes", hs_title="Quote 1", hs_esign_completed="false")
    await rig.associate("quotes", quote, "contacts", await make_contact(rig), 69)
    await add_lines(rig, "quotes", quote, 67, WIDGET)
    await rig.hs_update("quotes", quote, hs_esign_completed="true")

    step = await only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    estimates = await rig.qbo_all("Estimate")
    assert [e["Id"] for e in estimates] == [step["outputFields"]["qbo_id"]]
    assert Decimal(str(estimates[0]["TotalAmt"])) == Decimal("80")


async def test_r_wf_1_create_product_if_missing_creates_the_item(rig: Rig) -> None:
    flow = await rig.define_flow(
        "deals", ActionKind.SALES_RECEIPT, PAYMENT_LINK, {"create_product_if_missing": "true"}
    )
    deal = await make_deal(rig, await make_contact(rig), WIDGET)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/2")

    step = await only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    items = await rig.qbo_all("Item")
    assert [(i["Name"], i["Sku"]) for i in items] == [("Widget", "W-1")]
    receipts = await rig.qbo_all("SalesReceipt")
    assert len(receipts) == 1
    assert receipts[0]["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] == items[0]["Id"]


async def test_r_wf_6_succeeded_payment_creates_paid_invoice(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    await make_item(rig, "Gadget", "G-1", "15")
    flow = await rig.define_flow("commerce_payments", ActionKind.PAID_INVOICE, SUCCEEDED)
    payment = await make_payment(rig, await make_contact(rig), WIDGET, GADGET)
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")

    step = await only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    invoices = await rig.qbo_all("Invoice")
    payments = await rig.qbo_all("Payment")
    assert [i["Id"] for i in invoices] == [step["outputFields"]["qbo_id"]]
    assert Decimal(str(invoices[0]["Balance"])) == 0
    assert invoices[0]["TxnDate"] == "2026-01-14"
    assert len(payments) == 1
    assert payments[0]["Line"][0]["LinkedTxn"][0]["TxnId"] == invoices[0]["Id"]


async def test_r_wf_6_succeeded_payment_creates_sales_receipt(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("commerce_payments", ActionKind.SALES_RECEIPT, SUCCEEDED)
    payment = await make_payment(rig, await make_contact(rig), WIDGET, hs_initial_amount="80")
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")

    step = await only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    receipts = await rig.qbo_all("SalesReceipt")
    assert [r["Id"] for r in receipts] == [step["outputFields"]["qbo_id"]]
    assert Decimal(str(receipts[0]["TotalAmt"])) == Decimal("80")


async def test_r_wf_7_payment_fees_create_expense(rig: Rig) -> None:
    flow = await rig.define_flow(
        "commerce_payments", ActionKind.EXPENSE, SUCCEEDED, {"fee_account": "Office Expenses"}
    )
    payment = await make_payment(rig, await make_contact(rig))
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")

    step = await only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    purchases = await rig.qbo_all("Purchase")
    assert [p["Id"] for p in purchases] == [step["outputFields"]["qbo_id"]]
    amounts = sorted(Decimal(str(line["Amount"])) for line in purchases[0]["Line"])
    assert amounts == [Decimal("0.50"), Decimal("2.95")]
    accounts = await rig.qbo_client().query_all("SELECT * FROM Account WHERE Name = 'Checking'")
    assert purchases[0]["AccountRef"]["value"] == accounts[0]["Id"]
    fee_account = purchases[0]["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"]
    office = await rig.qbo_client().query_all(
        "SELECT * FROM Account WHERE Name = 'Office Expenses'"
    )
    assert fee_account["value"] == office[0]["Id"]


async def test_r_wf_8_fully_refunded_payment_creates_refund_receipt(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("commerce_payments", ActionKind.REFUND_RECEIPT, REFUNDED)
    payment = await make_payment(
        rig, await make_contact(rig), WIDGET, hs_initial_amount="80", hs_latest_status="succeeded"
    )
    await rig.hs_update(
        "commerce_payments", payment, hs_latest_status="refunded", hs_refunds_amount="80"
    )

    step = await only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    refunds = await rig.qbo_all("RefundReceipt")
    assert [r["Id"] for r in refunds] == [step["outputFields"]["qbo_id"]]
    assert Decimal(str(refunds[0]["TotalAmt"])) == Decimal("80")


# ---------------------------------------------------------------- failure modes


async def test_r_wf_2_unmatched_line_fails_and_creates_nothing(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("deals", ActionKind.INVOICE, PAYMENT_LINK)
    deal = await make_deal(rig, await make_contact(rig), WIDGET, GADGET)
    before = await qbo_counts(rig)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/3")

    step = await only_step(rig, flow)

    failed(step, "match no QuickBooks item", "'Gadget' (SKU G-1)")
    assert "Widget" not in step["outputFields"]["error_message"]
    assert await qbo_counts(rig) == before
    with rig.store.begin() as tx:
        records = tx.list_records(rig.connection_id, object_type=workflow_runs.OBJECT_TYPE)
    assert [(r.status, r.error_category) for r in records] == [
        (RecordStatus.FAILED, "missing_product")
    ]
    # visible where sync health is shown, with the category explained
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rig.web)) as client:
        (status,) = (await client.get("http://engine.local/api/status")).json()["connections"]
    assert status["objects"]["workflow_action"]["failed"] == 1
    assert status["failures"][0]["category"]["title"] == (
        "A line item matches no QuickBooks product"
    )


async def test_r_wf_3_contact_not_meeting_the_contact_rule_fails(rig: Rig) -> None:
    rule = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)
    only_customers = Filter(
        flow=Flow.HUBSPOT_TO_QBO,
        property="lifecyclestage",
        operator=FilterOperator.EQUALS,
        value="customer",
    )
    rig.save_rule(rule.model_copy(update={"filters": (*rule.filters, only_customers)}))
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("deals", ActionKind.INVOICE, PAYMENT_LINK)
    deal = await make_deal(rig, await make_contact(rig, lifecyclestage="lead"), WIDGET)
    before = await qbo_counts(rig)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/4")

    step = await only_step(rig, flow)

    failed(step, "does not meet the contact sync rule", "lifecyclestage")
    assert await qbo_counts(rig) == before


async def test_r_cus_2_legacy_matching_uses_first_contact_and_creates_customer(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow(
        "deals", ActionKind.INVOICE, PAYMENT_LINK, {"contact_matching": "legacy"}
    )
    first = await make_contact(rig, firstname="Grace", lastname="Hopper", email="grace@example.com")
    second = await make_contact(rig)
    deal = await make_deal(rig, first, WIDGET)
    await rig.associate("deals", deal, "contacts", second, 3)
    # a customer with the same name but another email is not the same party
    await rig.qbo_create(
        "Customer",
        {
            "DisplayName": "Grace Hopper",
            "GivenName": "Grace",
            "FamilyName": "Hopper",
            "PrimaryEmailAddr": {"Address": "other@example.com"},
        },
        "customer-other",
    )
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/5")

    step = await only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    customers = {c["PrimaryEmailAddr"]["Address"]: c for c in await rig.qbo_all("Customer")}
    assert set(customers) == {"other@example.com", "grace@example.com"}
    new = customers["grace@example.com"]
    assert (new["GivenName"], new["FamilyName"]) == ("Grace", "Hopper")
    assert new["DisplayName"] == "Grace Hopper (grace@example.com)"  # the name was taken
    invoice = (await rig.qbo_all("Invoice"))[0]
    assert invoice["CustomerRef"]["value"] == new["Id"]


async def test_r_cus_2_legacy_matching_reuses_the_matching_customer(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    existing = await rig.qbo_create(
        "Customer",
        {
            "DisplayName": "Ada L.",
            "GivenName": "Ada",
            "FamilyName": "Lovelace",
            "PrimaryEmailAddr": {"Address": "ADA@example.com"},
        },
        "customer-ada",
    )
    flow = await rig.define_flow(
        "deals", ActionKind.ESTIMATE, PAYMENT_LINK, {"contact_matching": "legacy"}
    )
    deal = await make_deal(rig, await make_contact(rig), WIDGET)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/6")

    step = await only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    assert len(await rig.qbo_all("Customer")) == 1
    assert (await rig.qbo_all("Estimate"))[0]["CustomerRef"]["value"] == existing["Id"]


async def test_r_wf_6_taxable_line_refuses_paid_invoice(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("commerce_payments", ActionKind.PAID_INVOICE, SUCCEEDED)
    taxed = {**WIDGET, "hs_tax_amount": "6.40"}
    payment = await make_payment(rig, await make_contact(rig), taxed)
    before = await qbo_counts(rig)
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")

    step = await only_step(rig, flow)

    failed(step, "non-taxable line items", "'Widget'")
    assert await qbo_counts(rig) == before


async def test_r_wf_6_payment_from_synced_invoice_is_refused(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    invoices = wizard_defaults(ObjectPair.INVOICES_INVOICES).model_copy(
        update={"direction": Flow.TWO_WAY, "enabled": True}
    )
    rig.save_rule(invoices)
    flow = await rig.define_flow("commerce_payments", ActionKind.SALES_RECEIPT, SUCCEEDED)
    payment = await make_payment(rig, await make_contact(rig), WIDGET, hs_payment_source="invoice")
    invoice = await rig.hs_create("invoices", hs_currency="USD")
    await rig.associate("invoices", invoice, "commerce_payments", payment, 541)
    before = await qbo_counts(rig)
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")

    step = await only_step(rig, flow)

    failed(step, "this payment is already in QuickBooks through invoice sync")
    assert await qbo_counts(rig) == before
    with rig.store.begin() as tx:
        records = tx.list_records(rig.connection_id, object_type=workflow_runs.OBJECT_TYPE)
    assert records[0].error_category == "double_post"


async def test_r_wf_8_partly_refunded_payment_is_refused(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow(
        "commerce_payments",
        ActionKind.REFUND_RECEIPT,
        [{"propertyName": "hs_latest_status", "operator": "EQ", "value": "partially_refunded"}],
    )
    payment = await make_payment(rig, await make_contact(rig), WIDGET, hs_latest_status="succeeded")
    await rig.hs_update(
        "commerce_payments",
        payment,
        hs_latest_status="partially_refunded",
        hs_refunds_amount="10",
    )

    step = await only_step(rig, flow)

    failed(step, "not fully refunded")
    assert await rig.qbo_all("RefundReceipt") == []


async def test_r_wf_9_non_us_company_is_refused(tmp_path: Path) -> None:
    async with open_rig(tmp_path, country="CA") as rig:
        rig.save_rule(wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS))
        flow = await rig.define_flow(
            "deals", ActionKind.INVOICE, PAYMENT_LINK, {"create_product_if_missing": "true"}
        )
        deal = await make_deal(rig, await make_contact(rig), WIDGET)
        before = await qbo_counts(rig)
        await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/7")

        step = await only_step(rig, flow)

        failed(step, "only for US QuickBooks companies", "CA")
        assert await qbo_counts(rig) == before
        with rig.store.begin() as tx:
            records = tx.list_records(rig.connection_id, object_type=workflow_runs.OBJECT_TYPE)
        assert records[0].error_category == "unsupported_company"


async def test_r_wf_6_redelivered_callback_creates_no_second_document(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("commerce_payments", ActionKind.PAID_INVOICE, SUCCEEDED)
    payment = await make_payment(rig, await make_contact(rig), WIDGET, hs_initial_amount="80")
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")
    step = await only_step(rig, flow)
    assert step["state"] == "SUCCESS", step

    again = await rig.redeliver(step["callbackId"])
    await rig.settle()

    assert again["httpStatus"] == 200
    assert again["outputFields"]["hs_execution_state"] == "SUCCESS"
    assert again["outputFields"]["qbo_id"] == step["outputFields"]["qbo_id"]
    assert len(await rig.qbo_all("Invoice")) == 1
    assert len(await rig.qbo_all("Payment")) == 1
    with rig.store.begin() as tx:
        run = workflow_runs.get_run(tx, rig.connection_id, step["callbackId"])
    assert run is not None and run.deliveries == 2


async def test_r_wf_6_lost_run_record_is_rerun_without_a_second_document(rig: Rig) -> None:
    """A crash after the QBO writes but before the outcome was stored: the re-delivered
    execution runs again, and QBO answers its requestids with the original documents."""
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow(
        "deals",
        ActionKind.INVOICE,
        PAYMENT_LINK,
        {"contact_matching": "legacy", "create_product_if_missing": "true"},
    )
    deal = await make_deal(rig, await make_contact(rig), {**GADGET, "hs_sku": "NEW-1"})
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/8")
    step = await only_step(rig, flow)
    assert step["state"] == "SUCCESS", step
    before = await qbo_counts(rig)
    with rig.store.begin() as tx:  # as if the process died before recording the outcome
        tx.connection.execute(workflow_runs.schema.workflow_runs.update().values(status="running"))

    again = await rig.redeliver(step["callbackId"])
    await rig.settle()

    assert again["outputFields"]["hs_execution_state"] == "BLOCK"
    assert await qbo_counts(rig) == before
    with rig.store.begin() as tx:
        run = workflow_runs.get_run(tx, rig.connection_id, step["callbackId"])
    assert run is not None and run.status is workflow_runs.RunStatus.SUCCEEDED
    assert run.qbo_id == step["outputFields"]["qbo_id"]


async def test_r_wf_4_invoice_is_associated_with_the_deal_once_synced(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("deals", ActionKind.INVOICE, PAYMENT_LINK)
    deal = await make_deal(rig, await make_contact(rig), WIDGET)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/9")
    step = await only_step(rig, flow)
    assert step["state"] == "SUCCESS", step
    rig.save_rule(wizard_defaults(ObjectPair.PRODUCTS_ITEMS))
    invoices = (
        wizard_defaults(ObjectPair.INVOICES_INVOICES)
        .model_copy(
            update={
                "direction": Flow.TWO_WAY,
                "enabled": True,
                "invoice": InvoiceSettings(custom_line_item_income_account="Services"),
            }
        )
        .with_fixed_filters()
    )
    rig.save_rule(invoices)
    rig.service.after_pass(rig.connection_id, None)  # before the sync: nothing to associate
    await rig.service.drain()

    engine = engine_for_clients(
        rig.store,
        rig.connection_id,
        hubspot=rig.hubspot_client(),
        qbo=rig.qbo_client(),
        clock=rig.time.now,
    )
    await engine.run_pass()
    rig.service.after_pass(rig.connection_id, None)
    await rig.service.drain()

    with rig.store.begin() as tx:
        (link,) = [
            row
            for row in tx.list_links(rig.connection_id, ObjectPair.INVOICES_INVOICES.value)
            if row.qbo_id == step["outputFields"]["qbo_id"]
        ]
        run = workflow_runs.get_run(tx, rig.connection_id, step["callbackId"])
    assert run is not None and run.hubspot_document_id == link.hubspot_id
    found = await rig.hubspot_client().batch_read_associations(
        "invoices", "deals", [link.hubspot_id]
    )
    assert found[link.hubspot_id] == [deal]
    # a later pass does not associate again
    rig.service.after_pass(rig.connection_id, None)
    await rig.service.drain()
    with rig.store.begin() as tx:
        activity = tx.list_activity(rig.connection_id, object_type=workflow_runs.OBJECT_TYPE)
    assert [a.operation for a in activity].count("associate") == 1


async def test_r_wf_3_two_flows_on_one_deal_create_its_customer_and_item_once(rig: Rig) -> None:
    create = {"create_product_if_missing": "true"}
    invoice_flow = await rig.define_flow("deals", ActionKind.INVOICE, PAYMENT_LINK, create)
    estimate_flow = await rig.define_flow("deals", ActionKind.ESTIMATE, PAYMENT_LINK, create)
    deal = await make_deal(rig, await make_contact(rig), WIDGET)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/10")

    invoice_step = await only_step(rig, invoice_flow)
    estimate_step = await only_step(rig, estimate_flow)

    assert (invoice_step["state"], estimate_step["state"]) == ("SUCCESS", "SUCCESS")
    assert len(await rig.qbo_all("Customer")) == 1
    assert [i["Sku"] for i in await rig.qbo_all("Item")] == ["W-1"]
    assert len(await rig.qbo_all("Invoice")) == len(await rig.qbo_all("Estimate")) == 1
