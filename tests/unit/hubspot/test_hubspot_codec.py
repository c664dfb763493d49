"""Round trips between HubSpot records and domain objects (Hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerbridge.domain import (
    Address,
    Discount,
    Invoice,
    InvoiceStatus,
    Line,
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
from ledgerbridge.hubspot.codec import (
    CONTACT_PROPERTIES,
    CodecError,
    decode_company,
    decode_contact,
    decode_line_item,
    decode_product,
    encode_company,
    encode_contact,
    encode_line_item,
    encode_product,
    writable,
)
from ledgerbridge.hubspot.codec_commerce import (
    decode_invoice,
    decode_payment,
    encode_invoice,
    encode_invoice_lines,
    encode_payment,
)
from ledgerbridge.hubspot.objects import HubSpotRecord

CURRENCIES = ["USD", "EUR", "GBP", "JPY", "KWD"]
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=12
)
maybe = st.none() | words
ids = st.integers(min_value=1, max_value=10**12).map(str)
refs = ids.map(lambda i: RecordRef(System.HUBSPOT, i))
amounts = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False)
positive = st.decimals(min_value=Decimal("0.01"), max_value=10**6, places=2, allow_nan=False)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=10**4, places=3, allow_nan=False)
dates = st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2100, 12, 31))


def record(record_id: str, props: dict[str, str], **assoc: tuple[str, ...]) -> HubSpotRecord:
    return HubSpotRecord(id=record_id, properties=props, associations=assoc)


addresses = st.builds(
    Address,
    line1=words,
    line2=maybe,
    city=maybe,
    region=maybe,
    postal_code=maybe,
    country=maybe,
)


@given(
    record_id=ids,
    given_name=maybe,
    family_name=maybe,
    company=maybe,
    email=maybe,
    phone=maybe,
    address=st.none() | addresses,
)
def test_contact_round_trip(
    record_id: str,
    given_name: str | None,
    family_name: str | None,
    company: str | None,
    email: str | None,
    phone: str | None,
    address: Address | None,
) -> None:
    party = Party(
        given_name=given_name,
        family_name=family_name,
        company_name=company,
        emails=(email,) if email else (),
        phone=phone,
        billing_address=address,
        ref=RecordRef(System.HUBSPOT, record_id),
    )
    props = encode_contact(party)
    assert set(props) == set(CONTACT_PROPERTIES)
    assert all(isinstance(v, str) for v in props.values())
    assert decode_contact(record(record_id, props)) == party


@given(
    props=st.fixed_dictionaries({name: st.just("") | words for name in CONTACT_PROPERTIES}),
    record_id=ids,
)
def test_contact_json_round_trip(props: dict[str, str], record_id: str) -> None:
    assert encode_contact(decode_contact(record(record_id, props))) == props


@given(record_id=ids, name=words, phone=maybe, address=st.none() | addresses)
def test_company_round_trip(
    record_id: str, name: str, phone: str | None, address: Address | None
) -> None:
    party = Party(
        kind=PartyKind.COMPANY,
        company_name=name,
        phone=phone,
        billing_address=address,
        ref=RecordRef(System.HUBSPOT, record_id),
    )
    assert decode_company(record(record_id, encode_company(party))) == party


@given(
    record_id=ids,
    name=words.filter(lambda s: s.strip() != ""),
    sku=maybe,
    price=st.none() | amounts,
    description=maybe,
    kind=st.sampled_from(ProductKind),
    currency=st.sampled_from(CURRENCIES),
)
def test_product_round_trip(
    record_id: str,
    name: str,
    sku: str | None,
    price: Decimal | None,
    description: str | None,
    kind: ProductKind,
    currency: str,
) -> None:
    product = Product(
        name=name,
        sku=sku,
        unit_price=Money(price, currency) if price is not None else None,
        description=description,
        kind=kind,
        ref=RecordRef(System.HUBSPOT, record_id),
    )
    props = encode_product(product)
    assert decode_product(record(record_id, props), currency) == product


def lines(currency: str) -> st.SearchStrategy[Line]:
    @st.composite
    def build(draw: st.DrawFn) -> Line:
        quantity = draw(quantities)
        kind = draw(st.sampled_from(["none", "percent", "amount"]))
        discount = None
        if kind == "percent":
            discount = Discount.percent(draw(st.decimals(0, 100, places=2)))
        elif kind == "amount":
            discount = Discount.amount(draw(amounts) * quantity)  # HubSpot stores it per unit
        return Line(
            name=draw(words),
            description=draw(maybe),
            quantity=quantity,
            unit_price=Money(draw(amounts), currency),
            product=draw(st.none() | refs),
            sku=draw(maybe),
            discount=discount,
        )

    return build()


@given(data=st.data(), currency=st.sampled_from(CURRENCIES))
def test_line_item_round_trip(data: st.DataObject, currency: str) -> None:
    line = data.draw(lines(currency))
    props = encode_line_item(line)
    assert props["amount"] == format(line.amount.amount, "f")
    assert decode_line_item(record("9", props), currency) == line


@st.composite
def invoices(draw: st.DrawFn) -> Invoice:
    currency = draw(st.sampled_from(CURRENCIES))
    issue = draw(st.none() | dates)
    due = draw(st.none() | dates)
    if issue and due and due < issue:
        issue, due = due, issue
    return Invoice(
        currency=currency,
        lines=tuple(draw(st.lists(lines(currency), max_size=4))),
        number=draw(maybe),
        issue_date=issue,
        due_date=due,
        customer=draw(st.none() | refs),
        deal=draw(st.none() | refs),
        discount=draw(st.none() | positive.map(Discount.amount)),
        memo=draw(maybe),
        source=draw(st.none() | st.sampled_from(System)),
        status=draw(st.sampled_from(InvoiceStatus)),
        amount_paid=draw(st.none() | amounts.map(lambda a: Money(a, currency))),
        ref=RecordRef(System.HUBSPOT, draw(ids)),
    )


@given(invoice=invoices())
def test_invoice_round_trip(invoice: Invoice) -> None:
    assert invoice.ref is not None
    props = encode_invoice(invoice)
    assert props["hs_invoice_status"] == invoice.status.value
    assert props["hs_balance_due"] == format(invoice.balance.amount, "f")
    assoc: dict[str, tuple[str, ...]] = {}
    if invoice.customer:
        assoc["contacts"] = (invoice.customer.id,)
    if invoice.deal:
        assoc["deals"] = (invoice.deal.id,)
    items = [record(str(i + 1), p) for i, p in enumerate(encode_invoice_lines(invoice))]
    decoded = decode_invoice(record(invoice.ref.id, props, **assoc), items)
    assert decoded == invoice


@st.composite
def payments(draw: st.DrawFn) -> Payment:
    currency = draw(st.sampled_from(CURRENCIES))
    amount = Money(draw(amounts), currency)
    fee = st.none() | amounts.map(lambda a: Money(a, currency))
    applied = draw(st.none() | refs)
    return Payment(
        amount=amount,
        date=draw(dates),
        source=draw(
            st.sampled_from(
                [PaymentSource.HUBSPOT_PAYMENTS, PaymentSource.STRIPE, PaymentSource.OTHER]
            )
        ),
        status=draw(st.sampled_from([s for s in PaymentStatus if s is not PaymentStatus.VOIDED])),
        method=draw(maybe),
        reference=draw(maybe),
        customer=draw(st.none() | refs),
        applied_to=(PaymentApplication(applied, amount),) if applied else (),
        processing_fee=draw(fee),
        platform_fee=draw(fee),
        ref=RecordRef(System.HUBSPOT, draw(ids)),
    )


@given(payment=payments())
def test_payment_round_trip(payment: Payment) -> None:
    assert payment.ref is not None
    assoc: dict[str, tuple[str, ...]] = {}
    if payment.customer:
        assoc["contacts"] = (payment.customer.id,)
    if payment.applied_to:
        assoc["invoices"] = (payment.applied_to[0].invoice.id,)
    props = encode_payment(payment)
    assert decode_payment(record(payment.ref.id, props, **assoc)) == payment


def test_money_is_written_in_plain_notation_and_read_as_decimal() -> None:
    line = Line(name="x", quantity=Decimal("1E+2"), unit_price=Money(Decimal("1.5E-1"), "USD"))
    props = encode_line_item(line)
    assert props["quantity"] == "100"
    assert props["price"] == "0.15"
    decoded = decode_line_item(record("1", props), "USD")
    assert decoded.unit_price.amount == Decimal("0.15")
    assert isinstance(decoded.quantity, Decimal)


def test_invoice_reads_hubspot_shapes() -> None:
    raw = {
        "id": "77",
        "properties": {
            "hs_currency": "EUR",
            "hs_invoice_status": "open",
            "hs_invoice_date": "2024-05-01T12:30:00.000Z",
            "hs_due_date": "1717200000000",
            "hs_number": "INV-1001",
            "hs_invoice_source": "hubspot",
            "hs_amount_paid": "10.00",
            "hs_balance_due": "5.00",
        },
        "createdAt": "2024-05-01T12:30:00.000Z",
        "updatedAt": "2024-05-02T08:00:00.123Z",
        "archived": False,
        "associations": {"contacts": {"results": [{"id": "5", "type": "invoice_to_contact"}]}},
    }
    line = {"id": "8", "properties": {"name": "Widget", "quantity": "3", "price": "5"}}
    invoice = decode_invoice(HubSpotRecord.from_api(raw), [HubSpotRecord.from_api(line)])
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.issue_date == dt.date(2024, 5, 1)
    assert invoice.due_date == dt.date(2024, 6, 1)
    assert invoice.number == "INV-1001"
    assert invoice.source is System.HUBSPOT
    assert invoice.customer == RecordRef(System.HUBSPOT, "5")
    assert invoice.total == Money(Decimal(15), "EUR")
    assert invoice.balance == Money(Decimal(5), "EUR")


def test_writable_drops_what_hubspot_computes() -> None:
    invoice = Invoice(currency="USD", number="INV-1", amount_paid=Money(Decimal(1), "USD"))
    sent = writable("invoices", encode_invoice(invoice))
    assert "hs_number" not in sent
    assert "hs_amount_paid" not in sent
    assert "hs_balance_due" not in sent
    assert "hs_invoice_source" not in sent
    assert sent["hs_currency"] == "USD"
    assert "amount" not in writable("line_items", {"amount": "1", "price": "1"})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"hs_currency": "USD", "hs_invoice_status": "lost"}, "unknown status"),
        ({"hs_invoice_status": "open"}, "no hs_currency"),
        ({"hs_currency": "USD", "hs_amount_paid": "ten"}, "not a number"),
        ({"hs_currency": "USD", "hs_invoice_date": "yesterday"}, "not a date"),
        (
            {
                "hs_currency": "USD",
                "hs_invoice_date": "2024-05-02",
                "hs_due_date": "2024-05-01",
            },
            "due before",
        ),
    ],
)
def test_bad_invoices_are_codec_errors(props: dict[str, str], message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_invoice(record("1", props))


def test_line_item_in_another_currency_is_refused() -> None:
    item = record("1", {"price": "1", "hs_line_item_currency_code": "EUR"})
    with pytest.raises(CodecError, match="EUR"):
        decode_line_item(item, "USD")


def test_payment_statuses_and_processors_map_to_the_domain() -> None:
    props = {
        "hs_initial_amount": "100.00",
        "hs_currency_code": "USD",
        "hs_initiated_date": "2024-03-04T10:00:00.000Z",
        "hs_latest_status": "partially_refunded",
        "hs_processor_type": "hubspot_payments",
        "hs_processing_fee": "3.20",
    }
    payment = decode_payment(record("3", props, invoices=("1", "2")))
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.source is PaymentSource.HUBSPOT_PAYMENTS
    assert payment.applied_to == ()  # two invoices: HubSpot does not say how it was split
    assert payment.fees == Money(Decimal("3.20"), "USD")
    assert payment.date == dt.date(2024, 3, 4)
    qbo = Payment(
        amount=Money(Decimal(1), "USD"), date=dt.date(2024, 1, 1), source=PaymentSource.QUICKBOOKS
    )
    assert encode_payment(qbo)["hs_processor_type"] == "manual"
