"""The rules wizard's form ↔ `SyncRule`: the same steps as `ledgerbridge rules setup`
(object pair, direction, "use HubSpot data / use QuickBooks data", mapped fields with a
toggle each, custom mappings, filters per direction with the fixed ones locked, invoice
options), read back from a posted form onto the rule being created or edited."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence

from starlette.datastructures import FormData

from ledgerbridge.operations.rules.service import RulesError, redirect
from ledgerbridge.operations.rules.wizard import invoice_rule
from ledgerbridge.sync.defaults import fixed_filters, wizard_defaults
from ledgerbridge.sync.rules import (
    ConflictPolicy,
    Direction,
    DisplayNamePolicy,
    FieldMapping,
    FieldType,
    Filter,
    FilterOperator,
    FilterScope,
    InvoiceSettings,
    ObjectPair,
    ServiceDateSource,
    SyncRule,
)

__all__ = ["DIRECTIONS", "POLICIES", "default_rule", "filter_key", "locked", "rule_from_form"]

DIRECTIONS = {
    Direction.HUBSPOT_TO_QBO: "HubSpot → QuickBooks",
    Direction.QBO_TO_HUBSPOT: "QuickBooks → HubSpot",
    Direction.TWO_WAY: "HubSpot ↔ QuickBooks (two-way)",
}
POLICIES = {
    ConflictPolicy.HUBSPOT_WINS: "Use HubSpot data",
    ConflictPolicy.QBO_WINS: "Use QuickBooks data",
}
CUSTOM_TYPES = (
    FieldType.TEXT,
    FieldType.NUMBER,
    FieldType.MONEY,
    FieldType.DATE,
    FieldType.ENUMERATION,
)


def default_rule(pair: ObjectPair, income_accounts: Sequence[str] = ()) -> SyncRule:
    """What a new rule starts from (the set-up wizard's proposal)."""
    if pair is ObjectPair.INVOICES_INVOICES:
        account = income_accounts[0] if income_accounts else None
        return invoice_rule(Direction.TWO_WAY, dt.date.today(), account)
    return wizard_defaults(pair)


def filter_key(f: Filter) -> str:
    """A filter's form key (stable across a direction change, unlike its position)."""
    return hashlib.sha256(repr(f.identity()).encode()).hexdigest()[:12]


def locked(rule: SyncRule) -> set[tuple[object, ...]]:
    """The identities of the filters the user cannot remove (R-INV-2)."""
    return {f.identity() for f in fixed_filters(rule)}


def _choice(form: FormData, name: str, choices: Mapping[str, object], what: str) -> str:
    value = str(form.get(name) or "")
    if value not in choices:
        raise RulesError([f"Choose {what}."])
    return value


def _mappings(rule: SyncRule, form: FormData) -> tuple[FieldMapping, ...]:
    on = set(map(str, form.getlist("map_on")))
    removed = set(map(str, form.getlist("map_remove")))
    kept = tuple(
        m.model_copy(update={"enabled": m.name in on})
        for m in rule.mappings
        if m.builtin or m.name not in removed
    )
    name = str(form.get("new_map_name") or "").strip()
    hubspot = str(form.get("new_map_hubspot") or "").strip()
    qbo = str(form.get("new_map_qbo") or "").strip()
    if not (name or hubspot or qbo):
        return kept
    if not (name and hubspot and qbo):
        raise RulesError(["A custom mapping needs a name, a HubSpot field and a QuickBooks field."])
    if any(m.name == name for m in kept):
        raise RulesError([f"There is already a mapping named {name!r}: choose another name."])
    kind = str(form.get("new_map_type") or FieldType.TEXT.value)
    if kind not in {t.value for t in CUSTOM_TYPES}:
        raise RulesError([f"A custom mapping's type is one of {', '.join(CUSTOM_TYPES)}."])
    return (*kept, FieldMapping(name=name, hubspot=hubspot, qbo=qbo, type=FieldType(kind)))


def _filters(rule: SyncRule, form: FormData) -> tuple[Filter, ...]:
    removed = set(map(str, form.getlist("filter_remove")))
    fixed = locked(rule)
    kept = tuple(f for f in rule.filters if filter_key(f) not in removed or f.identity() in fixed)
    prop = str(form.get("new_filter_property") or "").strip()
    if not prop:
        return kept
    flow = _choice(form, "new_filter_flow", {d.value: d for d in Direction}, "the filter's flow")
    operator = _choice(
        form, "new_filter_operator", {o.value: o for o in FilterOperator}, "a filter operator"
    )
    scope = str(form.get("new_filter_scope") or FilterScope.PRIMARY.value)
    association = str(form.get("new_filter_association") or "").strip() or None
    raw = str(form.get("new_filter_value") or "").strip()
    op = FilterOperator(operator)
    value: str | tuple[str, ...] | None = None
    if op.needs_value:
        if not raw:
            raise RulesError([f"The filter on {prop!r} needs a value."])
        value = (
            tuple(v.strip() for v in raw.split(",") if v.strip())
            if op is FilterOperator.IN
            else raw
        )
    try:
        new = Filter(
            flow=Direction(flow),
            scope=FilterScope(scope),
            association=association if scope == FilterScope.ASSOCIATED.value else None,
            property=prop,
            operator=op,
            value=value,
        )
    except ValueError as exc:
        raise RulesError([f"That filter cannot be used: {exc}"]) from exc
    if any(f.identity() == new.identity() for f in kept):
        raise RulesError([f"The filter {new.describe()!r} is already there."])
    return (*kept, new)


def _invoice(rule: SyncRule, form: FormData) -> InvoiceSettings | None:
    if rule.object_pair is not ObjectPair.INVOICES_INVOICES:
        return rule.invoice
    settings = rule.invoice or InvoiceSettings()
    service_date = str(form.get("service_date") or settings.service_date.value)
    if service_date not in {s.value for s in ServiceDateSource}:
        raise RulesError(["Choose where a line's service date comes from."])
    account = str(form.get("income_account") or "").strip() or None
    return settings.model_copy(
        update={
            "custom_line_item_income_account": account,
            "service_date": ServiceDateSource(service_date),
            "propagate_refunds": form.get("propagate_refunds") == "on",
            "propagate_payment_deletes": form.get("propagate_payment_deletes") == "on",
        }
    )


def rule_from_form(rule: SyncRule, form: FormData) -> SyncRule:
    """`rule` as the posted wizard says (direction first: it drops the filters of a flow
    that no longer exists and adds the fixed ones the new direction needs)."""
    direction = Direction(
        _choice(form, "direction", {d.value: d for d in Direction}, "a direction")
    )
    policy = _choice(
        form, "conflict_policy", {p.value: p for p in ConflictPolicy}, "whose data wins"
    )
    rule = redirect(rule, direction)
    updates: dict[str, object] = {
        "conflict_policy": ConflictPolicy(policy),
        "enabled": form.get("enabled") == "on",
        "propagate_archive": form.get("propagate_archive") == "on",
        "mappings": _mappings(rule, form),
        "filters": _filters(rule, form),
        "invoice": _invoice(rule, form),
    }
    if rule.object_pair is ObjectPair.CONTACTS_CUSTOMERS:
        names = {p.value for p in DisplayNamePolicy}
        chosen = str(form.get("display_name_policy") or rule.display_name_policy.value)
        if chosen in names:
            updates["display_name_policy"] = DisplayNamePolicy(chosen)
    return rule.model_copy(update=updates).with_fixed_filters()
