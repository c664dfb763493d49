"""Payments: applied to invoices (their balances follow), and the invoices a payment
touches refreshed when it changes."""

from __future__ import annotations

from decimal import Decimal

from ledgerbridge.sandbox.qbo import faults
from ledgerbridge.sandbox.qbo.entities import (
    Ctx,
    recompute_customer_balance,
    ref_id,
    resolve_ref,
)
from ledgerbridge.sandbox.qbo.state import Obj
from ledgerbridge.sandbox.qbo.transactions import (
    account_ref,
    applied_to_invoice,
    find_account,
    links_of,
    parse_date,
    set_currency,
)
from ledgerbridge.sandbox.qbo.util import dec, money


def normalize_payment(ctx: Ctx, obj: Obj, old: Obj | None) -> Obj:
    if obj.get("CustomerRef") is None:
        raise faults.required_missing("CustomerRef")
    if obj.get("TotalAmt") is None:
        raise faults.required_missing("TotalAmt")
    customer = resolve_ref(ctx, obj, "CustomerRef", "Customer")
    assert customer is not None
    obj["TxnDate"] = parse_date(obj.get("TxnDate") or ctx.now.date().isoformat(), "TxnDate")
    obj["TxnDate"] = obj["TxnDate"].isoformat()
    set_currency(ctx, obj, customer)
    resolve_ref(ctx, obj, "PaymentMethodRef", "PaymentMethod")
    if obj.get("DepositToAccountRef") is None:
        obj["DepositToAccountRef"] = account_ref(find_account(ctx, "UndepositedFunds"))
    resolve_ref(ctx, obj, "DepositToAccountRef", "Account")
    if obj.get("ARAccountRef") is None:
        obj["ARAccountRef"] = account_ref(find_account(ctx, "AccountsReceivable"))
    resolve_ref(ctx, obj, "ARAccountRef", "Account")
    total = money(obj["TotalAmt"])
    if total < 0:
        raise faults.business_error("The payment amount can't be negative.", "TotalAmt")
    obj["TotalAmt"] = total
    applied = Decimal(0)
    lines = []
    for raw in obj.get("Line", []):
        line = dict(raw)
        line["Amount"] = money(line.get("Amount", 0))
        links = []
        for link in line.get("LinkedTxn", []):
            txn_type = link.get("TxnType")
            txn_id = str(link.get("TxnId", ""))
            if txn_type != "Invoice":
                raise faults.invalid_request(f"Unsupported LinkedTxn type {txn_type}", "LinkedTxn")
            invoice = ctx.realm.get("Invoice", txn_id)
            if invoice is None:
                raise faults.invalid_reference("Line.LinkedTxn.TxnId", "Invoice", txn_id)
            if ref_id(invoice.get("CustomerRef")) != customer["Id"]:
                raise faults.business_error(
                    f"Invoice {txn_id} belongs to another customer.", "Line.LinkedTxn.TxnId"
                )
            open_balance = (
                money(invoice.get("TotalAmt", 0))
                - money(invoice.get("Deposit", 0))
                - applied_to_invoice(ctx, txn_id, skip_payment=(old or {}).get("Id", ""))
            )
            if line["Amount"] > open_balance:
                raise faults.business_error(
                    f"The payment amount {line['Amount']} exceeds the open balance "
                    f"{open_balance} of invoice {txn_id}.",
                    "Line.Amount",
                )
            links.append({"TxnId": txn_id, "TxnType": "Invoice"})
        line["LinkedTxn"] = links
        applied += line["Amount"]
        lines.append(line)
    if applied > total:
        raise faults.business_error(
            "The amount applied to invoices is larger than the payment total.", "TotalAmt"
        )
    obj["Line"] = lines
    obj["UnappliedAmt"] = total - applied
    obj.setdefault("ProcessPayment", False)
    return obj


def refresh_invoices(ctx: Ctx, invoice_ids: set[str]) -> list[str]:
    """Recompute Balance and LinkedTxn of invoices touched by a payment; return changed ids."""
    changed = []
    for invoice_id in sorted(invoice_ids):
        invoice = ctx.realm.get("Invoice", invoice_id)
        if invoice is None:
            continue
        links = [
            {"TxnId": pid, "TxnType": "Payment"}
            for pid, payment in ctx.realm.table("Payment").items()
            if any(txn_id == invoice_id for txn_id, _ in links_of(payment))
        ]
        balance = (
            money(invoice.get("TotalAmt", 0))
            - money(invoice.get("Deposit", 0))
            - applied_to_invoice(ctx, invoice_id)
        )
        if f"Invoice:{invoice_id}" in ctx.realm.voided:
            balance = Decimal(0)
        if balance != invoice.get("Balance") or links != invoice.get("LinkedTxn"):
            updated = dict(invoice)
            updated["Balance"] = balance
            updated["LinkedTxn"] = links
            if "HomeBalance" in invoice:
                updated["HomeBalance"] = money(balance * dec(invoice.get("ExchangeRate") or 1))
            ctx.realm.replace("Invoice", invoice, updated, ctx.now)
            changed.append(invoice_id)
        recompute_customer_balance(ctx, ref_id(invoice.get("CustomerRef")))
    return changed


def linked_invoice_ids(payment: Obj | None) -> set[str]:
    return {txn_id for txn_id, _ in links_of(payment or {})}


# ---- purchases ----------------------------------------------------------------------------
