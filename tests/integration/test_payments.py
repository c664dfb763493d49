"""Payments on synced invoices over both sandboxes (R-PAY-1…3, R-INV-4/5)."""

from __future__ import annotations

from decimal import Decimal

from ledgerbridge.store import RecordStatus
from ledgerbridge.sync.payments import PAYMENTS
from ledgerbridge.sync.rules import Direction, InvoiceSettings, ObjectPair
from tests.integration.harness import Lab
from tests.integration.invoicing import (
    INVOICES,
    customer_and_contact,
    hs_get,
    hs_invoice,
    hs_payment,
    qbo_get,
    qbo_invoice,
    qbo_item,
    qbo_payment,
    set_up,
)


def _dec(value: object) -> Decimal:
    return Decimal(str(value or "0"))


async def _qbo_made_invoice(
    lab: Lab, direction: Direction, amount: str = "100"
) -> tuple[str, str, str]:
    """A QBO invoice synced to HubSpot: (QBO invoice, HubSpot invoice, QBO customer)."""
    await set_up(lab, direction)
    _, customer = await customer_and_contact(lab)
    item = await qbo_item(lab, "Plan", "P-1", amount)
    qbo = await qbo_invoice(lab, customer, [(item, "1", amount)])
    await lab.engine().run_pass()
    (link,) = lab.links(INVOICES)
    return qbo["Id"], link.hubspot_id, customer


async def _hubspot_made_invoice(
    lab: Lab, direction: Direction, **settings: bool
) -> tuple[str, str]:
    """A HubSpot invoice of 100 synced to QBO: (HubSpot invoice, QBO invoice)."""
    await set_up(lab, direction, invoice=InvoiceSettings(**settings))
    contact, _ = await customer_and_contact(lab)
    invoice_id = await hs_invoice(lab, contact, [("Plan", "1x100", None)])
    await lab.engine().run_pass()
    (link,) = lab.links(INVOICES)
    return invoice_id, link.qbo_id


async def test_R_PAY_1_qbo_payment_reaches_hubspot_invoice(lab: Lab) -> None:
    qbo_id, hs_id, customer = await _qbo_made_invoice(lab, Direction.TWO_WAY)
    payment = await qbo_payment(lab, customer, qbo_id, "40")

    report = await lab.engine().run_pass()

    assert report.pairs[INVOICES].payments.get("create") == 1, report.as_dict()
    invoice = await hs_get(lab, "invoices", hs_id)
    (hs_payment_id,) = invoice.associated("commerce_payments")
    assert _dec(invoice.get("hs_balance_due")) == Decimal("60")  # partial: balance follows
    assert invoice.get("hs_invoice_status") == "open"
    assert (await lab.engine().run_pass()).writes == 0

    # The rest is paid in QBO: the HubSpot invoice is paid too.
    await qbo_payment(lab, customer, qbo_id, "60")
    await lab.engine().run_pass()
    invoice = await hs_get(lab, "invoices", hs_id)
    assert len(invoice.associated("commerce_payments")) == 2
    assert (_dec(invoice.get("hs_balance_due")), invoice.get("hs_invoice_status")) == (0, "paid")
    assert (await lab.engine().run_pass()).writes == 0
    assert payment["Id"]
    del hs_payment_id


async def test_R_PAY_1_hubspot_payment_is_applied_to_the_qbo_invoice(lab: Lab) -> None:
    hs_id, qbo_id = await _hubspot_made_invoice(lab, Direction.HUBSPOT_TO_QBO)
    await hs_payment(lab, hs_id, "30", hs_processor_type="stripe")

    report = await lab.engine().run_pass()

    assert report.pairs[INVOICES].payments.get("create") == 1, report.as_dict()
    (payment,) = await lab.qbo_all("Payment")
    assert _dec(payment["TotalAmt"]) == Decimal("30")
    assert payment["Line"][0]["LinkedTxn"][0]["TxnId"] == qbo_id
    invoice = await qbo_get(lab, "Invoice", qbo_id)
    assert _dec(invoice["Balance"]) == Decimal("70")  # partial payment keeps the balance right
    assert (await lab.engine().run_pass()).writes == 0

    await hs_payment(lab, hs_id, "70")
    await lab.engine().run_pass()
    invoice = await qbo_get(lab, "Invoice", qbo_id)
    assert _dec(invoice["Balance"]) == 0
    hs = await hs_get(lab, "invoices", hs_id)
    assert hs.get("hs_invoice_status") == "paid"
    again = await lab.engine().run_pass()
    assert again.writes == 0, again.as_dict()
    assert len(await lab.qbo_all("Payment")) == 2


async def test_R_PAY_1_inbound_only_does_not_sync_payments(lab: Lab) -> None:
    qbo_id, hs_id, customer = await _qbo_made_invoice(lab, Direction.QBO_TO_HUBSPOT)
    await qbo_payment(lab, customer, qbo_id, "100")

    report = await lab.engine().run_pass()

    assert report.pairs[INVOICES].payments == {}, report.as_dict()
    invoice = await hs_get(lab, "invoices", hs_id)
    assert invoice.associated("commerce_payments") == ()
    assert invoice.get("hs_invoice_status") == "paid"  # the status still follows (R-INV-4)


async def test_R_PAY_2_source_date_status_and_qbo_link(lab: Lab) -> None:
    qbo_id, hs_id, customer = await _qbo_made_invoice(lab, Direction.TWO_WAY)
    payment = await qbo_payment(lab, customer, qbo_id, "25")
    await lab.engine().run_pass()
    (payment_id,) = (await hs_get(lab, "invoices", hs_id)).associated("commerce_payments")

    hs = await hs_get(
        lab,
        "commerce_payments",
        payment_id,
        "hs_initiated_date",
        "hs_latest_status",
        "ledgerbridge_payment_source",
        "ledgerbridge_qbo_url",
        "hs_initial_amount",
    )

    assert hs.get("ledgerbridge_payment_source") == "QuickBooks"
    assert hs.get("hs_latest_status") == "succeeded"
    assert (hs.get("hs_initiated_date") or "").startswith(payment["TxnDate"])
    assert (hs.get("ledgerbridge_qbo_url") or "").endswith(f"txnId={payment['Id']}")
    assert _dec(hs.get("hs_initial_amount")) == Decimal("25")

    # And the other way: a QBO payment made from HubSpot names its source.
    hs_made, qbo_made = await _second_invoice(lab)
    await hs_payment(lab, hs_made, "10", hs_processor_type="stripe", hs_reference_number="ch_1")
    await lab.engine().run_pass()
    posted = [p for p in await lab.qbo_all("Payment") if p.get("PaymentRefNum") == "ch_1"]
    assert len(posted) == 1 and "stripe" in posted[0]["PrivateNote"]
    assert posted[0]["Line"][0]["LinkedTxn"][0]["TxnId"] == qbo_made


async def _second_invoice(lab: Lab) -> tuple[str, str]:
    contact = next(iter(lab.links(ObjectPair.CONTACTS_CUSTOMERS))).hubspot_id
    invoice_id = await hs_invoice(lab, contact, [("Extra", "1x50", None)])
    await lab.engine().run_pass()
    qbo_id = next(x.qbo_id for x in lab.links(INVOICES) if x.hubspot_id == invoice_id)
    return invoice_id, qbo_id


async def test_R_PAY_3_refunds_and_deletes_not_propagated_by_default(lab: Lab) -> None:
    hs_id, qbo_id = await _hubspot_made_invoice(lab, Direction.TWO_WAY)
    payment_id = await hs_payment(lab, hs_id, "100")
    await lab.engine().run_pass()
    (qbo_payment_row,) = await lab.qbo_all("Payment")

    await lab.hs_update("commerce_payments", payment_id, hs_refunds_amount="40")
    report = await lab.engine().run_pass()

    assert report.writes == 0, report.as_dict()
    assert await lab.qbo_all("RefundReceipt") == []
    assert _dec((await qbo_get(lab, "Payment", qbo_payment_row["Id"]))["TotalAmt"]) == 100
    response = await lab.http.delete(
        f"{lab.hubspot_url}/crm/v3/objects/commerce_payments/{payment_id}",
        headers={"Authorization": "Bearer sandbox"},
    )
    response.raise_for_status()
    lab.time.advance(1)
    report = await lab.engine().run_pass()
    assert report.writes == 0, report.as_dict()
    payment = await qbo_get(lab, "Payment", qbo_payment_row["Id"])
    assert _dec(payment["TotalAmt"]) == 100 and not str(payment.get("PrivateNote")).startswith(
        "Voided"
    )
    del qbo_id


async def test_R_PAY_3_optional_refund_and_delete_propagation_is_audited(lab: Lab) -> None:
    hs_id, qbo_id = await _hubspot_made_invoice(
        lab, Direction.TWO_WAY, propagate_refunds=True, propagate_payment_deletes=True
    )
    first = await hs_payment(lab, hs_id, "60")
    second = await hs_payment(lab, hs_id, "40")
    await lab.engine().run_pass()
    payments = {p["PaymentRefNum"]: p for p in await lab.qbo_all("Payment")}
    assert len(payments) == 2

    await lab.hs_update("commerce_payments", first, hs_refunds_amount="60")
    report = await lab.engine().run_pass()
    assert report.pairs[INVOICES].payments.get("refund") == 1, report.as_dict()
    (refund,) = await lab.qbo_all("RefundReceipt")
    assert _dec(refund["TotalAmt"]) == Decimal("60")

    response = await lab.http.delete(
        f"{lab.hubspot_url}/crm/v3/objects/commerce_payments/{second}",
        headers={"Authorization": "Bearer sandbox"},
    )
    response.raise_for_status()
    lab.time.advance(1)
    report = await lab.engine().run_pass()
    assert report.pairs[INVOICES].payments.get("void") == 1, report.as_dict()
    voided = await qbo_get(lab, "Payment", payments[f"HS-{second}"]["Id"])
    assert _dec(voided["TotalAmt"]) == 0
    assert (await lab.engine().run_pass()).writes == 0

    with lab.store.begin() as tx:
        activity = tx.list_activity(lab.connection_id, object_type=PAYMENTS, limit=100)
    audited = {
        a.operation: a.details.get("setting") for a in activity if a.operation in ("refund", "void")
    }
    assert audited == {"refund": "propagate_refunds", "void": "propagate_payment_deletes"}
    assert {r.status for r in lab.records()} >= {RecordStatus.SYNCED}
    del qbo_id
