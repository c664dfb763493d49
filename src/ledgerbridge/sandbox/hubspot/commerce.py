"""Commerce semantics: invoice status rules and amounts, line item and payment amounts.

Amounts (all decimal strings with two places):
- line item `amount` = quantity × (price − unit `discount`), or quantity × price ×
  (1 − `hs_discount_percentage`/100) when a percentage is set; `hs_total_discount`.
- invoice `hs_subtotal` = Σ associated line item `amount`; `hs_tax` = Σ `hs_tax_amount`;
  `hs_amount_billed` = subtotal − `hs_discount_amount` + tax;
  `hs_amount_paid` = Σ associated payments (succeeded / partially refunded) − refunds;
  `hs_balance_due` = billed − paid. An open invoice whose balance reaches 0 becomes paid.
- payment `hs_net_amount` = amount − processing fee − platform fee − refunds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from .errors import validation
from .schema import INVOICE_SOURCE_PROPERTY
from .values import fmt_decimal, iso_ms, parse_decimal

if TYPE_CHECKING:
    from .state import Record, SandboxState

CALCULATED = "CALCULATED"
PAID_STATES = ("succeeded", "partially_refunded", "refunded")
DUE_DAYS = 30


def _num(value: str | None) -> Decimal:
    return parse_decimal(value or "") or Decimal(0)


def prepare_new_invoice(state: SandboxState, values: dict[str, str], source: str) -> None:
    from .state import SOURCE_INTEGRATION

    if not values.get("hs_currency"):
        raise validation(
            "hs_currency is required to create an invoice",
            errors=[{"message": "hs_currency is required", "code": "REQUIRED_FIELD"}],
        )
    status = values.setdefault("hs_invoice_status", "draft")
    if source == SOURCE_INTEGRATION and status != "draft":
        raise validation("Invoices are created as drafts; update hs_invoice_status afterwards")
    now = state.now_ms()
    values.setdefault("hs_invoice_date", iso_ms(now))
    days = int(timedelta(days=DUE_DAYS).total_seconds() * 1000)
    values.setdefault("hs_due_date", iso_ms(now + days))
    values.setdefault(
        INVOICE_SOURCE_PROPERTY, "integration" if source == SOURCE_INTEGRATION else "hubspot"
    )
    if status != "draft" and not values.get("hs_number"):
        values["hs_number"] = next_number(state)


def next_number(state: SandboxState) -> str:
    number = f"INV-{state.next_invoice_number}"
    state.next_invoice_number += 1
    return number


def check_invoice_update(
    state: SandboxState, record: Record, values: dict[str, str], source: str
) -> None:
    current = record.properties.get("hs_invoice_status", "draft")
    target = values.get("hs_invoice_status", current)
    if current == "voided" and values:
        raise validation("A voided invoice cannot be edited")
    if (
        "hs_currency" in values
        and current != "draft"
        and values["hs_currency"] != (record.properties.get("hs_currency"))
    ):
        raise validation("The currency of an invoice can only be changed while it is a draft")
    if target == current:
        return
    allowed = {
        "draft": {"open", "voided"},
        "open": {"paid", "voided"},
        "paid": {"open"},
    }
    if target not in allowed.get(current, set()):
        raise validation(f"An invoice cannot move from {current} to {target}")
    now = iso_ms(state.now_ms())
    if target == "open" and current == "draft":
        if not state.associated("invoices", record.id, "contacts"):
            raise validation("An invoice needs an associated contact before it can be opened")
        if not state.associated("invoices", record.id, "line_items"):
            raise validation("An invoice needs at least one line item before it can be opened")
        if not record.properties.get("hs_number"):
            values["hs_number"] = next_number(state)
    if target == "paid":
        values.setdefault("hs_payment_date", now)
    if target == "voided":
        values["hs_voided_date"] = now


def check_invoice_archive(record: Record) -> None:
    if record.properties.get("hs_invoice_status", "draft") != "draft":
        raise validation("Only draft invoices can be deleted; void the invoice instead")


def line_item_amounts(record: Record) -> dict[str, str]:
    props = record.properties
    quantity = _num(props.get("quantity") or "1")
    price = _num(props.get("price"))
    gross = quantity * price
    if props.get("hs_discount_percentage"):
        discount = gross * _num(props.get("hs_discount_percentage")) / Decimal(100)
    else:
        discount = quantity * _num(props.get("discount"))
    return {"amount": fmt_decimal(gross - discount), "hs_total_discount": fmt_decimal(discount)}


def payment_amounts(record: Record) -> dict[str, str]:
    props = record.properties
    amount = _num(props.get("hs_initial_amount"))
    refunds = _num(props.get("hs_refunds_amount"))
    fees = _num(props.get("hs_processing_fee")) + _num(props.get("hs_platform_fee"))
    changes = {"hs_net_amount": fmt_decimal(amount - fees - refunds)}
    status = props.get("hs_latest_status", "succeeded")
    if status in PAID_STATES and refunds > 0:
        changes["hs_latest_status"] = "refunded" if refunds >= amount else "partially_refunded"
    elif not props.get("hs_latest_status"):
        changes["hs_latest_status"] = "succeeded"
    return changes


@contextmanager
def totals_once(state: SandboxState) -> Iterator[None]:
    """Within: an invoice's totals are recomputed once, at the end, however many of its
    lines or payments change (a batch of line items names each invoice up to 100 times,
    and each line's creation and association asked for the sums of all its lines)."""
    if state.pending_totals is not None:
        yield
        return
    state.pending_totals = {}
    try:
        yield
    finally:
        pending, state.pending_totals = state.pending_totals, None
        for invoice_id in pending:
            recompute_invoice(state, invoice_id)


def recompute_invoice(state: SandboxState, invoice_id: str) -> None:
    if state.pending_totals is not None:
        state.pending_totals[invoice_id] = None
        return
    invoice = state.objects["invoices"].get(invoice_id)
    if invoice is None or invoice.archived:
        return
    subtotal = tax = Decimal(0)
    for line_id in state.associated("invoices", invoice_id, "line_items"):
        line = state.objects["line_items"][line_id]
        subtotal += _num(line.properties.get("amount"))
        tax += _num(line.properties.get("hs_tax_amount"))
    paid = Decimal(0)
    for payment_id in state.associated("invoices", invoice_id, "commerce_payments"):
        payment = state.objects["commerce_payments"][payment_id].properties
        if payment.get("hs_latest_status", "succeeded") in PAID_STATES:
            paid += _num(payment.get("hs_initial_amount")) - _num(payment.get("hs_refunds_amount"))
    billed = subtotal - _num(invoice.properties.get("hs_discount_amount")) + tax
    balance = billed - paid
    changes = {
        "hs_subtotal": fmt_decimal(subtotal),
        "hs_tax": fmt_decimal(tax),
        "hs_amount_billed": fmt_decimal(billed),
        "hs_amount_paid": fmt_decimal(paid),
        "hs_balance_due": fmt_decimal(balance),
    }
    status = invoice.properties.get("hs_invoice_status", "draft")
    if status == "open" and billed > 0 and paid > 0 and balance <= 0:
        changes["hs_invoice_status"] = "paid"
        changes["hs_payment_date"] = iso_ms(state.now_ms())
    elif status == "paid" and paid > 0 and balance > 0:
        changes["hs_invoice_status"] = "open"
    state.set_props(invoice, changes, CALCULATED)


def after_change(state: SandboxState, object_type: str, object_id: str) -> None:
    record = state.objects[object_type][object_id]
    if object_type == "line_items":
        state.set_props(record, line_item_amounts(record), CALCULATED)
    elif object_type == "commerce_payments":
        state.set_props(record, payment_amounts(record), CALCULATED)
    if object_type == "invoices":
        recompute_invoice(state, object_id)
    elif object_type in ("line_items", "commerce_payments"):
        for invoice_id in state.associated(object_type, object_id, "invoices"):
            recompute_invoice(state, invoice_id)


def after_association(
    state: SandboxState, from_type: str, from_id: str, to_type: str, to_id: str
) -> None:
    pair = {from_type, to_type}
    if "invoices" in pair and pair & {"line_items", "commerce_payments"}:
        recompute_invoice(state, from_id if from_type == "invoices" else to_id)
