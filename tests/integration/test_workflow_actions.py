"""Workflow actions end to end (R-WF-1…9, R-CUS-2): the HubSpot sandbox's flow runner enrolls
records on the documented triggers (R-WF-5), calls the engine's signed execution endpoint,
the engine answers BLOCK and completes through the callbacks API; the QBO sandbox is checked
for what was (or was not) written."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerbridge.hubspot.actions import ActionKind
from ledgerbridge.hubspot.webhooks import sign_v3
from ledgerbridge.operations.workflow_actions import register_definitions
from ledgerbridge.runtime.connection import engine_for_clients
from ledgerbridge.runtime.setup import open_store
from ledgerbridge.runtime.workflow_actions import register_at_start
from ledgerbridge.settings import Settings
from ledgerbridge.store import RecordStatus, workflow_runs
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import Direction as Flow
from ledgerbridge.sync.rules import Filter, FilterOperator, InvoiceSettings, ObjectPair
from tests.integration.conftest import configured_sandboxes
from tests.integration.workflow_rig import APP_SECRET, ENGINE_URL, Rig, open_rig

Obj = dict[str, Any]
PAYMENT_LINK = [{"propertyName": "hs_payment_link", "operator": "HAS_PROPERTY"}]
ESIGNED = [{"propertyName": "hs_esign_completed", "operator": "EQ", "value": "true"}]
SUCCEEDED = [{"propertyName": "hs_latest_status", "operator": "EQ", "value": "succeeded"}]
REFUNDED = [{"propertyName": "hs_latest_status", "operator": "EQ", "value": "refunded"}]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(tmp_path) as running:
        running.save_rule(wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS))
        yield running


async def _item(rig: Rig, name: str, sku: str, price: str) -> str:
    income = await rig.qbo_client().query_all("SELECT * FROM Account WHERE AccountType = 'Income'")
    body = {
        "Name": name,
        "Sku": sku,
        "Type": "Service",
        "UnitPrice": price,
        "IncomeAccountRef": {"value": income[0]["Id"]},
    }
    return str((await rig.qbo_create("Item", body, f"item-{sku}"))["Id"])


async def _contact(rig: Rig, **props: str) -> str:
    base = {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com"}
    return await rig.hs_create("contacts", **{**base, **props})


async def _lines(rig: Rig, parent: str, parent_id: str, type_id: int, *lines: Obj) -> None:
    for line in lines:
        line_id = await rig.hs_create("line_items", **line)
        await rig.associate(parent, parent_id, "line_items", line_id, type_id)


WIDGET = {"name": "Widget", "hs_sku": "W-1", "price": "40", "quantity": "2"}
GADGET = {"name": "Gadget", "hs_sku": "G-1", "price": "15", "quantity": "1"}


async def _deal(rig: Rig, contact: str, *lines: Obj) -> str:
    deal = await rig.hs_create("deals", dealname="Big deal", amount="95")
    await rig.associate("deals", deal, "contacts", contact, 3)
    await _lines(rig, "deals", deal, 19, *lines)
    return deal


async def _payment(rig: Rig, contact: str, *lines: Obj, **props: str) -> str:
    base = {
        "hs_initial_amount": "95",
        "hs_currency_code": "USD",
        "hs_latest_status": "processing",
        "hs_payment_source": "payment_link",
        "hs_processor_type": "hubspot_payments",
        "hs_processing_fee": "2.95",
        "hs_platform_fee": "0.50",
        "hs_initiated_date": "2026-01-14",
    }
    payment = await rig.hs_create("commerce_payments", **{**base, **props})
    await rig.associate("commerce_payments", payment, "contacts", contact, 393)
    for line in lines:
        line_id = await rig.hs_create("line_items", **line)
        await rig.associate("line_items", line_id, "commerce_payments", payment, 396)
    return payment


async def _only_step(rig: Rig, flow: str) -> Obj:
    await rig.settle()
    executions = await rig.executions(flow)
    assert len(executions) == 1, executions
    assert executions[0]["status"] == "COMPLETED", executions[0]
    step: Obj = executions[0]["actions"][0]
    return step


def _failed(step: Obj, *fragments: str) -> None:
    assert step["state"] == "FAIL_CONTINUE", step
    message = step["outputFields"]["error_message"]
    for fragment in fragments:
        assert fragment in message, message


async def _counts(rig: Rig) -> dict[str, int]:
    entities = ("Invoice", "Estimate", "SalesReceipt", "Payment", "Purchase", "RefundReceipt")
    counts = {e: len(await rig.qbo_all(e)) for e in entities}
    counts["Customer"] = len(await rig.qbo_all("Customer"))
    counts["Item"] = len(await rig.qbo_all("Item"))
    return counts


# ---------------------------------------------------------------- the six actions


async def test_r_wf_1_r_wf_5_deal_with_payment_link_creates_invoice(rig: Rig) -> None:
    widget = await _item(rig, "Widget", "W-1", "40")
    gadget = await _item(rig, "Gadget", "G-1", "15")
    flow = await rig.define_flow(
        "deals", ActionKind.INVOICE, PAYMENT_LINK, {"payment_terms": "Net 30"}
    )
    deal = await _deal(rig, await _contact(rig), WIDGET, GADGET)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/1")

    step = await _only_step(rig, flow)

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
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("quotes", ActionKind.ESTIMATE, ESIGNED)
    quote = await rig.hs_create("quotes", hs_title="Quote 1", hs_esign_completed="false")
    await rig.associate("quotes", quote, "contacts", await _contact(rig), 69)
    await _lines(rig, "quotes", quote, 67, WIDGET)
    await rig.hs_update("quotes", quote, hs_esign_completed="true")

    step = await _only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    estimates = await rig.qbo_all("Estimate")
    assert [e["Id"] for e in estimates] == [step["outputFields"]["qbo_id"]]
    assert Decimal(str(estimates[0]["TotalAmt"])) == Decimal("80")


async def test_r_wf_1_create_product_if_missing_creates_the_item(rig: Rig) -> None:
    flow = await rig.define_flow(
        "deals", ActionKind.SALES_RECEIPT, PAYMENT_LINK, {"create_product_if_missing": "true"}
    )
    deal = await _deal(rig, await _contact(rig), WIDGET)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/2")

    step = await _only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    items = await rig.qbo_all("Item")
    assert [(i["Name"], i["Sku"]) for i in items] == [("Widget", "W-1")]
    receipts = await rig.qbo_all("SalesReceipt")
    assert len(receipts) == 1
    assert receipts[0]["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] == items[0]["Id"]


async def test_r_wf_6_succeeded_payment_creates_paid_invoice(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
    await _item(rig, "Gadget", "G-1", "15")
    flow = await rig.define_flow("commerce_payments", ActionKind.PAID_INVOICE, SUCCEEDED)
    payment = await _payment(rig, await _contact(rig), WIDGET, GADGET)
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")

    step = await _only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    invoices = await rig.qbo_all("Invoice")
    payments = await rig.qbo_all("Payment")
    assert [i["Id"] for i in invoices] == [step["outputFields"]["qbo_id"]]
    assert Decimal(str(invoices[0]["Balance"])) == 0
    assert invoices[0]["TxnDate"] == "2026-01-14"
    assert len(payments) == 1
    assert payments[0]["Line"][0]["LinkedTxn"][0]["TxnId"] == invoices[0]["Id"]


async def test_r_wf_6_succeeded_payment_creates_sales_receipt(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("commerce_payments", ActionKind.SALES_RECEIPT, SUCCEEDED)
    payment = await _payment(rig, await _contact(rig), WIDGET, hs_initial_amount="80")
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")

    step = await _only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    receipts = await rig.qbo_all("SalesReceipt")
    assert [r["Id"] for r in receipts] == [step["outputFields"]["qbo_id"]]
    assert Decimal(str(receipts[0]["TotalAmt"])) == Decimal("80")


async def test_r_wf_7_payment_fees_create_expense(rig: Rig) -> None:
    flow = await rig.define_flow(
        "commerce_payments", ActionKind.EXPENSE, SUCCEEDED, {"fee_account": "Office Expenses"}
    )
    payment = await _payment(rig, await _contact(rig))
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")

    step = await _only_step(rig, flow)

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
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("commerce_payments", ActionKind.REFUND_RECEIPT, REFUNDED)
    payment = await _payment(
        rig, await _contact(rig), WIDGET, hs_initial_amount="80", hs_latest_status="succeeded"
    )
    await rig.hs_update(
        "commerce_payments", payment, hs_latest_status="refunded", hs_refunds_amount="80"
    )

    step = await _only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    refunds = await rig.qbo_all("RefundReceipt")
    assert [r["Id"] for r in refunds] == [step["outputFields"]["qbo_id"]]
    assert Decimal(str(refunds[0]["TotalAmt"])) == Decimal("80")


# ---------------------------------------------------------------- failure modes


async def test_r_wf_2_unmatched_line_fails_and_creates_nothing(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("deals", ActionKind.INVOICE, PAYMENT_LINK)
    deal = await _deal(rig, await _contact(rig), WIDGET, GADGET)
    before = await _counts(rig)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/3")

    step = await _only_step(rig, flow)

    _failed(step, "match no QuickBooks item", "'Gadget' (SKU G-1)")
    assert "Widget" not in step["outputFields"]["error_message"]
    assert await _counts(rig) == before
    with rig.store.begin() as tx:
        records = tx.list_records(rig.connection_id, object_type=workflow_runs.OBJECT_TYPE)
    assert [(r.status, r.error_category) for r in records] == [
        (RecordStatus.FAILED, "missing_product")
    ]


async def test_r_wf_3_contact_not_meeting_the_contact_rule_fails(rig: Rig) -> None:
    rule = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)
    only_customers = Filter(
        flow=Flow.HUBSPOT_TO_QBO,
        property="lifecyclestage",
        operator=FilterOperator.EQUALS,
        value="customer",
    )
    rig.save_rule(rule.model_copy(update={"filters": (*rule.filters, only_customers)}))
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("deals", ActionKind.INVOICE, PAYMENT_LINK)
    deal = await _deal(rig, await _contact(rig, lifecyclestage="lead"), WIDGET)
    before = await _counts(rig)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/4")

    step = await _only_step(rig, flow)

    _failed(step, "does not meet the contact sync rule", "lifecyclestage")
    assert await _counts(rig) == before


async def test_r_cus_2_legacy_matching_uses_first_contact_and_creates_customer(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow(
        "deals", ActionKind.INVOICE, PAYMENT_LINK, {"contact_matching": "legacy"}
    )
    first = await _contact(rig, firstname="Grace", lastname="Hopper", email="grace@example.com")
    second = await _contact(rig)
    deal = await _deal(rig, first, WIDGET)
    await rig.associate("deals", deal, "contacts", second, 3)
    # a customer with the same name but another email is not the same party
    await rig.qbo_create(
        "Customer",
        {
            "DisplayName": "G. Hopper",
            "GivenName": "Grace",
            "FamilyName": "Hopper",
            "PrimaryEmailAddr": {"Address": "other@example.com"},
        },
        "customer-other",
    )
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/5")

    step = await _only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    customers = {c["PrimaryEmailAddr"]["Address"]: c for c in await rig.qbo_all("Customer")}
    assert set(customers) == {"other@example.com", "grace@example.com"}
    new = customers["grace@example.com"]
    assert (new["GivenName"], new["FamilyName"]) == ("Grace", "Hopper")
    invoice = (await rig.qbo_all("Invoice"))[0]
    assert invoice["CustomerRef"]["value"] == new["Id"]


async def test_r_cus_2_legacy_matching_reuses_the_matching_customer(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
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
    deal = await _deal(rig, await _contact(rig), WIDGET)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/6")

    step = await _only_step(rig, flow)

    assert step["state"] == "SUCCESS", step
    assert len(await rig.qbo_all("Customer")) == 1
    assert (await rig.qbo_all("Estimate"))[0]["CustomerRef"]["value"] == existing["Id"]


async def test_r_wf_6_taxable_line_refuses_paid_invoice(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("commerce_payments", ActionKind.PAID_INVOICE, SUCCEEDED)
    taxed = {**WIDGET, "hs_tax_amount": "6.40"}
    payment = await _payment(rig, await _contact(rig), taxed)
    before = await _counts(rig)
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")

    step = await _only_step(rig, flow)

    _failed(step, "non-taxable line items", "'Widget'")
    assert await _counts(rig) == before


async def test_r_wf_6_payment_from_synced_invoice_is_refused(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
    invoices = wizard_defaults(ObjectPair.INVOICES_INVOICES).model_copy(
        update={"direction": Flow.TWO_WAY, "enabled": True}
    )
    rig.save_rule(invoices)
    flow = await rig.define_flow("commerce_payments", ActionKind.SALES_RECEIPT, SUCCEEDED)
    payment = await _payment(rig, await _contact(rig), WIDGET, hs_payment_source="invoice")
    invoice = await rig.hs_create("invoices", hs_currency="USD")
    await rig.associate("invoices", invoice, "commerce_payments", payment, 541)
    before = await _counts(rig)
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")

    step = await _only_step(rig, flow)

    _failed(step, "this payment is already in QuickBooks through invoice sync")
    assert await _counts(rig) == before
    with rig.store.begin() as tx:
        records = tx.list_records(rig.connection_id, object_type=workflow_runs.OBJECT_TYPE)
    assert records[0].error_category == "double_post"


async def test_r_wf_8_partly_refunded_payment_is_refused(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow(
        "commerce_payments",
        ActionKind.REFUND_RECEIPT,
        [{"propertyName": "hs_latest_status", "operator": "EQ", "value": "partially_refunded"}],
    )
    payment = await _payment(rig, await _contact(rig), WIDGET, hs_latest_status="succeeded")
    await rig.hs_update(
        "commerce_payments",
        payment,
        hs_latest_status="partially_refunded",
        hs_refunds_amount="10",
    )

    step = await _only_step(rig, flow)

    _failed(step, "not fully refunded")
    assert await rig.qbo_all("RefundReceipt") == []


async def test_r_wf_9_non_us_company_is_refused(tmp_path: Path) -> None:
    async with open_rig(tmp_path, country="CA") as rig:
        rig.save_rule(wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS))
        flow = await rig.define_flow(
            "deals", ActionKind.INVOICE, PAYMENT_LINK, {"create_product_if_missing": "true"}
        )
        deal = await _deal(rig, await _contact(rig), WIDGET)
        before = await _counts(rig)
        await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/7")

        step = await _only_step(rig, flow)

        _failed(step, "only for US QuickBooks companies", "CA")
        assert await _counts(rig) == before
        with rig.store.begin() as tx:
            records = tx.list_records(rig.connection_id, object_type=workflow_runs.OBJECT_TYPE)
        assert records[0].error_category == "unsupported_company"


async def test_r_wf_6_redelivered_callback_creates_no_second_document(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("commerce_payments", ActionKind.PAID_INVOICE, SUCCEEDED)
    payment = await _payment(rig, await _contact(rig), WIDGET, hs_initial_amount="80")
    await rig.hs_update("commerce_payments", payment, hs_latest_status="succeeded")
    step = await _only_step(rig, flow)
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
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow(
        "deals",
        ActionKind.INVOICE,
        PAYMENT_LINK,
        {"contact_matching": "legacy", "create_product_if_missing": "true"},
    )
    deal = await _deal(rig, await _contact(rig), {**GADGET, "hs_sku": "NEW-1"})
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/8")
    step = await _only_step(rig, flow)
    assert step["state"] == "SUCCESS", step
    before = await _counts(rig)
    with rig.store.begin() as tx:  # as if the process died before recording the outcome
        tx.connection.execute(workflow_runs.schema.workflow_runs.update().values(status="running"))

    again = await rig.redeliver(step["callbackId"])
    await rig.settle()

    assert again["outputFields"]["hs_execution_state"] == "BLOCK"
    assert await _counts(rig) == before
    with rig.store.begin() as tx:
        run = workflow_runs.get_run(tx, rig.connection_id, step["callbackId"])
    assert run is not None and run.status is workflow_runs.RunStatus.SUCCEEDED
    assert run.qbo_id == step["outputFields"]["qbo_id"]


# ---------------------------------------------------------------- protocol


def _execution(callback_id: str, deal: str) -> bytes:
    return json.dumps(
        {
            "callbackId": callback_id,
            "origin": {"portalId": 62515, "actionDefinitionId": 1},
            "context": {"source": "WORKFLOWS", "workflowId": 1},
            "object": {"objectId": int(deal), "objectType": "DEAL", "properties": {}},
            "inputFields": {"create_product_if_missing": "true"},
        }
    ).encode()


async def _post_signed(rig: Rig, body: bytes, *, secret: str, age_ms: int = 0) -> httpx.Response:
    url = f"{ENGINE_URL}/actions/hubspot/invoice"
    timestamp = str(int(rig.time.clock() * 1000) - age_ms)
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": timestamp,
        "X-HubSpot-Signature-v3": sign_v3("POST", url, body, timestamp, secret),
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rig.web)) as client:
        return await client.post(url, content=body, headers=headers)


async def test_r_wf_forged_or_stale_execution_is_refused_and_writes_nothing(rig: Rig) -> None:
    deal = await _deal(rig, await _contact(rig), WIDGET)
    before = await _counts(rig)

    forged = await _post_signed(rig, _execution("cb-forged", deal), secret="not-the-secret")
    stale = await _post_signed(
        rig, _execution("cb-stale", deal), secret=APP_SECRET, age_ms=6 * 60 * 1000
    )
    await rig.service.drain()

    assert (forged.status_code, stale.status_code) == (401, 401)
    assert await _counts(rig) == before
    with rig.store.begin() as tx:
        assert workflow_runs.list_runs(tx, rig.connection_id) == []


async def test_r_wf_signed_execution_answers_block_then_completes(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
    deal = await _deal(rig, await _contact(rig), WIDGET)

    answer = await _post_signed(rig, _execution("cb-direct", deal), secret=APP_SECRET)
    await rig.service.drain()

    assert answer.status_code == 200
    assert answer.json() == {"outputFields": {"hs_execution_state": "BLOCK"}}
    with rig.store.begin() as tx:
        run = workflow_runs.get_run(tx, rig.connection_id, "cb-direct")
    assert run is not None and run.status is workflow_runs.RunStatus.SUCCEEDED
    assert [i["Id"] for i in await rig.qbo_all("Invoice")] == [run.qbo_id]


async def test_r_wf_1_definitions_are_registered_idempotently(rig: Rig) -> None:
    listed = await rig.hubspot_client().session.request(
        "GET", f"/automation/v4/actions/{rig.hubspot.config.app_id}"
    )
    revisions = {d["id"]: d["revisionId"] for d in listed["results"]}
    labels = sorted(d["labels"]["en"]["actionName"] for d in listed["results"])

    again = await register_definitions(rig.hubspot_client(), "100001", ENGINE_URL)
    relisted = await rig.hubspot_client().session.request("GET", "/automation/v4/actions/100001")

    assert again == rig.definitions
    assert {d["id"]: d["revisionId"] for d in relisted["results"]} == revisions
    assert labels == [
        "Create QuickBooks estimate",
        "Create QuickBooks expense",
        "Create QuickBooks invoice",
        "Create QuickBooks paid invoice",
        "Create QuickBooks refund receipt",
        "Create QuickBooks sales receipt",
    ]
    invoice = next(d for d in listed["results"] if d["id"] == rig.definitions[ActionKind.INVOICE])
    inputs = {f["typeDefinition"]["name"] for f in invoice["inputFields"]}
    assert {"qbo_company", "payment_terms", "customer_contact_id", "product"} <= inputs
    assert "create_product_if_missing" in inputs
    assert invoice["objectTypes"] == ["DEAL", "QUOTE"]


async def test_r_wf_1_run_start_registers_definitions_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with configured_sandboxes(tmp_path, monkeypatch, []) as (_db, hubspot_url, _qbo):
        settings = Settings()
        store = open_store(settings)
        try:
            first = await register_at_start(store, settings, "100001", "https://lb.example")
            second = await register_at_start(store, settings, "100001", "https://lb.example")
            missing = await register_at_start(store, settings, None, "https://lb.example")
        finally:
            store.close()
        async with httpx.AsyncClient(headers={"Authorization": "Bearer sandbox"}) as client:
            listing = (await client.get(f"{hubspot_url}/automation/v4/actions/100001")).json()

    assert first == second == "workflow actions registered on HubSpot app 100001 (6 actions)"
    assert "set [hubspot] app_id" in missing
    urls = sorted(d["actionUrl"] for d in listing["results"])
    assert urls == sorted(f"https://lb.example/actions/hubspot/{k.value}" for k in ActionKind)
    assert {d["revisionId"] for d in listing["results"]} == {"1"}


async def test_r_wf_4_invoice_is_associated_with_the_deal_once_synced(rig: Rig) -> None:
    await _item(rig, "Widget", "W-1", "40")
    flow = await rig.define_flow("deals", ActionKind.INVOICE, PAYMENT_LINK)
    deal = await _deal(rig, await _contact(rig), WIDGET)
    await rig.hs_update("deals", deal, hs_payment_link="https://pay.example/9")
    step = await _only_step(rig, flow)
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
