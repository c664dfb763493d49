"""Reading records into canonical snapshots (the read half of the field mapping).

`snapshot(rule, record, refs)` reduces a `SideRecord` to `{mapping name: canonical
value}` for the rule's enabled mappings. Built-in mappings read the domain object
(`SideRecord.domain`) when there is one, else the raw path; custom mappings read raw
paths: a HubSpot property name, or on the QBO side a dotted path
(`PrimaryEmailAddr.Address`) or a custom field by name (`CustomField:PO number`).

Invoice references are translated through `RefIndex` so that both sides produce the
same canonical value: the customer is the linked HubSpot contact id, and each line's
product the linked HubSpot product id (None for custom lines, R-PRD-3). A reference
that has no link reads as `UNLINKED_PREFIX + "<system>:<id>"`.

The write half (canonical fields → HubSpot properties / QBO JSON) is in
`ledgerbridge.sync.payloads`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ledgerbridge.domain import (
    Address,
    Discount,
    Invoice,
    Line,
    Party,
    Product,
    RecordRef,
    System,
    normalize_email,
)
from ledgerbridge.sync import canonical as canon
from ledgerbridge.sync.model import CanonicalValue, DomainObject, LineValue, RefIndex, SideRecord
from ledgerbridge.sync.rules import FieldMapping, FieldType, ServiceDateSource, SyncRule

UNLINKED_PREFIX = "?"
CUSTOM_FIELD_PREFIX = "CustomField:"


def is_unlinked(value: CanonicalValue) -> bool:
    return value is None or (isinstance(value, str) and value.startswith(UNLINKED_PREFIX))


def read_raw(raw: Mapping[str, Any], path: str, system: System) -> Any:
    """The value at `path` in a record's raw JSON (None when absent)."""
    if system is System.HUBSPOT:
        return raw.get(path)
    if path.startswith(CUSTOM_FIELD_PREFIX):
        name = path[len(CUSTOM_FIELD_PREFIX) :]
        for custom in raw.get("CustomField") or ():
            if isinstance(custom, Mapping) and custom.get("Name") == name:
                for key in ("StringValue", "NumberValue", "DateValue", "BooleanValue"):
                    if key in custom:
                        return custom[key]
        return None
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


# ---- built-in accessors: (domain object, system, refs, rule) → raw value ----

Accessor = Callable[[Any, System, RefIndex, SyncRule], Any]


def _address(party: Party) -> Address:
    return party.billing_address or Address()


def _ref_key(ref: RecordRef | None, system: System, translate: Callable[[str], str | None]) -> str:
    if ref is None:
        return f"{UNLINKED_PREFIX}none"
    if system is System.HUBSPOT:
        # Canonical is the HubSpot id, but only once the reference is linked.
        return ref.id if translate(ref.id) is not None else f"{UNLINKED_PREFIX}{ref}"
    other = translate(ref.id)
    return other if other is not None else f"{UNLINKED_PREFIX}{ref}"


def _customer(inv: Invoice, system: System, refs: RefIndex, rule: SyncRule) -> str:
    if system is System.HUBSPOT:
        return _ref_key(inv.customer, system, refs.customer_for_contact)
    return _ref_key(inv.customer, system, refs.contact_for_customer)


def _discount(discount: Discount | None) -> str | None:
    if discount is None:
        return None
    return f"{discount.kind.value}:{canon.decimal_text(discount.value)}"


def _line_product(line: Line, system: System, refs: RefIndex) -> str | None:
    if line.product is None:
        return None
    if system is System.HUBSPOT:
        return line.product.id if refs.item_for_product(line.product.id) else None
    if line.product.id == refs.custom_line_item_id:
        return None
    return refs.product_for_item(line.product.id)


def _lines(inv: Invoice, system: System, refs: RefIndex, rule: SyncRule) -> list[LineValue]:
    fill = rule.invoice.service_date if rule.invoice else ServiceDateSource.NONE
    default_date = {
        ServiceDateSource.ISSUE_DATE: inv.issue_date,
        ServiceDateSource.DUE_DATE: inv.due_date,
        ServiceDateSource.NONE: None,
    }[fill]
    return [
        {
            "product": _line_product(line, system, refs),
            "description": canon.text(line.description or line.name),
            "quantity": canon.number(line.quantity),
            "unit_price": canon.number(line.unit_price.amount),
            "discount": _discount(line.discount),
            "service_date": canon.date(line.service_date or default_date),
        }
        for line in inv.lines
    ]


def _money_amount(product: Product) -> Any:
    return product.unit_price.amount if product.unit_price is not None else None


ACCESSORS: dict[type, dict[str, Accessor]] = {
    Party: {
        "email": lambda p, *_: normalize_email(p.emails[0]) if p.emails else None,
        "first_name": lambda p, *_: p.given_name,
        "last_name": lambda p, *_: p.family_name,
        "company": lambda p, *_: p.company_name,
        "phone": lambda p, *_: p.phone,
        "billing_street": lambda p, *_: _address(p).line1,
        "billing_city": lambda p, *_: _address(p).city,
        "billing_region": lambda p, *_: _address(p).region,
        "billing_postal_code": lambda p, *_: _address(p).postal_code,
        "billing_country": lambda p, *_: _address(p).country,
    },
    Product: {
        "name": lambda p, *_: p.name,
        "sku": lambda p, *_: p.sku,
        "price": lambda p, *_: _money_amount(p),
        "description": lambda p, *_: p.description,
    },
    Invoice: {
        "number": lambda i, *_: i.number,
        "issue_date": lambda i, *_: i.issue_date,
        "due_date": lambda i, *_: i.due_date,
        "currency": lambda i, *_: i.currency,
        "customer": _customer,
        "memo": lambda i, *_: i.memo,
        "status": lambda i, *_: i.status.value,
        "lines": _lines,
        "order_discount": lambda i, *_: _discount(i.discount),
    },
}


_FOUND: dict[tuple[type, str], Accessor | None] = {}
"""`_accessor`'s answers by (domain class, field name): read once per field of every record."""


def _accessor(domain: DomainObject | None, name: str) -> Accessor | None:
    if domain is None:
        return None
    key = (type(domain), name)
    if key not in _FOUND:
        table = next((t for cls, t in ACCESSORS.items() if isinstance(domain, cls)), {})
        _FOUND[key] = table.get(name)
    return _FOUND[key]


def read_field(
    rule: SyncRule, mapping: FieldMapping, record: SideRecord, refs: RefIndex
) -> CanonicalValue:
    """The canonical value of one mapped field of `record`."""
    system = record.system
    accessor = _accessor(record.domain, mapping.name) if mapping.builtin else None
    if accessor is not None:
        value = accessor(record.domain, system, refs, rule)
        if mapping.type is FieldType.LINES:
            lines: list[LineValue] = value
            return lines
        if mapping.type in (FieldType.REFERENCE, FieldType.DISCOUNT):
            return canon.text(value)
    else:
        path = mapping.path(system)
        if path.startswith("@") or mapping.type in (FieldType.LINES, FieldType.REFERENCE):
            return None
        value = read_raw(record.raw, path, system)
    if mapping.name == "email" and mapping.builtin:
        return normalize_email(canon.text(value))
    return canon.canonical(value, mapping.type, system, mapping.value_map)


def snapshot(rule: SyncRule, record: SideRecord, refs: RefIndex) -> dict[str, CanonicalValue]:
    """The record's canonical snapshot under `rule` (enabled mappings only)."""
    return {m.name: read_field(rule, m, record, refs) for m in rule.active_mappings()}


def named_mappings(rule: SyncRule, names: Sequence[str]) -> list[FieldMapping]:
    """The rule's enabled mappings of `names`, in that order (those it has)."""
    mappings = {m.name: m for m in rule.active_mappings()}
    return [mappings[n] for n in names if n in mappings]


def first_text(
    rule: SyncRule, mappings: Sequence[FieldMapping], record: SideRecord, refs: RefIndex
) -> str | None:
    """The first of `mappings` (`named_mappings`) whose value in the record's snapshot is
    text, reading only those fields (a label)."""
    for mapping in mappings:
        value = read_field(rule, mapping, record, refs)
        if isinstance(value, str):
            return value
    return None
