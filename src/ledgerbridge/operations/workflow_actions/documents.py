"""The QBO bodies the actions write (API-NOTES C1): sales documents from matched lines, the
payment of a paid invoice, and the fee expense (a Purchase)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ledgerbridge.operations.workflow_actions.model import CENT, Enrolled, SourceLine

__all__ = ["expense_body", "payment_body", "sales_body", "txn_date"]

Obj = dict[str, Any]


def _number(value: Decimal) -> str:
    return format(value, "f")


def sales_lines(lines: Sequence[SourceLine], items: Mapping[str, str]) -> list[Obj]:
    out: list[Obj] = []
    for index, line in enumerate(lines, start=1):
        detail: Obj = {
            "ItemRef": {"value": items[line.id]},
            "Qty": _number(line.quantity),
            "TaxCodeRef": {"value": "TAX" if line.taxable else "NON"},
        }
        discounted = line.discount_percent is not None or line.discount_per_unit is not None
        if not discounted:  # with a discount QBO derives the unit price from Amount / Qty
            detail["UnitPrice"] = _number(line.price)
        body: Obj = {
            "DetailType": "SalesItemLineDetail",
            "LineNum": index,
            "Amount": str(line.amount),
            "SalesItemLineDetail": detail,
        }
        description = line.description or line.name
        if description:
            body["Description"] = description
        out.append(body)
    return out


def txn_date(enrolled: Enrolled, today: dt.date) -> str:
    """A payment's date (its `hs_initiated_date`), else today."""
    raw = enrolled.prop("hs_initiated_date") if enrolled.is_payment else None
    if raw:
        try:
            return dt.date.fromisoformat(raw[:10]).isoformat()
        except ValueError:
            pass
    return today.isoformat()


def sales_body(
    enrolled: Enrolled,
    customer_id: str,
    items: Mapping[str, str],
    *,
    date: str,
    memo: str,
    terms_id: str | None = None,
    deposit_account: str | None = None,
) -> Obj:
    """An Invoice, Estimate, SalesReceipt or RefundReceipt body."""
    body: Obj = {
        "CustomerRef": {"value": customer_id},
        "TxnDate": date,
        "CurrencyRef": {"value": enrolled.currency},
        "Line": sales_lines(enrolled.lines, items),
        "PrivateNote": memo,
    }
    if terms_id:
        body["SalesTermRef"] = {"value": terms_id}
    if deposit_account:
        body["DepositToAccountRef"] = {"value": deposit_account}
    return body


def payment_body(
    customer_id: str, invoice: Obj, *, date: str, deposit_account: str | None, memo: str
) -> Obj:
    """The payment of the whole of `invoice` (a paid invoice, R-WF-6)."""
    total = Decimal(str(invoice.get("TotalAmt", "0"))).quantize(CENT)
    body: Obj = {
        "CustomerRef": {"value": customer_id},
        "TotalAmt": str(total),
        "TxnDate": date,
        "PrivateNote": memo,
        "Line": [
            {
                "Amount": str(total),
                "LinkedTxn": [{"TxnId": str(invoice["Id"]), "TxnType": "Invoice"}],
            }
        ],
    }
    if deposit_account:
        body["DepositToAccountRef"] = {"value": deposit_account}
    return body


def expense_body(
    enrolled: Enrolled, *, bank_account: str, fee_account: str, date: str, memo: str
) -> Obj:
    """A Purchase of the payment's processing and platform fees (R-WF-7)."""
    lines: list[Obj] = []
    for prop, label in (
        ("hs_processing_fee", "Processing fee"),
        ("hs_platform_fee", "Platform fee"),
    ):
        amount = enrolled.amount(prop).quantize(CENT)
        if amount > 0:
            lines.append(
                {
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "Amount": str(amount),
                    "Description": f"{label} of HubSpot payment {enrolled.object_id}",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": fee_account}},
                }
            )
    return {
        "AccountRef": {"value": bank_account},
        "PaymentType": "Cash",
        "TxnDate": date,
        "CurrencyRef": {"value": enrolled.currency},
        "PrivateNote": memo,
        "Line": lines,
    }
