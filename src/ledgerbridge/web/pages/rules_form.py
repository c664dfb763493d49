"""The rules wizard's form ↔ `SyncRule`: the same steps as `ledgerbridge rules setup`
(object pair, direction, "use HubSpot data / use QuickBooks data", mapped fields with a
toggle each, custom mappings with their own direction, filters per direction with the
fixed ones locked, invoice options), read back from a posted form onto the rule being
created or edited. `FormValues` is what the fields show: the rule's set-up, or a refused
form as it was posted. `DASHBOARD_HINTS` words the rules service's "what to do" in the
wizard's terms."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence

from starlette.datastructures import FormData

from ledgerbridge.domain import System
from ledgerbridge.operations.rules.service import RulesError, redirect
from ledgerbridge.operations.rules.wizard import invoice_rule
from ledgerbridge.sync.defaults import fixed_filters, wizard_defaults
from ledgerbridge.sync.hints import SIDE_NAMES, Hints
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

__all__ = [
    "DASHBOARD_HINTS",
    "DIRECTIONS",
    "ONE_WAY",
    "POLICIES",
    "FormValues",
    "default_rule",
    "filter_key",
    "locked",
    "mapping_flow",
    "rule_from_form",
]

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
ONE_WAY = {
    Direction.HUBSPOT_TO_QBO: "HubSpot → QuickBooks only",
    Direction.QBO_TO_HUBSPOT: "QuickBooks → HubSpot only",
}
"""A mapping's own one-way flow: it is never written on its source side (the side that
`FieldMapping.read_only_on` names)."""
RULE_NAMES = {
    ObjectPair.CONTACTS_CUSTOMERS: "Contacts",
    ObjectPair.PRODUCTS_ITEMS: "Products",
    ObjectPair.INVOICES_INVOICES: "Invoices",
}


class DashboardHints(Hints):
    """What to do, said with the wizard's and the Rules page's own choices."""

    def one_way(self, source: System) -> str:
        return f"choose '{ONE_WAY[Direction.flow_from(source)]}' for this mapping"

    def field_list(self, pair: ObjectPair, system: System) -> str:
        return f"choose one of the {SIDE_NAMES[system]} fields the wizard lists"

    def invoices_need(self, needed: ObjectPair) -> str:
        return (
            f"The Invoices rule is on and needs the {RULE_NAMES[needed]} rule on. "
            "Turn off the Invoices rule first."
        )


DASHBOARD_HINTS = DashboardHints()


class FormValues:
    """What the wizard's fields show, as the names and values a browser posts: the rule's
    set-up (`of_rule`), or a refused form exactly as it was sent (`posted`), so that
    correcting one field and saving again does what the user meant."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)

    @classmethod
    def posted(cls, form: FormData) -> FormValues:
        return cls((k, v) for k, v in form.multi_items() if isinstance(v, str))

    @classmethod
    def of_rule(cls, rule: SyncRule) -> FormValues:
        pairs = [
            ("direction", rule.direction.value),
            ("conflict_policy", rule.conflict_policy.value),
            ("display_name_policy", rule.display_name_policy.value),
            *(("map_on", m.name) for m in rule.mappings if m.enabled),
        ]
        ticked = {"enabled": rule.enabled, "propagate_archive": rule.propagate_archive}
        if (inv := rule.invoice) is not None:
            pairs += [
                ("income_account", inv.custom_line_item_income_account or ""),
                ("service_date", inv.service_date.value),
            ]
            ticked |= {
                "propagate_refunds": inv.propagate_refunds,
                "propagate_payment_deletes": inv.propagate_payment_deletes,
            }
        return cls([*pairs, *((name, "on") for name, on in ticked.items() if on)])

    def value(self, name: str) -> str:
        """The field's (first) value, "" when it has none."""
        found = self._values.get(name)
        return found[0] if found else ""

    def ticked(self, name: str, value: str = "on") -> bool:
        """Whether the checkbox `name` with `value` is ticked."""
        return value in self._values.get(name, ())


def mapping_flow(m: FieldMapping) -> str:
    """A mapping's own one-way flow as the wizard names it ("" when it follows the rule)."""
    return "" if m.read_only_on is None else ONE_WAY[Direction.flow_from(m.read_only_on)]


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
    flow = str(form.get("new_map_direction") or "")
    if flow and flow not in {d.value for d in ONE_WAY}:
        raise RulesError(["Choose which way the custom mapping flows."])
    source = Direction(flow).sources if flow else frozenset()
    mapping = FieldMapping(
        name=name,
        hubspot=hubspot,
        qbo=qbo,
        type=FieldType(kind),
        read_only_on=next(iter(source), None),  # a one-way mapping never writes its source
    )
    return (*kept, mapping)


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
