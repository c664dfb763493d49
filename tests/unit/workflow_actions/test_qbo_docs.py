"""QBO side of the workflow actions: requestids from the callbackId, links, bodies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ledgerbridge.operations.workflow_actions.documents import (
    expense_body,
    payment_body,
    sales_lines,
    txn_date,
)
from ledgerbridge.operations.workflow_actions.model import Enrolled, SourceLine
from ledgerbridge.qbo.client import PRODUCTION_URL, SANDBOX_URL
from ledgerbridge.qbo.ids import MAX_BATCH_REQUEST_ID
from ledgerbridge.qbo.workflow_docs import document_url, workflow_request_id


def test_request_ids_are_stable_per_callback_and_step() -> None:
    first = workflow_request_id("ap-1-2-3-0", "document")
    assert first == workflow_request_id("ap-1-2-3-0", "document")
    assert first != workflow_request_id("ap-1-2-3-1", "document")
    assert first != workflow_request_id("ap-1-2-3-0", "payment")
    assert len(first) <= MAX_BATCH_REQUEST_ID


def test_document_urls() -> None:
    assert document_url(PRODUCTION_URL, "Invoice", "7") == (
        "https://app.qbo.intuit.com/app/invoice?txnId=7"
    )
    assert document_url(SANDBOX_URL, "Purchase", "8") == (
        "https://app.sandbox.qbo.intuit.com/app/expense?txnId=8"
    )
    assert document_url("http://127.0.0.1:8702/", "RefundReceipt", "9") == (
        "http://127.0.0.1:8702/app/refundreceipt?txnId=9"
    )


def _payment(**props: str) -> Enrolled:
    return Enrolled(
        object_type="commerce_payments", object_id="55", properties=props, currency="USD"
    )


def test_sales_lines_carry_item_quantity_price_and_tax_code() -> None:
    plain = SourceLine(id="1", name="Widget", quantity=Decimal(2), price=Decimal("40"))
    off = SourceLine(
        id="2",
        name="Gadget",
        quantity=Decimal(3),
        price=Decimal("10"),
        discount_percent=Decimal(10),
        taxable=True,
    )
    lines = sales_lines([plain, off], {"1": "11", "2": "12"})
    assert lines[0]["Amount"] == "80.00"
    assert lines[0]["SalesItemLineDetail"] == {
        "ItemRef": {"value": "11"},
        "Qty": "2",
        "UnitPrice": "40",
        "TaxCodeRef": {"value": "NON"},
    }
    assert lines[1]["Amount"] == "27.00"  # 30 less 10 %; QBO derives the unit price
    assert "UnitPrice" not in lines[1]["SalesItemLineDetail"]
    assert lines[1]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}


def test_expense_posts_each_nonzero_fee() -> None:
    body = expense_body(
        _payment(hs_processing_fee="2.95", hs_platform_fee="0"),
        bank_account="35",
        fee_account="60",
        date="2026-01-14",
        memo="m",
    )
    assert body["AccountRef"] == {"value": "35"} and body["PaymentType"] == "Cash"
    assert [line["Amount"] for line in body["Line"]] == ["2.95"]
    assert body["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"] == {"value": "60"}


def test_payment_pays_the_whole_invoice() -> None:
    body = payment_body(
        "5", {"Id": "70", "TotalAmt": 80}, date="2026-01-14", deposit_account=None, memo="m"
    )
    assert body["TotalAmt"] == "80.00"
    assert body["Line"] == [
        {"Amount": "80.00", "LinkedTxn": [{"TxnId": "70", "TxnType": "Invoice"}]}
    ]
    assert "DepositToAccountRef" not in body


def test_txn_date_is_the_payment_date_else_today() -> None:
    today = dt.date(2026, 1, 15)
    assert txn_date(_payment(hs_initiated_date="2026-01-14T10:00:00.000Z"), today) == "2026-01-14"
    assert txn_date(_payment(hs_initiated_date="garbage"), today) == "2026-01-15"
    deal = Enrolled(object_type="deals", object_id="1", properties={}, currency="USD")
    assert txn_date(deal, today) == "2026-01-15"
