from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerbridge.domain import (
    Address,
    Discount,
    Estimate,
    Expense,
    ExpenseLine,
    ExpensePaymentType,
    Invoice,
    InvoiceStatus,
    Line,
    Money,
    Party,
    PartyKind,
    Payment,
    PaymentApplication,
    PaymentSource,
    Product,
    ProductKind,
    RecordRef,
    RefundReceipt,
    SalesReceipt,
    System,
)
from ledgerbridge.qbo import codec
from ledgerbridge.qbo.codec_values import json_dumps, json_loads

ids = st.integers(min_value=1, max_value=10**6).map(str)
qb_refs = ids.map(lambda i: RecordRef(System.QUICKBOOKS, i))
words = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters=",:"),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s)
amounts = st.decimals(
    min_value=Decimal(0), max_value=Decimal("99999999.99"), places=2, allow_nan=False
)
quantities = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1000), places=2)
dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2035, 12, 31))
currencies = st.sampled_from(["USD", "CAD", "EUR"])
percents = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=2)


def usd(amount: Decimal | str, currency: str = "USD") -> Money:
    return Money(Decimal(amount), currency)


@st.composite
def lines(draw: st.DrawFn, currency: str) -> Line:
    product = draw(st.one_of(st.none(), qb_refs))
    price = draw(amounts)
    if product is None and price == 0:
        price = Decimal("1.00")  # zero-price free text is a DescriptionOnly line (tested apart)
    discount = draw(
        st.one_of(st.none(), percents.map(Discount.percent), amounts.map(Discount.amount))
    )
    return Line(
        description=draw(st.one_of(st.none(), words)),
        quantity=draw(quantities),
        unit_price=Money(price, currency),
        product=product,
        name=draw(words) if product is not None and draw(st.booleans()) else None,
        discount=discount,
        service_date=draw(st.one_of(st.none(), dates)),
        taxable=draw(st.booleans()),
    )


@st.composite
def document_fields(draw: st.DrawFn) -> dict[str, object]:
    currency = draw(currencies)
    names = draw(st.lists(words, max_size=3, unique=True))
    return {
        "currency": currency,
        "lines": tuple(draw(st.lists(lines(currency), min_size=1, max_size=4))),
        "number": draw(st.one_of(st.none(), words)),
        "issue_date": draw(st.one_of(st.none(), dates)),
        "customer": draw(st.one_of(st.none(), qb_refs)),
        "customer_email": draw(st.one_of(st.none(), st.emails())),
        "discount": draw(
            st.one_of(st.none(), percents.map(Discount.percent), amounts.map(Discount.amount))
        ),
        "memo": draw(st.one_of(st.none(), words)),
        "custom_fields": tuple((n, draw(words)) for n in names),
        "ref": draw(st.one_of(st.none(), qb_refs)),
    }


@settings(max_examples=150)
@given(document_fields(), st.one_of(st.none(), st.integers(0, 60)), st.one_of(st.none(), words))
def test_invoice_round_trip(
    fields: dict[str, object], due_in: int | None, terms: str | None
) -> None:
    issue = fields["issue_date"]
    due = issue + dt.timedelta(days=due_in) if issue and due_in is not None else None  # type: ignore[operator]
    invoice = Invoice(**fields, status=InvoiceStatus.OPEN, due_date=due, terms=terms)  # type: ignore[arg-type]
    assert codec.invoice_from_qbo(codec.invoice_to_qbo(invoice)) == invoice
    # and through JSON, as the client sends and reads it
    wire = json_loads(json_dumps(codec.invoice_to_qbo(invoice)))
    assert codec.invoice_from_qbo(wire) == invoice


@settings(max_examples=60)
@given(document_fields(), st.one_of(st.none(), dates))
def test_estimate_round_trip(fields: dict[str, object], expires: dt.date | None) -> None:
    estimate = Estimate(**fields, expiration_date=expires)  # type: ignore[arg-type]
    assert codec.estimate_from_qbo(codec.estimate_to_qbo(estimate)) == estimate


@settings(max_examples=60)
@given(document_fields(), st.one_of(st.none(), ids), st.one_of(st.none(), ids))
def test_receipts_round_trip(
    fields: dict[str, object], method: str | None, acct: str | None
) -> None:
    receipt = SalesReceipt(**fields, payment_method=method, deposit_account=acct)  # type: ignore[arg-type]
    assert codec.sales_receipt_from_qbo(codec.sales_receipt_to_qbo(receipt)) == receipt
    refund = RefundReceipt(**fields, payment_method=method, refund_from_account=acct)  # type: ignore[arg-type]
    assert codec.refund_receipt_from_qbo(codec.refund_receipt_to_qbo(refund)) == refund


addresses = st.builds(
    Address,
    line1=st.one_of(st.none(), words),
    city=st.one_of(st.none(), words),
    region=st.one_of(st.none(), words),
    postal_code=st.one_of(st.none(), words),
    country=st.one_of(st.none(), words),
).filter(lambda a: not a.is_empty)


@st.composite
def parties(draw: st.DrawFn) -> Party:
    given_name = draw(st.one_of(st.none(), words))
    family = draw(st.one_of(st.none(), words))
    company = draw(st.one_of(st.none(), words))
    kind = PartyKind.COMPANY if company and not (given_name or family) else PartyKind.PERSON
    display = draw(words)
    return Party(
        kind=kind,
        given_name=given_name,
        family_name=family,
        company_name=company,
        display_name=display,
        emails=tuple(draw(st.lists(st.emails(), max_size=2))),
        phone=draw(st.one_of(st.none(), words)),
        billing_address=draw(st.one_of(st.none(), addresses)),
        shipping_address=draw(st.one_of(st.none(), addresses)),
        notes=draw(st.one_of(st.none(), words)),
        active=draw(st.booleans()),
        ref=draw(st.one_of(st.none(), qb_refs)),
    )


@settings(max_examples=100)
@given(parties())
def test_party_round_trip(party: Party) -> None:
    assert codec.party_from_qbo(codec.party_to_qbo(party)) == party


@settings(max_examples=100)
@given(
    st.builds(
        Product,
        name=words,
        sku=st.one_of(st.none(), words),
        unit_price=st.one_of(st.none(), amounts.map(lambda a: Money(a, "USD"))),
        description=st.one_of(st.none(), words),
        income_account=st.one_of(st.none(), ids),
        kind=st.sampled_from(ProductKind),
        taxable=st.booleans(),
        active=st.booleans(),
        ref=st.one_of(st.none(), qb_refs),
    )
)
def test_product_round_trip(product: Product) -> None:
    assert codec.product_from_qbo(codec.product_to_qbo(product)) == product


@st.composite
def payments(draw: st.DrawFn) -> Payment:
    currency = draw(currencies)
    applied = draw(st.lists(amounts, max_size=3))
    extra = draw(amounts)
    return Payment(
        amount=Money(sum(applied, Decimal(0)) + extra, currency),
        date=draw(dates),
        source=PaymentSource.QUICKBOOKS,
        method=draw(st.one_of(st.none(), ids)),
        reference=draw(st.one_of(st.none(), words)),
        customer=draw(st.one_of(st.none(), qb_refs)),
        applied_to=tuple(PaymentApplication(draw(qb_refs), Money(a, currency)) for a in applied),
        ref=draw(st.one_of(st.none(), qb_refs)),
    )


@settings(max_examples=100)
@given(payments())
def test_payment_round_trip(payment: Payment) -> None:
    assert codec.payment_from_qbo(codec.payment_to_qbo(payment)) == payment


@st.composite
def expenses(draw: st.DrawFn) -> Expense:
    currency = draw(currencies)
    return Expense(
        date=draw(dates),
        paid_from_account=draw(ids),
        lines=tuple(
            ExpenseLine(
                account=draw(ids),
                amount=Money(draw(amounts), currency),
                description=draw(st.one_of(st.none(), words)),
            )
            for _ in range(draw(st.integers(1, 3)))
        ),
        payment_type=draw(st.sampled_from(ExpensePaymentType)),
        payee=draw(st.one_of(st.none(), qb_refs)),
        memo=draw(st.one_of(st.none(), words)),
        ref=draw(st.one_of(st.none(), qb_refs)),
    )


@settings(max_examples=100)
@given(expenses())
def test_expense_round_trip(expense: Expense) -> None:
    assert codec.expense_from_qbo(codec.expense_to_qbo(expense)) == expense


INVOICE = {
    "Id": "130",
    "SyncToken": "3",
    "DocNumber": "1037",
    "TxnDate": "2026-01-15",
    "DueDate": "2026-02-14",
    "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
    "CustomerRef": {"value": "7", "name": "Acme"},
    "BillEmail": {"Address": "ap@acme.example"},
    "CustomerMemo": {"value": "Thanks"},
    "SalesTermRef": {"value": "3"},
    "CustomField": [
        {"DefinitionId": "1", "Name": "PO", "Type": "StringType", "StringValue": "PO-9"},
        {"DefinitionId": "2", "Name": "Empty", "Type": "StringType"},
    ],
    "Line": [
        {
            "Id": "1",
            "LineNum": 1,
            "Amount": 39.0,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {
                "ItemRef": {"value": "5", "name": "Rock Fountain"},
                "UnitPrice": 19.5,
                "Qty": 2,
                "TaxCodeRef": {"value": "TAX"},
                "ServiceDate": "2026-01-10",
            },
        },
        {"Amount": 39.0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
        {
            "Amount": 3.9,
            "DetailType": "DiscountLineDetail",
            "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
        },
        {"DetailType": "DescriptionOnly", "Description": "Delivered in January"},
        {
            "DetailType": "GroupLineDetail",
            "GroupLineDetail": {
                "Line": [
                    {
                        "Amount": 0.1,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "6"}, "Qty": 1},
                    }
                ]
            },
        },
    ],
    "TotalAmt": 35.2,
    "Balance": 10.2,
}


def test_decoding_a_real_shaped_invoice() -> None:
    invoice = codec.invoice_from_qbo(json_loads(json_dumps(INVOICE)))
    assert invoice.ref == RecordRef(System.QUICKBOOKS, "130")
    assert invoice.customer == RecordRef(System.QUICKBOOKS, "7")
    assert invoice.number == "1037"
    assert invoice.custom_fields == (("PO", "PO-9"),)
    assert invoice.discount == Discount.percent(10)
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.amount_paid == usd("25.0")
    assert invoice.terms == "3"
    first, text_line, grouped = invoice.lines
    assert first.product == RecordRef(System.QUICKBOOKS, "5")
    assert first.name == "Rock Fountain"
    assert first.unit_price == usd("19.5")
    assert isinstance(first.unit_price.amount, Decimal)
    assert first.quantity == 2
    assert first.taxable
    assert first.service_date == dt.date(2026, 1, 10)
    assert text_line.description == "Delivered in January"
    assert text_line.unit_price.is_zero
    assert grouped.unit_price == usd("0.1")  # from Amount / Qty when UnitPrice is absent
    assert not grouped.taxable


def test_invoice_status_paid_and_voided() -> None:
    paid = {**INVOICE, "Balance": 0}
    assert codec.invoice_from_qbo(paid).status is InvoiceStatus.PAID
    voided = {**INVOICE, "TotalAmt": 0, "Balance": 0, "PrivateNote": "Voided - oops"}
    decoded = codec.invoice_from_qbo(voided)
    assert decoded.status is InvoiceStatus.VOIDED
    assert decoded.total.is_zero
    # a note alone is not a void
    noted = {**INVOICE, "PrivateNote": "Voided the old one, this replaces it"}
    assert codec.invoice_from_qbo(noted).status is InvoiceStatus.OPEN
    # an empty invoice is open, not paid
    empty = {**INVOICE, "TotalAmt": 0, "Balance": 0}
    assert codec.invoice_from_qbo(empty).status is InvoiceStatus.OPEN


def test_amount_discount_line_and_custom_field_ids() -> None:
    doc = Invoice(
        currency="USD",
        lines=(Line(unit_price=usd("10.00"), product=RecordRef(System.QUICKBOOKS, "1")),),
        discount=Discount.amount(Decimal("2.50")),
        custom_fields=(("PO", "1"),),
    )
    body = codec.invoice_to_qbo(doc, {"PO": "1"})
    assert body["Line"][-1] == {
        "DetailType": "DiscountLineDetail",
        "Amount": Decimal("2.50"),
        "DiscountLineDetail": {"PercentBased": False},
    }
    assert body["CustomField"] == [
        {"Name": "PO", "Type": "StringType", "StringValue": "1", "DefinitionId": "1"}
    ]
    assert "Id" not in body  # a create body


def test_sparse_update() -> None:
    party = Party(display_name="A", ref=RecordRef(System.QUICKBOOKS, "9"))
    body = codec.sparse_update(codec.party_to_qbo(party), "4")
    assert body["Id"] == "9"
    assert body["SyncToken"] == "4"
    assert body["sparse"] is True
    try:
        codec.sparse_update(codec.party_to_qbo(Party(display_name="B")), "0")
    except ValueError:
        pass
    else:
        raise AssertionError("a body without Id cannot be a sparse update")


def test_json_keeps_money_exact() -> None:
    body = {"Amount": Decimal("1234567.89"), "Qty": Decimal(3), "Rate": Decimal("0.1")}
    assert json_dumps(body) == b'{"Amount":1234567.89,"Qty":3,"Rate":0.1}'
    back = json_loads(json_dumps(body))
    assert back == {"Amount": Decimal("1234567.89"), "Qty": 3, "Rate": Decimal("0.1")}
    assert isinstance(back["Amount"], Decimal)


def test_voided_payment_and_foreign_refs() -> None:
    raw = {
        "Id": "3",
        "TxnDate": "2026-01-02",
        "TotalAmt": 0,
        "PrivateNote": "Voided",
        "Line": [{"Amount": 0, "LinkedTxn": [{"TxnId": "5", "TxnType": "Invoice"}]}],
    }
    payment = codec.payment_from_qbo(raw)
    assert payment.status.value == "voided"
    assert payment.applied_to[0].invoice == RecordRef(System.QUICKBOOKS, "5")
    # references into HubSpot are never sent to QBO
    doc = Invoice(
        currency="USD",
        customer=RecordRef(System.HUBSPOT, "77"),
        lines=(Line(unit_price=usd("1"), product=RecordRef(System.HUBSPOT, "8")),),
    )
    body = codec.invoice_to_qbo(doc)
    assert "CustomerRef" not in body
    assert "ItemRef" not in body["Line"][0]["SalesItemLineDetail"]
