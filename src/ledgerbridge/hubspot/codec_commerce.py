"""Pure conversions for commerce records: invoices (+ their line items) and payments.

Invoice properties (names as the sandbox and HubSpot's docs use them):
`hs_currency`, `hs_invoice_status` (draft/open/paid/voided, lower case),
`hs_invoice_date`, `hs_due_date`, `hs_number` (HubSpot numbers invoices itself),
`hs_comments` (memo), `hs_discount_amount` (order-level discount, an amount),
`hs_invoice_source` ("hubspot": made in HubSpot; "integration": made through the
API, which for a ledgerbridge portal means from QuickBooks), `hs_amount_paid` and
`hs_balance_due` (calculated). The customer and the deal are associations.

Commerce payment properties: `hs_initial_amount` + `hs_currency_code`,
`hs_initiated_date`, `hs_latest_status`, `hs_processor_type` (the source),
`hs_payment_method_type`, `hs_reference_number`, `hs_processing_fee`,
`hs_platform_fee`. HubSpot does not record how much of a payment went to which
invoice: a payment associated with exactly one invoice is applied to it in full.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledgerbridge.domain import (
    Discount,
    DiscountKind,
    Invoice,
    InvoiceStatus,
    Line,
    Money,
    Payment,
    PaymentApplication,
    PaymentSource,
    PaymentStatus,
    RecordRef,
    System,
)
from ledgerbridge.hubspot.codec import (
    CodecError,
    Properties,
    decode_line_item,
    encode_line_item,
    fmt_date,
    fmt_decimal,
    hubspot_ref,
    money,
    parse_date,
    parse_decimal,
    text,
)
from ledgerbridge.hubspot.objects import HubSpotRecord

__all__ = [
    "INVOICE_PROPERTIES",
    "INVOICE_SOURCE_PROPERTY",
    "PAYMENT_PROPERTIES",
    "decode_invoice",
    "decode_payment",
    "encode_invoice",
    "encode_invoice_lines",
    "encode_payment",
]

INVOICE_SOURCE_PROPERTY = "hs_invoice_source"
_SOURCES: dict[str, System] = {"hubspot": System.HUBSPOT, "integration": System.QUICKBOOKS}
_SOURCE_VALUES: dict[System, str] = {v: k for k, v in _SOURCES.items()}

INVOICE_PROPERTIES = (
    "hs_currency",
    "hs_invoice_status",
    "hs_invoice_date",
    "hs_due_date",
    "hs_number",
    "hs_comments",
    "hs_discount_amount",
    INVOICE_SOURCE_PROPERTY,
    "hs_amount_paid",
    "hs_balance_due",
)

PAYMENT_PROPERTIES = (
    "hs_initial_amount",
    "hs_currency_code",
    "hs_initiated_date",
    "hs_latest_status",
    "hs_processor_type",
    "hs_payment_method_type",
    "hs_reference_number",
    "hs_processing_fee",
    "hs_platform_fee",
)

_PAYMENT_STATUS: dict[str, PaymentStatus] = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "processing": PaymentStatus.PENDING,
    "failed": PaymentStatus.FAILED,
    "refunded": PaymentStatus.REFUNDED,
    # The domain has no partial refund: the payment still stands.
    "partially_refunded": PaymentStatus.SUCCEEDED,
}
_PAYMENT_STATUS_VALUES: dict[PaymentStatus, str] = {
    PaymentStatus.SUCCEEDED: "succeeded",
    PaymentStatus.PENDING: "processing",
    PaymentStatus.FAILED: "failed",
    PaymentStatus.REFUNDED: "refunded",
    PaymentStatus.VOIDED: "failed",  # HubSpot has no voided payment status
}
_PROCESSORS: dict[str, PaymentSource] = {
    "hubspot_payments": PaymentSource.HUBSPOT_PAYMENTS,
    "stripe": PaymentSource.STRIPE,
    "manual": PaymentSource.OTHER,
}
_PROCESSOR_VALUES: dict[PaymentSource, str] = {
    PaymentSource.HUBSPOT_PAYMENTS: "hubspot_payments",
    PaymentSource.STRIPE: "stripe",
    PaymentSource.OTHER: "manual",
    PaymentSource.QUICKBOOKS: "manual",  # recorded by hand from HubSpot's point of view
}


def _first(ids: Sequence[str]) -> str | None:
    return ids[0] if ids else None


# ---------------------------------------------------------------- invoices


def decode_invoice(record: HubSpotRecord, line_items: Sequence[HubSpotRecord] = ()) -> Invoice:
    """An invoice with its line items (in the order given)."""
    currency = record.get("hs_currency")
    if currency is None:
        raise CodecError(f"invoice {record.id} has no hs_currency")
    raw_status = (record.get("hs_invoice_status") or "draft").lower()
    try:
        status = InvoiceStatus(raw_status)
    except ValueError as exc:
        raise CodecError(f"invoice {record.id} has an unknown status {raw_status!r}") from exc
    raw_source = record.get(INVOICE_SOURCE_PROPERTY)
    source = _SOURCES.get(raw_source.lower()) if raw_source else None
    discount_amount = parse_decimal(record, "hs_discount_amount")
    lines: tuple[Line, ...] = tuple(decode_line_item(item, currency) for item in line_items)
    try:
        return Invoice(
            currency=currency,
            lines=lines,
            number=record.get("hs_number"),
            issue_date=parse_date(record, "hs_invoice_date"),
            due_date=parse_date(record, "hs_due_date"),
            customer=hubspot_ref(_first(record.associated("contacts"))),
            deal=hubspot_ref(_first(record.associated("deals"))),
            discount=Discount.amount(discount_amount) if discount_amount else None,
            memo=record.get("hs_comments"),
            source=source,
            status=status,
            amount_paid=money(record, "hs_amount_paid", currency),
            ref=hubspot_ref(record.id),
        )
    except ValueError as exc:
        raise CodecError(f"invoice {record.id} is not a valid invoice: {exc}") from exc


def encode_invoice(invoice: Invoice) -> Properties:
    """The invoice's own properties. A percentage discount is written as its amount
    (HubSpot's invoice discount is an amount); lines go through `encode_invoice_lines`."""
    discount = ""
    if invoice.discount is not None:
        value = (
            invoice.discount.value
            if invoice.discount.kind is DiscountKind.AMOUNT
            else invoice.discount_amount.amount
        )
        discount = fmt_decimal(value) if value else ""
    return {
        "hs_currency": invoice.currency,
        "hs_invoice_status": invoice.status.value,
        "hs_invoice_date": fmt_date(invoice.issue_date),
        "hs_due_date": fmt_date(invoice.due_date),
        "hs_number": text(invoice.number),
        "hs_comments": text(invoice.memo),
        "hs_discount_amount": discount,
        INVOICE_SOURCE_PROPERTY: _SOURCE_VALUES[invoice.source] if invoice.source else "",
        "hs_amount_paid": fmt_decimal(invoice.amount_paid.amount) if invoice.amount_paid else "",
        "hs_balance_due": fmt_decimal(invoice.balance.amount),
    }


def encode_invoice_lines(invoice: Invoice) -> list[Properties]:
    return [encode_line_item(line) for line in invoice.lines]


# ---------------------------------------------------------------- payments


def decode_payment(record: HubSpotRecord) -> Payment:
    currency = record.get("hs_currency_code")
    if currency is None:
        raise CodecError(f"payment {record.id} has no hs_currency_code")
    amount = money(record, "hs_initial_amount", currency)
    if amount is None:
        raise CodecError(f"payment {record.id} has no hs_initial_amount")
    date = parse_date(record, "hs_initiated_date")
    if date is None and record.created_at is not None:
        date = record.created_at.date()
    if date is None:
        raise CodecError(f"payment {record.id} has no date")
    raw_status = (record.get("hs_latest_status") or "succeeded").lower()
    raw_processor = (record.get("hs_processor_type") or "manual").lower()
    if raw_status not in _PAYMENT_STATUS:
        raise CodecError(f"payment {record.id} has an unknown status {raw_status!r}")
    if raw_processor not in _PROCESSORS:
        raise CodecError(f"payment {record.id} has an unknown processor {raw_processor!r}")
    invoices = record.associated("invoices")
    applied = (
        (PaymentApplication(RecordRef(System.HUBSPOT, invoices[0]), amount),)
        if len(invoices) == 1
        else ()
    )
    try:
        return Payment(
            amount=amount,
            date=date,
            source=_PROCESSORS[raw_processor],
            status=_PAYMENT_STATUS[raw_status],
            method=record.get("hs_payment_method_type"),
            reference=record.get("hs_reference_number"),
            customer=hubspot_ref(_first(record.associated("contacts"))),
            applied_to=applied,
            processing_fee=money(record, "hs_processing_fee", currency),
            platform_fee=money(record, "hs_platform_fee", currency),
            ref=hubspot_ref(record.id),
        )
    except ValueError as exc:
        raise CodecError(f"payment {record.id} is not a valid payment: {exc}") from exc


def _amount(value: Money | None) -> str:
    return fmt_decimal(value.amount) if value is not None else ""


def encode_payment(payment: Payment) -> Properties:
    return {
        "hs_initial_amount": fmt_decimal(payment.amount.amount),
        "hs_currency_code": payment.amount.currency,
        "hs_initiated_date": fmt_date(payment.date),
        "hs_latest_status": _PAYMENT_STATUS_VALUES[payment.status],
        "hs_processor_type": _PROCESSOR_VALUES[payment.source],
        "hs_payment_method_type": text(payment.method),
        "hs_reference_number": text(payment.reference),
        "hs_processing_fee": _amount(payment.processing_fee),
        "hs_platform_fee": _amount(payment.platform_fee),
    }
