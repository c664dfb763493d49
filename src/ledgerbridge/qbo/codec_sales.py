"""QBO sales transactions ↔ domain documents: Invoice, Estimate, SalesReceipt, RefundReceipt.

Lines: `SalesItemLineDetail` → `Line` (product = `RecordRef(QUICKBOOKS, ItemRef.value)`,
line name = `ItemRef.name`), `DescriptionOnly` → a free-text line at zero price,
`GroupLineDetail` → its inner sales lines, `DiscountLineDetail` → the order-level
`Discount`, `SubTotalLineDetail` and `TaxLineDetail` are ignored (derived by QBO).
Encoding gives a create body, or, with the document's `ref` set, a body carrying `Id`
that `QboClient.update(..., sparse=True)` accepts once the caller adds the `SyncToken`.

Invoice status (QBO has none): voided (see `is_voided`), paid when Balance = 0 and
TotalAmt > 0, else open. Amount paid = TotalAmt − Balance when QBO sent both.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from ledgerbridge.domain import (
    Discount,
    DiscountKind,
    Estimate,
    Invoice,
    InvoiceStatus,
    Line,
    Money,
    RefundReceipt,
    SalesDocument,
    SalesReceipt,
)
from ledgerbridge.qbo.codec_values import (
    Obj,
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

D = TypeVar("D", bound=SalesDocument)


def currency_of(obj: Obj, home_currency: str) -> str:
    return ref_value(obj.get("CurrencyRef")) or home_currency


def _sales_line(raw: Obj, currency: str) -> Line:
    detail = raw.get("SalesItemLineDetail") or {}
    quantity = dec(detail.get("Qty"), Decimal(1))
    assert quantity is not None
    price = dec(detail.get("UnitPrice"))
    if price is None:  # QBO accepts Amount alone; the unit price is then Amount / Qty
        amount = dec0(raw.get("Amount"))
        price = amount / quantity if quantity else amount
    discount = None
    if detail.get("DiscountRate") is not None:
        discount = Discount.percent(dec0(detail["DiscountRate"]))
    elif detail.get("DiscountAmt") is not None:
        discount = Discount.amount(dec0(detail["DiscountAmt"]))
    item = detail.get("ItemRef")
    tax_code = ref_value(detail.get("TaxCodeRef"))
    return Line(
        description=text(raw.get("Description")),
        quantity=quantity,
        unit_price=Money(price, currency),
        product=qbo_ref(item),
        name=text(item.get("name")) if isinstance(item, dict) else None,
        discount=discount,
        service_date=date_of(detail.get("ServiceDate")),
        taxable=tax_code is not None and tax_code != "NON",
    )


def lines_from(raw_lines: Any, currency: str) -> tuple[tuple[Line, ...], Discount | None]:
    lines: list[Line] = []
    discount: Discount | None = None
    for raw in raw_lines or []:
        if not isinstance(raw, dict):
            continue
        kind = raw.get("DetailType")
        if kind == "SalesItemLineDetail":
            lines.append(_sales_line(raw, currency))
        elif kind == "DescriptionOnly":
            lines.append(
                Line(description=text(raw.get("Description")), unit_price=Money.zero(currency))
            )
        elif kind == "GroupLineDetail":
            inner, _ = lines_from((raw.get("GroupLineDetail") or {}).get("Line"), currency)
            lines.extend(inner)
        elif kind == "DiscountLineDetail":
            detail = raw.get("DiscountLineDetail") or {}
            if detail.get("PercentBased"):
                discount = Discount.percent(dec0(detail.get("DiscountPercent")))
            else:
                discount = Discount.amount(dec0(raw.get("Amount")))
    return tuple(lines), discount


def line_to(line: Line, index: int) -> Obj:
    if line.product is None and line.unit_price.is_zero:
        body: Obj = {"DetailType": "DescriptionOnly", "Amount": 0, "LineNum": index}
        put(body, "Description", line.description)
        return body
    detail: Obj = {"Qty": number(line.quantity), "UnitPrice": number(line.unit_price.amount)}
    put(detail, "ItemRef", ref_of(line.product, line.name))
    put(detail, "ServiceDate", line.service_date.isoformat() if line.service_date else None)
    if line.taxable:
        detail["TaxCodeRef"] = {"value": "TAX"}
    if line.discount is not None:
        key = "DiscountRate" if line.discount.kind is DiscountKind.PERCENT else "DiscountAmt"
        detail[key] = number(line.discount.value)
    body = {
        "DetailType": "SalesItemLineDetail",
        "Amount": number(line.amount.amount),
        "LineNum": index,
        "SalesItemLineDetail": detail,
    }
    put(body, "Description", line.description)
    return body


def discount_line(discount: Discount) -> Obj:
    if discount.kind is DiscountKind.PERCENT:
        detail: Obj = {"PercentBased": True, "DiscountPercent": number(discount.value)}
        return {"DetailType": "DiscountLineDetail", "DiscountLineDetail": detail}
    return {
        "DetailType": "DiscountLineDetail",
        "Amount": number(discount.value),
        "DiscountLineDetail": {"PercentBased": False},
    }


def _custom_fields(raw: Any) -> tuple[tuple[str, str], ...]:
    fields: dict[str, str] = {}
    for field in raw or []:
        if isinstance(field, dict) and field.get("Name") and field.get("StringValue") is not None:
            fields.setdefault(str(field["Name"]), str(field["StringValue"]))
    return tuple(fields.items())


def _common(obj: Obj, home_currency: str) -> dict[str, Any]:
    currency = currency_of(obj, home_currency)
    lines, discount = lines_from(obj.get("Line"), currency)
    return {
        "currency": currency,
        "lines": lines,
        "discount": discount,
        "number": text(obj.get("DocNumber")),
        "issue_date": date_of(obj.get("TxnDate")),
        "customer": qbo_ref(obj.get("CustomerRef")),
        "customer_email": text((obj.get("BillEmail") or {}).get("Address")),
        "memo": text((obj.get("CustomerMemo") or {}).get("value")),
        "custom_fields": _custom_fields(obj.get("CustomField")),
        "ref": own_ref(obj),
    }


def document_to(doc: SalesDocument, custom_field_ids: Mapping[str, str] | None = None) -> Obj:
    """The QBO body shared by every sales document (create, or update when `doc.ref` is set)."""
    body: Obj = {}
    put(body, "Id", doc.ref.id if doc.ref else None)
    put(body, "DocNumber", doc.number)
    put(body, "TxnDate", doc.issue_date.isoformat() if doc.issue_date else None)
    body["CurrencyRef"] = {"value": doc.currency}
    put(body, "CustomerRef", ref_of(doc.customer))
    if doc.customer_email:
        body["BillEmail"] = {"Address": doc.customer_email}
    if doc.memo is not None:
        body["CustomerMemo"] = {"value": doc.memo}
    lines = [line_to(line, i) for i, line in enumerate(doc.lines, start=1)]
    if doc.discount is not None:
        lines.append(discount_line(doc.discount))
    body["Line"] = lines
    if doc.custom_fields:
        fields = []
        for name, value in doc.custom_fields:
            field: Obj = {"Name": name, "Type": "StringType", "StringValue": value}
            if custom_field_ids and name in custom_field_ids:
                field["DefinitionId"] = custom_field_ids[name]
            fields.append(field)
        body["CustomField"] = fields
    return body


# ---- Invoice ---------------------------------------------------------------------------------


def invoice_status(obj: Obj) -> InvoiceStatus:
    if is_voided(obj):
        return InvoiceStatus.VOIDED
    total, balance = dec(obj.get("TotalAmt")), dec(obj.get("Balance"))
    if total is not None and balance is not None and balance == 0 and total > 0:
        return InvoiceStatus.PAID
    return InvoiceStatus.OPEN


def invoice_from_qbo(obj: Obj, *, home_currency: str = "USD") -> Invoice:
    common = _common(obj, home_currency)
    total, balance = dec(obj.get("TotalAmt")), dec(obj.get("Balance"))
    paid = None
    if total is not None and balance is not None:
        paid = Money(total - balance, common["currency"])
    issue, due = common["issue_date"], date_of(obj.get("DueDate"))
    return Invoice(
        **common,
        status=invoice_status(obj),
        due_date=due if not (due and issue and due < issue) else issue,
        amount_paid=paid,
        terms=ref_value(obj.get("SalesTermRef")),
    )


def invoice_to_qbo(invoice: Invoice, custom_field_ids: Mapping[str, str] | None = None) -> Obj:
    body = document_to(invoice, custom_field_ids)
    put(body, "DueDate", invoice.due_date.isoformat() if invoice.due_date else None)
    if invoice.terms:
        body["SalesTermRef"] = {"value": invoice.terms}
    return body


# ---- Estimate, SalesReceipt, RefundReceipt --------------------------------------------------


def estimate_from_qbo(obj: Obj, *, home_currency: str = "USD") -> Estimate:
    return Estimate(
        **_common(obj, home_currency), expiration_date=date_of(obj.get("ExpirationDate"))
    )


def estimate_to_qbo(estimate: Estimate, custom_field_ids: Mapping[str, str] | None = None) -> Obj:
    body = document_to(estimate, custom_field_ids)
    if estimate.expiration_date:
        body["ExpirationDate"] = estimate.expiration_date.isoformat()
    return body


def sales_receipt_from_qbo(obj: Obj, *, home_currency: str = "USD") -> SalesReceipt:
    return SalesReceipt(
        **_common(obj, home_currency),
        payment_method=ref_value(obj.get("PaymentMethodRef")),
        deposit_account=ref_value(obj.get("DepositToAccountRef")),
    )


def sales_receipt_to_qbo(
    receipt: SalesReceipt, custom_field_ids: Mapping[str, str] | None = None
) -> Obj:
    body = document_to(receipt, custom_field_ids)
    if receipt.payment_method:
        body["PaymentMethodRef"] = {"value": receipt.payment_method}
    if receipt.deposit_account:
        body["DepositToAccountRef"] = {"value": receipt.deposit_account}
    return body


def refund_receipt_from_qbo(obj: Obj, *, home_currency: str = "USD") -> RefundReceipt:
    return RefundReceipt(
        **_common(obj, home_currency),
        payment_method=ref_value(obj.get("PaymentMethodRef")),
        refund_from_account=ref_value(obj.get("DepositToAccountRef")),
    )


def refund_receipt_to_qbo(
    refund: RefundReceipt, custom_field_ids: Mapping[str, str] | None = None
) -> Obj:
    body = document_to(refund, custom_field_ids)
    if refund.payment_method:
        body["PaymentMethodRef"] = {"value": refund.payment_method}
    if refund.refund_from_account:
        body["DepositToAccountRef"] = {"value": refund.refund_from_account}
    return body
