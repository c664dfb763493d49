"""The fields a mapping or a filter can name on each side, and the checks that need them.

A `SideFields` is what one side says about one object type: every field with its type
and whether it can be written. The live lists are read by
`ledgerbridge.operations.rules.fields` (HubSpot's properties API, QBO's entity fields and
its sales-form custom fields); `static_fields` is what is known without asking (the
default tables and `sync.validation.KNOWN_TYPES`).

`catalogue_errors(rule, hubspot, qbo)` adds to `SyncRule.validate_for_save` the checks
that need those lists: a custom mapping naming a field the side does not have, a
custom mapping writing a read-only field, and a filter whose operator does not fit its
property's type. Every message says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ledgerbridge.domain import System
from ledgerbridge.sync.defaults import DEFAULT_MAPPINGS
from ledgerbridge.sync.hints import CLI_HINTS, SIDE_NAMES, Hints
from ledgerbridge.sync.mapping import CUSTOM_FIELD_PREFIX
from ledgerbridge.sync.rules import (
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

OBJECT_NAMES: dict[System, dict[ObjectPair, str]] = {
    System.HUBSPOT: {
        ObjectPair.CONTACTS_CUSTOMERS: "contact",
        ObjectPair.PRODUCTS_ITEMS: "product",
        ObjectPair.INVOICES_INVOICES: "invoice",
    },
    System.QUICKBOOKS: {
        ObjectPair.CONTACTS_CUSTOMERS: "customer",
        ObjectPair.PRODUCTS_ITEMS: "item",
        ObjectPair.INVOICES_INVOICES: "invoice",
    },
}

OPERATORS: dict[FieldType, frozenset[FilterOperator]] = {
    T.TEXT: frozenset(
        {Op.EQUALS, Op.NOT_EQUALS, Op.CONTAINS, Op.NOT_CONTAINS, Op.IS_KNOWN, Op.IS_UNKNOWN, Op.IN}
    ),
    T.ENUMERATION: frozenset({Op.EQUALS, Op.NOT_EQUALS, Op.IS_KNOWN, Op.IS_UNKNOWN, Op.IN}),
    T.NUMBER: frozenset(
        {Op.EQUALS, Op.NOT_EQUALS, Op.GREATER_THAN, Op.LESS_THAN, Op.IS_KNOWN, Op.IS_UNKNOWN}
    ),
    T.MONEY: frozenset(
        {Op.EQUALS, Op.NOT_EQUALS, Op.GREATER_THAN, Op.LESS_THAN, Op.IS_KNOWN, Op.IS_UNKNOWN}
    ),
    T.DATE: frozenset({Op.AFTER, Op.BEFORE, Op.IS_KNOWN, Op.IS_UNKNOWN}),
}
"""The filter operators that fit a property of each type."""

QBO_READ_ONLY = frozenset(
    {"Balance", "TotalAmt", "MetaData.CreateTime", "MetaData.LastUpdatedTime"}
)
"""QBO fields the API computes (a mapping can read them, never write them)."""


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One field of one side: `name` is what a mapping or filter names (a HubSpot
    property name, a QBO path or `CustomField:<name>`)."""

    name: str
    label: str
    type: FieldType | None
    read_only: bool = False
    custom: bool = False


@dataclass(frozen=True, slots=True)
class SideFields:
    system: System
    pair: ObjectPair
    fields: Mapping[str, FieldInfo] = field(default_factory=dict)

    def get(self, name: str) -> FieldInfo | None:
        return self.fields.get(name)

    @property
    def object_name(self) -> str:
        return f"{SIDE_NAMES[self.system]} {OBJECT_NAMES[self.system][self.pair]}"


def static_fields(system: System, pair: ObjectPair) -> SideFields:
    """The fields known without asking the side: the default table's and the known ones."""
    from ledgerbridge.sync.validation import KNOWN_TYPES

    found: dict[str, FieldInfo] = {}
    for m in DEFAULT_MAPPINGS[pair]:
        path = m.path(system)
        if not path.startswith("@"):
            label = m.label or m.name
            found[path] = FieldInfo(path, label, m.type, read_only=not m.writable_on(system))
    for path, type_ in KNOWN_TYPES[system][pair].items():
        read_only = system is System.QUICKBOOKS and path in QBO_READ_ONLY
        found.setdefault(path, FieldInfo(path, path, type_, read_only=read_only))
    return SideFields(system, pair, found)


def _mapping_errors(
    rule: SyncRule, m: FieldMapping, sides: dict[System, SideFields], hints: Hints
) -> list[str]:
    label = m.label or m.name
    errors: list[str] = []
    for system, known in sides.items():
        path = m.path(system)
        info = known.get(path)
        if info is None:
            if path.strip() and not path.startswith("@"):
                what = "custom field" if path.startswith(CUSTOM_FIELD_PREFIX) else "field"
                errors.append(
                    f"Custom mapping {label!r}: the {known.object_name} has no {what} "
                    f"{path!r}; {hints.field_list(rule.object_pair, system)}."
                )
            continue
        writes_here = rule.allows(system.other) and m.writable_on(system)
        if info.read_only and writes_here:
            errors.append(
                f"Custom mapping {label!r}: the {known.object_name} field {path!r} is "
                f"read-only; {hints.one_way(system)}."
            )
    return errors


def _filter_errors(
    rule: SyncRule, f: Filter, sides: dict[System, SideFields], hints: Hints
) -> list[str]:
    if f.fixed or f.scope is FilterScope.ASSOCIATED or f.property.startswith("@"):
        return []
    known = sides.get(f.source)
    if known is None:
        return []
    info = known.get(f.property)
    name = f.describe()
    if info is None:
        return [
            f"Filter {name!r}: the {known.object_name} has no field {f.property!r}; "
            f"{hints.field_list(rule.object_pair, f.source)}."
        ]
    if info.type is None or f.operator in OPERATORS.get(info.type, frozenset()):
        return []
    fitting = ", ".join(sorted(op.value for op in OPERATORS[info.type]))
    return [
        f"Filter {name!r}: {f.operator.value!r} does not fit {f.property!r}, a "
        f"{info.type.value} field; use one of: {fitting}."
    ]


def with_side_types(m: FieldMapping, sides: Mapping[System, SideFields]) -> FieldMapping:
    """`m` with the side field types it leaves open filled in from the live lists (so that
    `validate_for_save` refuses incompatible types)."""
    update: dict[str, FieldType] = {}
    for system, known in sides.items():
        info = known.get(m.path(system))
        key = "hubspot_type" if system is System.HUBSPOT else "qbo_type"
        if info is not None and info.type is not None and getattr(m, key) is None:
            update[key] = info.type
    return m.model_copy(update=update) if update else m


def catalogue_errors(
    rule: SyncRule,
    hubspot: SideFields | None,
    qbo: SideFields | None,
    *,
    hints: Hints = CLI_HINTS,
) -> list[str]:
    """The checks of this module for `rule` (a side given as None is not checked); what
    to do is said in `hints`' terms."""
    sides = {s.system: s for s in (hubspot, qbo) if s is not None}
    errors: list[str] = []
    for m in rule.mappings:
        if not m.builtin:
            errors.extend(_mapping_errors(rule, m, sides, hints))
    for f in rule.filters:
        errors.extend(_filter_errors(rule, f, sides, hints))
    return errors
