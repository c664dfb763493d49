"""Pure QBO JSON ↔ domain codecs for every object the engine syncs.

* Customer ↔ `Party`, Item ↔ `Product`, Payment ↔ `Payment`, Purchase ↔ `Expense` (here);
* Invoice, Estimate, SalesReceipt, RefundReceipt ↔ documents (`codec_sales`, re-exported).

Decoders take the JSON as QBO sends it (amounts as JSON numbers, turned into Decimal via
`Decimal(str(x))`). Encoders give a create body; when the domain object has a `ref`
(a QuickBooks id) the body also carries `Id`, so `sparse_update(body, sync_token)` makes it
a sparse update. Fields the domain does not model are simply not sent, which a sparse
update leaves untouched in QBO.
"""

from __future__ import annotations

from typing import Any

from ledgerbridge.domain import (
    Expense,
    ExpenseLine,
    ExpensePaymentType,
    Money,
    Party,
    PartyKind,
    Payment,
    PaymentApplication,
    PaymentSource,
    PaymentStatus,
    Product,
    ProductKind,
    RecordRef,
    System,
)
from ledgerbridge.qbo.codec_sales import (
    currency_of,
    estimate_from_qbo,
    estimate_to_qbo,
    invoice_from_qbo,
    invoice_status,
    invoice_to_qbo,
    refund_receipt_from_qbo,
    refund_receipt_to_qbo,
    sales_receipt_from_qbo,
    sales_receipt_to_qbo,
)
from ledgerbridge.qbo.codec_values import (
    Obj,
    address_from,
    address_to,
    date_of,
    dec,
    dec0,
    is_voided,
    number,
    own_ref,
    put,
    qbo_ref,
    ref_of,
    ref_value,
    text,
)

__all__ = [
    "estimate_from_qbo",
    "estimate_to_qbo",
    "expense_from_qbo",
    "expense_to_qbo",
    "invoice_from_qbo",
    "invoice_status",
    "invoice_to_qbo",
    "party_from_qbo",
    "party_to_qbo",
    "payment_from_qbo",
    "payment_to_qbo",
    "product_from_qbo",
    "product_to_qbo",
    "refund_receipt_from_qbo",
    "refund_receipt_to_qbo",
    "sales_receipt_from_qbo",
    "sales_receipt_to_qbo",
    "sparse_update",
]


def sparse_update(body: Obj, sync_token: str) -> Obj:
    """An encoded body (with `Id`) as a sparse update at `sync_token`."""
    if "Id" not in body:
        raise ValueError("a sparse update needs the record's Id (encode a record with a ref)")
    return {**body, "SyncToken": sync_token, "sparse": True}


# ---- Customer ↔ Party ------------------------------------------------------------------------


def party_from_qbo(obj: Obj) -> Party:
    """A Customer. It is a company when it has a company name and no person's name."""
    given, family = text(obj.get("GivenName")), text(obj.get("FamilyName"))
    company = text(obj.get("CompanyName"))
    raw_email = (obj.get("PrimaryEmailAddr") or {}).get("Address") or ""
    emails = tuple(e.strip() for e in str(raw_email).split(",") if e.strip())
    return Party(
        kind=PartyKind.COMPANY if company and not (given or family) else PartyKind.PERSON,
        given_name=given,
        family_name=family,
        company_name=company,
        display_name=text(obj.get("DisplayName")),
        emails=emails,
        phone=text((obj.get("PrimaryPhone") or {}).get("FreeFormNumber")),
        billing_address=address_from(obj.get("BillAddr")),
        shipping_address=address_from(obj.get("ShipAddr")),
        notes=text(obj.get("Notes")),
        active=bool(obj.get("Active", True)),
        ref=own_ref(obj),
    )


def party_to_qbo(party: Party) -> Obj:
    body: Obj = {}
    put(body, "Id", party.ref.id if party.ref else None)
    put(body, "DisplayName", party.best_display_name())
    put(body, "GivenName", party.given_name)
    put(body, "FamilyName", party.family_name)
    put(body, "CompanyName", party.company_name)
    if party.emails:
        body["PrimaryEmailAddr"] = {"Address": ", ".join(party.emails)}
    if party.phone:
        body["PrimaryPhone"] = {"FreeFormNumber": party.phone}
    put(body, "BillAddr", address_to(party.billing_address))
    put(body, "ShipAddr", address_to(party.shipping_address))
    put(body, "Notes", party.notes)
    body["Active"] = party.active
    return body


# ---- Item ↔ Product --------------------------------------------------------------------------

_ITEM_TYPES = {
    "Service": ProductKind.SERVICE,
    "NonInventory": ProductKind.NON_INVENTORY,
    "Inventory": ProductKind.INVENTORY,
}
_ITEM_TYPE_NAMES = {kind: name for name, kind in _ITEM_TYPES.items()}


def product_from_qbo(obj: Obj, *, home_currency: str = "USD") -> Product:
    """An Item (Service, NonInventory, Inventory; other types are read as services)."""
    price = dec(obj.get("UnitPrice"))
    return Product(
        name=str(obj.get("Name") or ""),
        sku=text(obj.get("Sku")),
        unit_price=Money(price, home_currency) if price is not None else None,
        description=text(obj.get("Description")),
        income_account=ref_value(obj.get("IncomeAccountRef")),
        kind=_ITEM_TYPES.get(str(obj.get("Type")), ProductKind.SERVICE),
        taxable=bool(obj.get("Taxable", False)),
        active=bool(obj.get("Active", True)),
        ref=own_ref(obj),
    )


def product_to_qbo(product: Product) -> Obj:
    body: Obj = {"Name": product.name, "Type": _ITEM_TYPE_NAMES[product.kind]}
    put(body, "Id", product.ref.id if product.ref else None)
    put(body, "Sku", product.sku)
    if product.unit_price is not None:
        body["UnitPrice"] = number(product.unit_price.amount)
    put(body, "Description", product.description)
    if product.income_account:
        body["IncomeAccountRef"] = {"value": product.income_account}
    body["Taxable"] = product.taxable
    body["Active"] = product.active
    return body


# ---- Payment ---------------------------------------------------------------------------------


def _applications(raw_lines: Any, currency: str) -> tuple[PaymentApplication, ...]:
    applications = []
    for line in raw_lines or []:
        if not isinstance(line, dict):
            continue
        for linked in line.get("LinkedTxn") or []:
            if isinstance(linked, dict) and linked.get("TxnType") == "Invoice":
                invoice = RecordRef(System.QUICKBOOKS, str(linked["TxnId"]))
                applications.append(
                    PaymentApplication(invoice, Money(dec0(line.get("Amount")), currency))
                )
                break  # a line's Amount belongs to its first linked invoice
    return tuple(applications)


def payment_from_qbo(obj: Obj, *, home_currency: str = "USD") -> Payment:
    currency = currency_of(obj, home_currency)
    txn_date = date_of(obj.get("TxnDate"))
    if txn_date is None:
        raise ValueError("a QBO payment without TxnDate")
    return Payment(
        amount=Money(dec0(obj.get("TotalAmt")), currency),
        date=txn_date,
        source=PaymentSource.QUICKBOOKS,
        status=PaymentStatus.VOIDED if is_voided(obj) else PaymentStatus.SUCCEEDED,
        method=ref_value(obj.get("PaymentMethodRef")),
        reference=text(obj.get("PaymentRefNum")),
        customer=qbo_ref(obj.get("CustomerRef")),
        applied_to=_applications(obj.get("Line"), currency),
        ref=own_ref(obj),
    )


def payment_to_qbo(payment: Payment) -> Obj:
    body: Obj = {
        "TotalAmt": number(payment.amount.amount),
        "TxnDate": payment.date.isoformat(),
        "CurrencyRef": {"value": payment.amount.currency},
    }
    put(body, "Id", payment.ref.id if payment.ref else None)
    put(body, "CustomerRef", ref_of(payment.customer))
    if payment.method:
        body["PaymentMethodRef"] = {"value": payment.method}
    put(body, "PaymentRefNum", payment.reference)
    lines = []
    for application in payment.applied_to:
        if application.invoice.system is not System.QUICKBOOKS:
            raise ValueError("a QBO payment can only apply to QuickBooks invoices")
        lines.append(
            {
                "Amount": number(application.amount.amount),
                "LinkedTxn": [{"TxnId": application.invoice.id, "TxnType": "Invoice"}],
            }
        )
    body["Line"] = lines
    return body


# ---- Purchase ↔ Expense ----------------------------------------------------------------------

_PAYMENT_TYPES = {
    "Cash": ExpensePaymentType.CASH,
    "Check": ExpensePaymentType.CHECK,
    "CreditCard": ExpensePaymentType.CREDIT_CARD,
}
_PAYMENT_TYPE_NAMES = {kind: name for name, kind in _PAYMENT_TYPES.items()}


def expense_from_qbo(obj: Obj, *, home_currency: str = "USD") -> Expense:
    currency = currency_of(obj, home_currency)
    lines = []
    for line in obj.get("Line") or []:
        if isinstance(line, dict) and line.get("DetailType") == "AccountBasedExpenseLineDetail":
            detail = line.get("AccountBasedExpenseLineDetail") or {}
            lines.append(
                ExpenseLine(
                    account=ref_value(detail.get("AccountRef")) or "",
                    amount=Money(dec0(line.get("Amount")), currency),
                    description=text(line.get("Description")),
                )
            )
    txn_date = date_of(obj.get("TxnDate"))
    if txn_date is None:
        raise ValueError("a QBO purchase without TxnDate")
    return Expense(
        date=txn_date,
        paid_from_account=ref_value(obj.get("AccountRef")) or "",
        lines=tuple(lines),
        payment_type=_PAYMENT_TYPES.get(str(obj.get("PaymentType")), ExpensePaymentType.CASH),
        payee=qbo_ref(obj.get("EntityRef")),
        memo=text(obj.get("PrivateNote")),
        ref=own_ref(obj),
    )


def expense_to_qbo(expense: Expense) -> Obj:
    body: Obj = {
        "TxnDate": expense.date.isoformat(),
        "AccountRef": {"value": expense.paid_from_account},
        "PaymentType": _PAYMENT_TYPE_NAMES[expense.payment_type],
        "CurrencyRef": {"value": expense.total.currency},
    }
    put(body, "Id", expense.ref.id if expense.ref else None)
    put(body, "EntityRef", ref_of(expense.payee))
    put(body, "PrivateNote", expense.memo)
    lines = []
    for line in expense.lines:
        raw: Obj = {
            "DetailType": "AccountBasedExpenseLineDetail",
            "Amount": number(line.amount.amount),
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": line.account}},
        }
        put(raw, "Description", line.description)
        lines.append(raw)
    body["Line"] = lines
    return body
