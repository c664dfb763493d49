"""Printable PDF of a sales form (invoice, estimate, sales receipt...), drawn with fpdf2."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fpdf import FPDF

from ledgerbridge.sandbox.qbo.state import Obj
from ledgerbridge.sandbox.qbo.util import money, parse_datetime

TITLES = {
    "Invoice": "INVOICE",
    "Estimate": "ESTIMATE",
    "SalesReceipt": "SALES RECEIPT",
    "CreditMemo": "CREDIT MEMO",
    "RefundReceipt": "REFUND RECEIPT",
    "Payment": "PAYMENT RECEIPT",
}


def _text(value: Any) -> str:
    """fpdf2's core fonts are Latin-1."""
    return str(value).encode("latin-1", "replace").decode("latin-1")


def _amount(value: Any) -> str:
    return f"{money(value):,.2f}"


def render(entity: str, doc: Obj, company_name: str, voided: bool) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_compression(False)  # keeps the text greppable; still a valid PDF
    # Stamped with the document's last change, not the clock: the same version of a
    # document is the same bytes (a PDF read twice across a second boundary differed).
    changed = (doc.get("MetaData") or {}).get("LastUpdatedTime")
    if isinstance(changed, str) and changed:
        pdf.set_creation_date(parse_datetime(changed))
    pdf.set_title(f"{entity} {doc.get('DocNumber') or doc['Id']}")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, _text(company_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 22)
    title = TITLES.get(entity, entity.upper()) + (" - VOIDED" if voided else "")
    pdf.cell(0, 12, _text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    customer = (doc.get("CustomerRef") or {}).get("name", "")
    facts = [
        ("No.", doc.get("DocNumber") or doc["Id"]),
        ("Date", doc.get("TxnDate", "")),
        ("Due date", doc.get("DueDate", "")),
        ("Bill to", customer),
        ("Email", (doc.get("BillEmail") or {}).get("Address", "")),
    ]
    for label, value in facts:
        if value:
            pdf.cell(30, 7, _text(label))
            pdf.cell(0, 7, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (90, 25, 35, 35)
    pdf.set_font("Helvetica", "B", 11)
    for width, head in zip(widths, ("Description", "Qty", "Rate", "Amount"), strict=True):
        pdf.cell(width, 8, head, border="B", align="L" if head == "Description" else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 11)
    subtotal = discount = Decimal(0)
    for line in doc.get("Line", []):
        kind = line.get("DetailType")
        if kind == "SubTotalLineDetail":
            subtotal = money(line.get("Amount", 0))
            continue
        if kind == "DiscountLineDetail":
            discount += money(line.get("Amount", 0))
            continue
        detail = line.get("SalesItemLineDetail") or {}
        label = line.get("Description") or (detail.get("ItemRef") or {}).get("name", "")
        if entity == "Payment":
            links = ", ".join(f"{t.get('TxnType')} {t.get('TxnId')}" for t in line["LinkedTxn"])
            label = f"Applied to {links}" if links else "Payment"
        pdf.cell(widths[0], 7, _text(label)[:48])
        pdf.cell(widths[1], 7, _text(detail.get("Qty", "")), align="R")
        rate = detail.get("UnitPrice")
        pdf.cell(widths[2], 7, _amount(rate) if rate is not None else "", align="R")
        pdf.cell(widths[3], 7, _amount(line.get("Amount", 0)), align="R")
        pdf.ln()
    pdf.ln(3)
    totals = [("Subtotal", subtotal)] if subtotal else []
    if discount:
        totals.append(("Discount", -discount))
    tax = (doc.get("TxnTaxDetail") or {}).get("TotalTax")
    if tax:
        totals.append(("Tax", tax))
    totals.append(("Total", doc.get("TotalAmt", 0)))
    if "Balance" in doc and entity == "Invoice":
        totals.append(("Balance due", doc["Balance"]))
    currency = (doc.get("CurrencyRef") or {}).get("value", "")
    for label, value in totals:
        pdf.cell(sum(widths[:3]), 7, _text(label), align="R")
        pdf.cell(widths[3], 7, _text(f"{_amount(value)} {currency}".strip()), align="R")
        pdf.ln()
    memo = (doc.get("CustomerMemo") or {}).get("value")
    if memo:
        pdf.ln(4)
        pdf.multi_cell(0, 6, _text(memo))
    return bytes(pdf.output())
