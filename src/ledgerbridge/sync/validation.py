"""Validation of a rule on save: clear, user-facing messages (R-CON-3, R-CON-6, R-CON-7).

Called through `SyncRule.validate_for_save(existing_rules)`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from ledgerbridge.domain import System
from ledgerbridge.sync import canonical as canon
from ledgerbridge.sync.defaults import DEFAULT_MAPPINGS, MATCH_FIELD, fixed_filters
from ledgerbridge.sync.mapping import CUSTOM_FIELD_PREFIX
from ledgerbridge.sync.rules import (
    CUSTOM_FIELD_TYPES,
    SYNC_STARTED,
    FieldMapping,
    FieldType,
    Filter,
    FilterOperator,
    FilterScope,
    ObjectPair,
    SyncRule,
)

T = FieldType
Op = FilterOperator

# Known field types beyond the default tables (the UI may also pass `hubspot_type` /
# `qbo_type` on a mapping, from HubSpot's properties API).
KNOWN_TYPES: dict[System, dict[ObjectPair, dict[str, FieldType]]] = {
    System.HUBSPOT: {
        ObjectPair.CONTACTS_CUSTOMERS: {
            "createdate": T.DATE,
            "lifecyclestage": T.ENUMERATION,
            "jobtitle": T.TEXT,
            "website": T.TEXT,
            "mobilephone": T.TEXT,
        },
        ObjectPair.PRODUCTS_ITEMS: {"hs_cost_of_goods_sold": T.MONEY, "hs_url": T.TEXT},
        ObjectPair.INVOICES_INVOICES: {
            "hs_amount_billed": T.MONEY,
            "hs_balance_due": T.MONEY,
            "hs_purchase_order_number": T.TEXT,
            "hs_tax_id": T.TEXT,
        },
    },
    System.QUICKBOOKS: {
        ObjectPair.CONTACTS_CUSTOMERS: {
            "Notes": T.TEXT,
            "Balance": T.MONEY,
            "WebAddr.URI": T.TEXT,
            "Mobile.FreeFormNumber": T.TEXT,
            "MetaData.CreateTime": T.DATE,
        },
        ObjectPair.PRODUCTS_ITEMS: {
            "PurchaseCost": T.MONEY,
            "QtyOnHand": T.NUMBER,
            "Type": T.ENUMERATION,
            "PurchaseDesc": T.TEXT,
        },
        ObjectPair.INVOICES_INVOICES: {
            "TrackingNum": T.TEXT,
            "ShipMethodRef.value": T.TEXT,
            "ShipDate": T.DATE,
            "TotalAmt": T.MONEY,
            "Balance": T.MONEY,
            "PrivateNote": T.TEXT,
            "SalesTermRef.value": T.TEXT,
            "BillEmail.Address": T.TEXT,
        },
    },
}

COMPATIBLE: dict[FieldType, frozenset[FieldType]] = {
    T.TEXT: frozenset({T.TEXT, T.ENUMERATION}),
    T.ENUMERATION: frozenset({T.ENUMERATION, T.TEXT}),
    T.NUMBER: frozenset({T.NUMBER, T.MONEY}),
    T.MONEY: frozenset({T.MONEY, T.NUMBER}),
    T.DATE: frozenset({T.DATE}),
}
"""Side field type → transforms that can read and write it."""

_QBO_PATH = re.compile(r"^[A-Z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$")
QBO_CUSTOM_FIELD_LIMIT = 3
_PAIR_NAMES = {
    ObjectPair.CONTACTS_CUSTOMERS: "contact sync",
    ObjectPair.PRODUCTS_ITEMS: "product sync",
    ObjectPair.INVOICES_INVOICES: "invoice sync",
}


def side_type(rule: SyncRule, mapping: FieldMapping, system: System) -> FieldType | None:
    declared = mapping.hubspot_type if system is System.HUBSPOT else mapping.qbo_type
    if declared is not None:
        return declared
    path = mapping.path(system)
    if system is System.QUICKBOOKS and path.startswith(CUSTOM_FIELD_PREFIX):
        return T.TEXT  # only String custom fields are reachable through the API (C8)
    for default in DEFAULT_MAPPINGS[rule.object_pair]:
        if default.path(system) == path:
            return default.type
    return KNOWN_TYPES[system][rule.object_pair].get(path)


def _mapping_errors(rule: SyncRule) -> list[str]:
    errors: list[str] = []
    defaults = {m.name: m for m in DEFAULT_MAPPINGS[rule.object_pair]}
    for name, count in Counter(m.name for m in rule.mappings).items():
        if count > 1:
            errors.append(f"Two mappings are named {name!r}; mapping names must be unique.")
    for m in rule.mappings:
        label = m.label or m.name
        if m.builtin:
            default = defaults.get(m.name)
            if default is None:
                errors.append(
                    f"{label!r} is not a default field of {_PAIR_NAMES[rule.object_pair]}."
                )
            elif (default.hubspot, default.qbo, default.type) != (m.hubspot, m.qbo, m.type):
                errors.append(
                    f"The default mapping {label!r} can only be turned on or off; add a custom "
                    "mapping to map other fields."
                )
            continue
        errors.extend(_custom_errors(rule, m, label))
    for pair, name in MATCH_FIELD.items():
        mapping = rule.mapping(name)
        if rule.object_pair is pair and (mapping is None or not mapping.enabled):
            errors.append(
                f"The {name!r} mapping cannot be turned off: records are matched on it, "
                "and without it the sync would create duplicates."
            )
    for system in System:
        paths = Counter(m.path(system) for m in rule.active_mappings() if m.writable_on(system))
        errors.extend(
            f"Two mappings write the same {system.value} field {path!r}."
            for path, n in paths.items()
            if n > 1
        )
    custom_fields = {m.qbo for m in rule.active_mappings() if m.qbo.startswith(CUSTOM_FIELD_PREFIX)}
    if len(custom_fields) > QBO_CUSTOM_FIELD_LIMIT:
        errors.append(
            f"QuickBooks exposes at most {QBO_CUSTOM_FIELD_LIMIT} custom fields to the API; "
            f"this rule maps {len(custom_fields)}."
        )
    return errors


def _custom_errors(rule: SyncRule, m: FieldMapping, label: str) -> list[str]:
    errors: list[str] = []
    if m.type not in CUSTOM_FIELD_TYPES:
        errors.append(
            f"Custom mapping {label!r}: type {m.type.value!r} is for default fields only."
        )
        return errors
    if not m.hubspot.strip() or m.hubspot.startswith("@"):
        errors.append(f"Custom mapping {label!r}: choose a HubSpot property.")
    qbo = m.qbo.strip()
    if qbo.startswith(CUSTOM_FIELD_PREFIX):
        if not qbo[len(CUSTOM_FIELD_PREFIX) :].strip():
            errors.append(f"Custom mapping {label!r}: name the QuickBooks custom field.")
        if rule.object_pair is not ObjectPair.INVOICES_INVOICES:
            errors.append(
                f"Custom mapping {label!r}: QuickBooks custom fields exist on transactions "
                "(invoices), not on customers or items."
            )
    elif not _QBO_PATH.match(qbo):
        errors.append(
            f"Custom mapping {label!r}: {m.qbo!r} is not a QuickBooks field path "
            "(for example 'ShipMethodRef.value' or 'CustomField:PO number')."
        )
    for system in System:
        known = side_type(rule, m, system)
        if known is not None and m.type not in COMPATIBLE.get(known, frozenset()):
            errors.append(
                f"Custom mapping {label!r}: the {system.value} field {m.path(system)!r} is "
                f"{known.value}, which cannot be mapped as {m.type.value}."
            )
    if m.value_map and m.type is not T.ENUMERATION:
        errors.append(f"Custom mapping {label!r}: a value map needs the enumeration type.")
    if any(not k.strip() or not v.strip() for k, v in m.value_map.items()):
        errors.append(f"Custom mapping {label!r}: value map entries cannot be empty.")
    return errors


def _filter_errors(rule: SyncRule) -> list[str]:
    errors: list[str] = []
    required = fixed_filters(rule)
    have = {f.identity() for f in rule.filters}
    required_ids = {f.identity() for f in required}
    errors.extend(
        f"The filter {f.describe()!r} is fixed and cannot be removed."
        for f in required
        if f.identity() not in have
    )
    for f in rule.filters:
        errors.extend(_one_filter_errors(rule, f, required_ids))
    return errors


def _one_filter_errors(rule: SyncRule, f: Filter, fixed_ids: set[tuple[object, ...]]) -> list[str]:
    name = f.describe()
    errors: list[str] = []
    if f.fixed and f.identity() not in fixed_ids:
        errors.append(f"Filter {name!r}: only the built-in filters can be fixed.")
    if not rule.allows(f.source):
        errors.append(f"Filter {name!r}: this rule does not sync from {f.source.value}.")
    if f.scope is FilterScope.ASSOCIATED and not f.association:
        errors.append(f"Filter {name!r}: choose the associated record type.")
    if f.operator.needs_value and (f.value is None or f.value == "" or f.value == ()):
        errors.append(f"Filter {name!r}: enter a value.")
        return errors
    if f.operator is Op.IN and not isinstance(f.value, tuple):
        errors.append(f"Filter {name!r}: 'in' needs a list of values.")
    if f.operator is not Op.IN and isinstance(f.value, tuple):
        errors.append(f"Filter {name!r}: only 'in' takes a list of values.")
    is_date = isinstance(f.value, str) and canon.parse_datetime(f.value) is not None
    if f.operator in (Op.AFTER, Op.BEFORE) and f.value != SYNC_STARTED and not is_date:
        errors.append(f"Filter {name!r}: {f.value!r} is not a date.")
    if f.operator in (Op.GREATER_THAN, Op.LESS_THAN):
        try:
            Decimal(str(f.value))
        except InvalidOperation:
            errors.append(f"Filter {name!r}: {f.value!r} is not a number.")
    return errors


def _rule_set_errors(
    rule: SyncRule, existing: Sequence[SyncRule], qbo_requires_tax: bool
) -> list[str]:
    errors: list[str] = []
    others = [r for r in existing if not (rule.id is not None and r.id == rule.id)]
    if any(r.object_pair is rule.object_pair for r in others):
        errors.append(f"There is already a {_PAIR_NAMES[rule.object_pair]} rule; edit that one.")
    if rule.object_pair is ObjectPair.INVOICES_INVOICES:
        for needed in (ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS):
            if rule.enabled and not any(r.object_pair is needed and r.enabled for r in others):
                errors.append(
                    f"Set up {_PAIR_NAMES[needed]} before invoice sync: invoices need their "
                    "contacts and products in both systems."
                )
        outbound = rule.allows(System.HUBSPOT)
        account = rule.invoice.custom_line_item_income_account if rule.invoice else None
        if outbound and not account:
            errors.append(
                "Choose the income account for 'Custom line item', the QuickBooks item used "
                "for invoice lines that match no product."
            )
        if outbound and qbo_requires_tax:
            errors.append(
                "This QuickBooks company requires tax on invoices, and HubSpot invoices carry "
                "none: sync invoices from QuickBooks to HubSpot only."
            )
        if rule.propagate_archive:
            errors.append("Archiving is not propagated for invoices (they are voided instead).")
    elif rule.invoice is not None:
        errors.append("Invoice settings only apply to the invoice rule.")
    return errors


def validate_rule(
    rule: SyncRule, existing_rules: Sequence[SyncRule], *, qbo_requires_tax: bool = False
) -> list[str]:
    return [
        *_rule_set_errors(rule, existing_rules, qbo_requires_tax),
        *_mapping_errors(rule),
        *_filter_errors(rule),
    ]
