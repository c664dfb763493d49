"""Canonical fields → write payloads (the write half of the field mapping).

The planner emits the target side's canonical changed fields (`Create.fields`,
`Update.fields`). These pure functions turn them into what the connectors merge
into their request bodies:

- `hubspot_payload(...)` → `HubSpotWrite`: a `properties` dict (all strings; ""
  clears), plus the invoice's contact association, line items and order discount,
  which in HubSpot are associated objects rather than properties.
- `qbo_payload(...)` → a QBO JSON fragment: nested dicts for dotted paths,
  `CustomField` entries by `Name` (the connector fills `DefinitionId`), references
  as `{"value": id}`, invoice `Line` list. Amounts are `Decimal`: the QBO connector
  owns JSON encoding. The connector adds `Id`/`SyncToken`/`sparse` and any
  create-only defaults (item `Type`, `IncomeAccountRef`).

Domain objects for creates are left to the connectors' codecs: the payloads here
are fragments in each service's own JSON shape, which codecs merge directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import Discount, DiscountKind, System
from ledgerbridge.sync import canonical as canon
from ledgerbridge.sync.mapping import CUSTOM_FIELD_PREFIX, is_unlinked
from ledgerbridge.sync.model import CanonicalValue, LineValue, RefIndex
from ledgerbridge.sync.rules import FieldMapping, FieldType, SyncRule

CUSTOM_LINE_ITEM_NAME = "Custom line item"


class UnresolvedReferenceError(LookupError):
    """A reference has no link on the target side (the planner fails such records first)."""


@dataclass(frozen=True, slots=True)
class HubSpotWrite:
    properties: dict[str, str] = field(default_factory=dict)
    contact_id: str | None = None
    """Invoice → contact association to set (None: leave as is)."""
    line_items: tuple[dict[str, str], ...] | None = None
    """Replace the invoice's line items with these (None: leave as is)."""
    discount: Discount | None = None
    discount_changed: bool = False


def parse_discount(value: CanonicalValue) -> Discount | None:
    if not isinstance(value, str) or ":" not in value:
        return None
    kind, amount = value.split(":", 1)
    return Discount(DiscountKind(kind), Decimal(amount))


def _mappings(rule: SyncRule, names: Iterable[str]) -> list[FieldMapping]:
    wanted = set(names)
    return [m for m in rule.active_mappings() if m.name in wanted]


def cowritten(rule: SyncRule, target: System, names: Iterable[str]) -> set[str]:
    """`names` plus the fields that must be written with them on `target`.

    A QBO sparse update replaces nested objects and the `Line` list whole, so every
    mapped field under the same top-level key (`BillAddr.*`; invoice lines and the
    order discount, which is a line) is written together.
    """
    result = set(names)
    if target is not System.QUICKBOOKS:
        return result

    def group(m: FieldMapping) -> str:
        if m.type in (FieldType.LINES, FieldType.DISCOUNT):
            return "Line"
        path = m.qbo
        if path.startswith(CUSTOM_FIELD_PREFIX):
            return "CustomField"
        return path.split(".", 1)[0] if "." in path else f"={path}"

    active = [m for m in rule.active_mappings() if m.writable_on(target)]
    groups = {group(m) for m in active if m.name in result}
    result |= {m.name for m in active if group(m) in groups}
    return result


def hubspot_payload(rule: SyncRule, fields: Mapping[str, CanonicalValue]) -> HubSpotWrite:
    properties: dict[str, str] = {}
    contact_id: str | None = None
    line_items: tuple[dict[str, str], ...] | None = None
    discount: Discount | None = None
    discount_changed = False
    for m in _mappings(rule, fields):
        value = fields[m.name]
        if m.type is FieldType.REFERENCE:
            if is_unlinked(value):
                raise UnresolvedReferenceError(f"{m.name} has no linked HubSpot record")
            contact_id = str(value)
        elif m.type is FieldType.LINES:
            line_items = tuple(_hubspot_line(line) for line in _lines(value))
        elif m.type is FieldType.DISCOUNT:
            discount, discount_changed = parse_discount(value), True
        elif m.writable_on(System.HUBSPOT) and not isinstance(value, list):
            properties[m.hubspot] = canon.to_hubspot(value, m.type, m.value_map)
    return HubSpotWrite(properties, contact_id, line_items, discount, discount_changed)


def _lines(value: CanonicalValue) -> list[LineValue]:
    return value if isinstance(value, list) else []


def _hubspot_line(line: LineValue) -> dict[str, str]:
    props = {
        "name": line.get("description") or "Line item",
        "quantity": line.get("quantity") or "1",
        "price": line.get("unit_price") or "0",
    }
    if line.get("product"):
        props["hs_product_id"] = str(line["product"])
    discount = parse_discount(line.get("discount"))
    if discount is not None and discount.kind is DiscountKind.PERCENT:
        props["hs_discount_percentage"] = canon.decimal_text(discount.value)
    elif discount is not None:
        # HubSpot's line `discount` is per unit; the canonical one is for the whole line.
        quantity = Decimal(props["quantity"]) or Decimal(1)
        props["discount"] = canon.decimal_text(discount.value / quantity)
    return props


def _set_path(body: dict[str, Any], path: str, value: Any) -> None:
    if path.startswith(CUSTOM_FIELD_PREFIX):
        entry = {
            "Name": path[len(CUSTOM_FIELD_PREFIX) :],
            "Type": "StringType",
            "StringValue": "" if value is None else str(value),
        }
        body.setdefault("CustomField", []).append(entry)
        return
    *parents, leaf = path.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def qbo_payload(
    rule: SyncRule,
    fields: Mapping[str, CanonicalValue],
    refs: RefIndex,
    *,
    display_name: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    lines: list[LineValue] | None = None
    discount_value: CanonicalValue = None
    has_discount = False
    for m in _mappings(rule, fields):
        value = fields[m.name]
        if m.type is FieldType.REFERENCE:
            if is_unlinked(value):
                raise UnresolvedReferenceError(f"{m.name} has no linked QuickBooks record")
            qbo_id = refs.customer_for_contact(str(value))
            if qbo_id is None:
                raise UnresolvedReferenceError(f"contact {value} has no linked customer")
            body["CustomerRef"] = {"value": qbo_id}
        elif m.type is FieldType.LINES:
            lines = _lines(value)
        elif m.type is FieldType.DISCOUNT:
            discount_value, has_discount = value, True
        elif m.writable_on(System.QUICKBOOKS) and not isinstance(value, list):
            _set_path(body, m.qbo, canon.to_qbo(value, m.type, m.value_map))
    if lines is not None or has_discount:
        qbo_lines = [_qbo_line(line, refs) for line in lines or ()]
        discount = parse_discount(discount_value)
        if discount is not None:
            qbo_lines.append(_qbo_discount_line(discount))
        body["Line"] = qbo_lines
    if display_name is not None:
        body["DisplayName"] = display_name
    return body


def _qbo_line(line: LineValue, refs: RefIndex) -> dict[str, Any]:
    product = line.get("product")
    item_id = refs.item_for_product(product) if product else refs.custom_line_item_id
    if item_id is None:
        raise UnresolvedReferenceError(
            f"no QuickBooks item for product {product!r}; create {CUSTOM_LINE_ITEM_NAME!r} first"
        )
    quantity = Decimal(line.get("quantity") or "1")
    unit_price = Decimal(line.get("unit_price") or "0")
    detail: dict[str, Any] = {
        "ItemRef": {"value": item_id},
        "Qty": quantity,
        "UnitPrice": unit_price,
    }
    if line.get("service_date"):
        detail["ServiceDate"] = line["service_date"]
    discount = parse_discount(line.get("discount"))
    if discount is not None:
        key = "DiscountRate" if discount.kind is DiscountKind.PERCENT else "DiscountAmt"
        detail[key] = discount.value
    result: dict[str, Any] = {
        "DetailType": "SalesItemLineDetail",
        "Amount": quantity * unit_price,
        "SalesItemLineDetail": detail,
    }
    if line.get("description"):
        result["Description"] = line["description"]
    return result


def _qbo_discount_line(discount: Discount) -> dict[str, Any]:
    if discount.kind is DiscountKind.PERCENT:
        detail: dict[str, Any] = {"PercentBased": True, "DiscountPercent": discount.value}
        return {"DetailType": "DiscountLineDetail", "DiscountLineDetail": detail}
    return {
        "DetailType": "DiscountLineDetail",
        "Amount": discount.value,
        "DiscountLineDetail": {"PercentBased": False},
    }


def custom_line_item_body(rule: SyncRule) -> dict[str, Any]:
    """QBO Item to create on first need for lines that match no item (R-PRD-3)."""
    account = rule.invoice.custom_line_item_income_account if rule.invoice else None
    if not account:
        raise ValueError("the invoice rule has no income account for the custom line item")
    return {
        "Name": CUSTOM_LINE_ITEM_NAME,
        "Type": "Service",
        "IncomeAccountRef": {"value": account},
    }
