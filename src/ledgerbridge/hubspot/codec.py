"""Pure conversions between HubSpot records and domain objects (no I/O).

Conventions, both ways:
* Property values are strings; an absent value is "" when written (HubSpot treats
  "" as "clear this value" on update and as "no value" on create) and None when read.
* Money is `Decimal`, written in plain notation ("12.50", never "1.25E+1"), so
  amounts survive a round trip digit for digit.
* Dates are written as midnight UTC ("2024-05-01T00:00:00.000Z"), which HubSpot
  accepts for both date and datetime properties; read back as the UTC date.

`encode_*` returns every mapped property, including HubSpot-computed ones (for
comparisons); pass the result through `writable(obj, props)` before sending it,
which drops the read-only and calculated properties HubSpot refuses.

Contacts and companies ↔ `Party`, products ↔ `Product`, line items ↔ `Line`.
Invoices and commerce payments are in `codec_commerce`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from ledgerbridge.domain import (
    Address,
    Discount,
    DiscountKind,
    Line,
    Money,
    Party,
    PartyKind,
    Product,
    ProductKind,
    RecordRef,
    System,
)
from ledgerbridge.hubspot.objects import HubSpotRecord, ObjectType, parse_timestamp

__all__ = [
    "CONTACT_PROPERTIES",
    "LINE_ITEM_PROPERTIES",
    "PRODUCT_PROPERTIES",
    "READ_ONLY",
    "CodecError",
    "decode_company",
    "decode_contact",
    "decode_line_item",
    "decode_product",
    "encode_company",
    "encode_contact",
    "encode_line_item",
    "encode_product",
    "writable",
]

Properties = dict[str, str]


class CodecError(ValueError):
    """A HubSpot record that cannot become a domain object (bad number, date, status…)."""


# Properties HubSpot computes or stamps itself: never sent on create or update.
READ_ONLY: dict[str, frozenset[str]] = {
    "line_items": frozenset({"amount", "hs_total_discount"}),
    "invoices": frozenset(
        {
            "hs_number",
            "hs_subtotal",
            "hs_tax",
            "hs_amount_billed",
            "hs_amount_paid",
            "hs_balance_due",
            "hs_invoice_source",
            "hs_payment_date",
            "hs_voided_date",
        }
    ),
    "commerce_payments": frozenset({"hs_net_amount"}),
}
_ALWAYS_READ_ONLY = frozenset(
    {"hs_object_id", "createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate"}
)


def writable(obj: ObjectType, properties: Mapping[str, str]) -> Properties:
    """`properties` without the ones HubSpot computes (safe to send)."""
    blocked = READ_ONLY.get(obj, frozenset()) | _ALWAYS_READ_ONLY
    return {k: v for k, v in properties.items() if k not in blocked}


# ---------------------------------------------------------------- value helpers


def text(value: str | None) -> str:
    return "" if value is None else value


def fmt_decimal(value: Decimal) -> str:
    """Plain notation, no exponent, exactly the digits of `value`."""
    if not value.is_finite():
        raise CodecError(f"not a finite number: {value}")
    return format(value, "f")


def parse_decimal(record: HubSpotRecord, name: str) -> Decimal | None:
    raw = record.get(name)
    if raw is None:
        return None
    try:
        number = Decimal(raw.strip())
    except InvalidOperation as exc:
        raise CodecError(f"{name}={raw!r} on record {record.id} is not a number") from exc
    if not number.is_finite():
        raise CodecError(f"{name}={raw!r} on record {record.id} is not a finite number")
    return number


def fmt_date(value: dt.date | None) -> str:
    if value is None:
        return ""
    return f"{value.isoformat()}T00:00:00.000Z"


def parse_date(record: HubSpotRecord, name: str) -> dt.date | None:
    raw = record.get(name)
    if raw is None:
        return None
    try:
        moment = parse_timestamp(raw)
    except ValueError as exc:
        raise CodecError(f"{name}={raw!r} on record {record.id} is not a date") from exc
    return moment.date() if moment is not None else None


def money(record: HubSpotRecord, name: str, currency: str) -> Money | None:
    amount = parse_decimal(record, name)
    return None if amount is None else Money(amount, currency)


def hubspot_ref(record_id: str | None) -> RecordRef | None:
    return RecordRef(System.HUBSPOT, record_id) if record_id else None


def _ref_id(ref: RecordRef | None) -> str:
    """The HubSpot id of a reference; "" for none or for a reference to the other system."""
    return ref.id if ref is not None and ref.system is System.HUBSPOT else ""


# ---------------------------------------------------------------- parties

CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "company",
    "phone",
    "address",
    "city",
    "state",
    "zip",
    "country",
)
COMPANY_PROPERTIES = ("name", "phone", "address", "city", "state", "zip", "country")
_ADDRESS = (("address", "line1"), ("city", "city"), ("state", "region"), ("zip", "postal_code"))


def _decode_address(record: HubSpotRecord) -> Address | None:
    street = record.get("address")
    line1, _, line2 = (street or "").partition("\n")
    address = Address(
        line1=line1 or None,
        line2=line2 or None,
        city=record.get("city"),
        region=record.get("state"),
        postal_code=record.get("zip"),
        country=record.get("country"),
    )
    return None if address.is_empty else address


def _encode_address(address: Address | None) -> Properties:
    """HubSpot has one street line; `line2` is appended to it after a newline."""
    if address is None:
        return {name: "" for name, _ in _ADDRESS} | {"country": ""}
    street = "\n".join(part for part in (address.line1, address.line2) if part)
    return {
        "address": street,
        "city": text(address.city),
        "state": text(address.region),
        "zip": text(address.postal_code),
        "country": text(address.country),
    }


def decode_contact(record: HubSpotRecord) -> Party:
    email = record.get("email")
    return Party(
        kind=PartyKind.PERSON,
        given_name=record.get("firstname"),
        family_name=record.get("lastname"),
        company_name=record.get("company"),
        emails=(email,) if email else (),
        phone=record.get("phone"),
        billing_address=_decode_address(record),
        active=not record.archived,
        ref=hubspot_ref(record.id),
    )


def encode_contact(party: Party) -> Properties:
    """A contact's properties. HubSpot keeps one email: `emails[0]`."""
    return {
        "email": party.emails[0] if party.emails else "",
        "firstname": text(party.given_name),
        "lastname": text(party.family_name),
        "company": text(party.company_name),
        "phone": text(party.phone),
        **_encode_address(party.billing_address),
    }


def decode_company(record: HubSpotRecord) -> Party:
    return Party(
        kind=PartyKind.COMPANY,
        company_name=record.get("name"),
        phone=record.get("phone"),
        billing_address=_decode_address(record),
        active=not record.archived,
        ref=hubspot_ref(record.id),
    )


def encode_company(party: Party) -> Properties:
    name = party.company_name or party.best_display_name()
    return {
        "name": text(name),
        "phone": text(party.phone),
        **_encode_address(party.billing_address),
    }


# ---------------------------------------------------------------- products

PRODUCT_PROPERTIES = ("name", "hs_sku", "price", "description", "hs_product_type")


def decode_product(record: HubSpotRecord, currency: str) -> Product:
    """A product; HubSpot prices carry no currency, so the portal's currency is given."""
    name = record.get("name")
    if name is None:
        raise CodecError(f"product {record.id} has no name")
    kind_raw = record.get("hs_product_type")
    try:
        kind = ProductKind(kind_raw) if kind_raw else ProductKind.SERVICE
    except ValueError as exc:
        raise CodecError(f"product {record.id} has an unknown type {kind_raw!r}") from exc
    return Product(
        name=name,
        sku=record.get("hs_sku"),
        unit_price=money(record, "price", currency),
        description=record.get("description"),
        kind=kind,
        active=not record.archived,
        ref=hubspot_ref(record.id),
    )


def encode_product(product: Product) -> Properties:
    return {
        "name": product.name,
        "hs_sku": text(product.sku),
        "price": fmt_decimal(product.unit_price.amount) if product.unit_price else "",
        "description": text(product.description),
        "hs_product_type": product.kind.value,
    }


# ---------------------------------------------------------------- line items

LINE_ITEM_PROPERTIES = (
    "name",
    "description",
    "quantity",
    "price",
    "hs_sku",
    "hs_product_id",
    "discount",
    "hs_discount_percentage",
    "hs_line_item_currency_code",
    "amount",
)


def decode_line_item(record: HubSpotRecord, currency: str) -> Line:
    """A line item. HubSpot's `discount` is per unit; the domain's amount discount is
    for the whole line, so it is `quantity × discount`."""
    quantity = parse_decimal(record, "quantity")
    quantity = Decimal(1) if quantity is None else quantity
    line_currency = record.get("hs_line_item_currency_code") or currency
    if line_currency != currency:
        raise CodecError(f"line item {record.id} is in {line_currency}, its invoice in {currency}")
    price = parse_decimal(record, "price") or Decimal(0)
    discount: Discount | None = None
    percent = parse_decimal(record, "hs_discount_percentage")
    unit_off = parse_decimal(record, "discount")
    try:
        if percent is not None:
            discount = Discount.percent(percent)
        elif unit_off is not None:
            discount = Discount.amount(unit_off * quantity)
    except ValueError as exc:
        raise CodecError(f"line item {record.id} has an invalid discount: {exc}") from exc
    return Line(
        name=record.get("name"),
        description=record.get("description"),
        quantity=quantity,
        unit_price=Money(price, currency),
        product=hubspot_ref(record.get("hs_product_id")),
        sku=record.get("hs_sku"),
        discount=discount,
    )


def encode_line_item(line: Line) -> Properties:
    """A line item's properties (`amount` is HubSpot's calculated net price)."""
    percent = unit_off = ""
    if line.discount is not None and line.discount.kind is DiscountKind.PERCENT:
        percent = fmt_decimal(line.discount.value)
    elif line.discount is not None:
        per_unit = line.discount.value / line.quantity if line.quantity else line.discount.value
        unit_off = fmt_decimal(per_unit)
    return {
        "name": text(line.name or line.description or line.sku),
        "description": text(line.description),
        "quantity": fmt_decimal(line.quantity),
        "price": fmt_decimal(line.unit_price.amount),
        "hs_sku": text(line.sku),
        "hs_product_id": _ref_id(line.product),
        "discount": unit_off,
        "hs_discount_percentage": percent,
        "hs_line_item_currency_code": line.unit_price.currency,
        "amount": fmt_decimal(line.amount.amount),
    }
