"""The rules service: the one way sync rules are created, changed, turned off and on.

Three faces use it — the CLI (`ledgerbridge rules …`), the rules file (`rules export` /
`rules apply`, `operations.rules.document`) and REST (`web.api_rules`); the dashboard's
wizard builds on it too. Each change names where it came from (`ChangeSource`) and is
kept in the connection's rule history.

    service = RulesService(store, connection_id, accounts=LiveAccounts(hubspot, qbo))
    service.rules()                          # the stored rules, in sync order
    service.rule(ObjectPair.CONTACTS_CUSTOMERS)
    await service.fields(pair, System.HUBSPOT)          # what a mapping can name
    await service.save([rule, ...], ChangeSource.FILE, dry_run=False)   # all or nothing
    await service.update(pair, ChangeSource.CLI, direction=Direction.QBO_TO_HUBSPOT)
    await service.enable(pair, source) / disable(pair, source)
    await service.add_mapping(pair, mapping, source) / remove_mapping / set_mapping_enabled
    await service.add_filter(pair, filter, source) / remove_filter(pair, side, prop, source)
    service.history()                        # every change: when, what, from where

Every write validates the rule set as it would be after the change and saves nothing
when anything is wrong: `RulesError.messages` lists every problem, each saying what to
do (in the terms of `hints`: the command line's by default, the dashboard passes its
own; `sync.hints`). The checks: `SyncRule.validate_for_save` (mappings, filters, R-CON-3 order, the
invoice settings), and with `accounts` (the live HubSpot portal and QBO company):
unknown fields on either side, incompatible or read-only custom mappings, a filter
operator that does not fit its property (`sync.catalogue`), outbound invoice sync for
a company outside the US (R-INV-8) and the income account of "Custom line item".

A change takes effect at the engine's next pass (it reads the rules on every pass); no
restart. What a change means for records already seen:

* a filter removed: the records it excluded are synced at the next pass (the pair's
  cursor of that side is reset, so the side is read again in full; linked records that
  did not change are not written again);
* a filter added: a record it excludes is left alone on the other side — nothing is
  deleted or changed there — and shows as excluded, naming the filter, when it next
  changes;
* a direction change never deletes anything: records stay linked; changes stop (or
  start) flowing the way the new direction says;
* turning a rule off keeps its links, cursors and history (R-CON-4); on again, it goes on
  from where it stopped (no duplicates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ledgerbridge.domain import System
from ledgerbridge.errors import UsageError
from ledgerbridge.operations.rules.document import describe_changes, rule_config
from ledgerbridge.operations.rules.fields import Accounts
from ledgerbridge.store import Store
from ledgerbridge.store.rule_changes import RuleChangeRow, list_changes, record_change, reset_cursor
from ledgerbridge.store.state import load_rules, save_rule
from ledgerbridge.sync.catalogue import SideFields, catalogue_errors, static_fields, with_side_types
from ledgerbridge.sync.defaults import fixed_filters
from ledgerbridge.sync.hints import CLI_HINTS, PAIR_NAMES, Hints
from ledgerbridge.sync.rules import (
    ConflictPolicy,
    Direction,
    DisplayNamePolicy,
    FieldMapping,
    Filter,
    InvoiceSettings,
    ObjectPair,
    ServiceDateSource,
    SyncRule,
)

ORDER = (ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS, ObjectPair.INVOICES_INVOICES)
SETUP_HINT = "run `ledgerbridge rules setup`"


class ChangeSource(StrEnum):
    CLI = "cli"
    FILE = "file"
    API = "api"
    DASHBOARD = "dashboard"
    DEMO = "demo"


class RulesError(UsageError):
    """A change the service refuses; `messages` lists every problem (nothing was saved).
    Each message says what is wrong and what to do; `fix` adds that nothing was saved."""

    fix = "nothing was saved; correct the change and run it again"

    def __init__(self, messages: Sequence[str], *, fix: str | None = None) -> None:
        self.messages = list(messages)
        what = (
            self.messages[0]
            if len(self.messages) == 1
            else "\n".join(["the change was refused:", *(f"  - {m}" for m in messages)])
        )
        super().__init__(what, fix=fix)


class RuleNotFoundError(RulesError):
    """The connection has no rule for the pair."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__([f"{what}: {fix}"], fix=fix)
        self.what = what


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One rule's change: `before` is None for a new rule; `lines` say what changed."""

    pair: ObjectPair
    before: SyncRule | None
    after: SyncRule
    lines: tuple[str, ...]

    @property
    def summary(self) -> str:
        return "; ".join(self.lines)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_option(rule: SyncRule, name: str, value: str) -> SyncRule:
    """`rule` with option `name` set (`--option NAME=VALUE`); `RulesError` when unknown."""
    flag = value.strip().lower()
    booleans = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}
    if name == "propagate_archive":
        if flag not in booleans:
            raise RulesError([f"Option {name}: use true or false, not {value!r}."])
        return rule.model_copy(update={"propagate_archive": booleans[flag]})
    invoice_options = {
        "custom_line_item_income_account",
        "service_date",
        "propagate_refunds",
        "propagate_payment_deletes",
    }
    if name not in invoice_options:
        known = ", ".join(sorted({"propagate_archive", *invoice_options}))
        raise RulesError([f"Unknown option {name!r}; the options are: {known}."])
    if rule.object_pair is not ObjectPair.INVOICES_INVOICES:
        raise RulesError([f"Option {name} only applies to invoice sync (invoices_invoices)."])
    settings = rule.invoice or InvoiceSettings()
    new: object = value.strip()
    if name == "service_date":
        choices = [s.value for s in ServiceDateSource]
        if value not in choices:
            raise RulesError([f"Option service_date: use one of {', '.join(choices)}."])
        new = ServiceDateSource(value)
    elif name.startswith("propagate_"):
        if flag not in booleans:
            raise RulesError([f"Option {name}: use true or false, not {value!r}."])
        new = booleans[flag]
    return rule.model_copy(update={"invoice": settings.model_copy(update={name: new})})


def redirect(rule: SyncRule, direction: Direction) -> SyncRule:
    """`rule` with a new direction: the filters of flows it no longer has are dropped and the
    fixed filters the new direction needs are added (R-INV-2)."""
    if direction is rule.direction:
        return rule
    moved = rule.model_copy(update={"direction": direction})
    keep = tuple(f for f in rule.filters if moved.allows(f.source) and not f.fixed)
    moved = moved.model_copy(update={"filters": keep})
    return moved.with_fixed_filters()


class RulesService:
    """The rules of one connection (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        connection_id: int,
        *,
        accounts: Accounts | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        hints: Hints = CLI_HINTS,
    ) -> None:
        self.store = store
        self.connection_id = connection_id
        self.accounts = accounts
        self.clock = clock
        self.hints = hints

    # ---- reading ------------------------------------------------------------------------

    def rules(self) -> list[SyncRule]:
        with self.store.begin() as tx:
            found = {r.object_pair: r for r in load_rules(tx, self.connection_id)}
        return [found[p] for p in ORDER if p in found]

    def rule(self, pair: ObjectPair) -> SyncRule:
        found = next((r for r in self.rules() if r.object_pair is pair), None)
        if found is None:
            raise RuleNotFoundError(
                f"there is no {PAIR_NAMES[pair]} rule on connection {self.connection_id}",
                SETUP_HINT,
            )
        return found

    def history(self, *, pair: ObjectPair | None = None, limit: int = 100) -> list[RuleChangeRow]:
        with self.store.begin() as tx:
            return list_changes(
                tx, self.connection_id, object_pair=pair.value if pair else None, limit=limit
            )

    async def fields(self, pair: ObjectPair, system: System) -> SideFields:
        """The fields of `pair` on `system`: live when the service has accounts."""
        if self.accounts is None:
            return static_fields(system, pair)
        return await self.accounts.fields(pair, system)

    # ---- checking -----------------------------------------------------------------------

    async def problems(self, rule: SyncRule, others: Sequence[SyncRule]) -> list[str]:
        """Everything that stops `rule` being saved beside `others`."""
        sides: dict[System, SideFields] = {}
        requires_tax = False
        if self.accounts is not None:
            for system in System:
                sides[system] = await self.accounts.fields(rule.object_pair, system)
            if rule.object_pair is ObjectPair.INVOICES_INVOICES and rule.allows(System.HUBSPOT):
                requires_tax = await self.accounts.requires_tax()
        typed = rule.model_copy(
            update={"mappings": tuple(with_side_types(m, sides) for m in rule.mappings)}
        )
        errors = typed.validate_for_save(others, qbo_requires_tax=requires_tax)
        errors += catalogue_errors(
            rule, sides.get(System.HUBSPOT), sides.get(System.QUICKBOOKS), hints=self.hints
        )
        errors += await self._account_errors(rule)
        return list(dict.fromkeys(errors))

    async def _account_errors(self, rule: SyncRule) -> list[str]:
        account = rule.invoice.custom_line_item_income_account if rule.invoice else None
        if self.accounts is None or not account or not rule.allows(System.HUBSPOT):
            return []
        choices = await self.accounts.income_accounts()
        if account in choices:
            return []
        return [
            f"QuickBooks has no income account {account!r}; choose one of: "
            f"{', '.join(choices) or '(none found)'}."
        ]

    def _dependency_errors(self, after: Mapping[ObjectPair, SyncRule]) -> list[str]:
        """R-CON-3 for a set where the invoice rule itself did not change."""
        invoices = after.get(ObjectPair.INVOICES_INVOICES)
        if invoices is None or not invoices.enabled:
            return []
        return [
            self.hints.invoices_need(p)
            for p in (ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS)
            if (r := after.get(p)) is None or not r.enabled
        ]

    # ---- writing ------------------------------------------------------------------------

    def _prepared(self, rule: SyncRule, before: SyncRule | None) -> SyncRule:
        """`rule` with its stored id and sync start kept (a new one starts now)."""
        started = before.sync_started_at if before is not None else None
        outbound_invoices = rule.object_pair is ObjectPair.INVOICES_INVOICES and rule.allows(
            System.HUBSPOT
        )
        if outbound_invoices and before is not None and not before.allows(System.HUBSPOT):
            started = None  # invoices start flowing out now (R-INV-2 "after the sync started")
        return rule.model_copy(
            update={
                "id": before.id if before is not None else None,
                "sync_started_at": started or self.clock(),
            }
        )

    async def save(
        self, rules: Sequence[SyncRule], source: ChangeSource, *, dry_run: bool = False
    ) -> list[RuleChange]:
        """Save `rules` (new or changed; the others stay as they are), all or nothing.
        Returns the changes (those that would be made, when `dry_run`)."""
        stored = {r.object_pair: r for r in self.rules()}
        wanted = {r.object_pair: self._prepared(r, stored.get(r.object_pair)) for r in rules}
        after = {**stored, **wanted}
        changes = [
            RuleChange(pair, stored.get(pair), wanted[pair], tuple(lines))
            for pair in ORDER
            if pair in wanted and (lines := describe_changes(stored.get(pair), wanted[pair]))
        ]
        errors: list[str] = []
        changed = {c.pair for c in changes}
        for change in changes:
            others = [r for p, r in after.items() if p is not change.pair]
            found = await self.problems(change.after, others)
            label = PAIR_NAMES[change.pair].capitalize()
            errors += [f"{label}: {e}" if len(changes) > 1 else e for e in found]
        if changes and ObjectPair.INVOICES_INVOICES not in changed:
            errors += self._dependency_errors(after)
        if errors:
            raise RulesError(errors)
        if not dry_run and changes:
            self._write(changes, source)
        return changes

    def _write(self, changes: Sequence[RuleChange], source: ChangeSource) -> None:
        now = self.clock()
        with self.store.begin() as tx:
            for change in changes:
                save_rule(tx, self.connection_id, change.after)
                if change.before is not None:
                    for side in self._reread_sides(change.before, change.after):
                        reset_cursor(tx, self.connection_id, side, change.pair.value)
                record_change(
                    tx,
                    self.connection_id,
                    at=now,
                    object_pair=change.pair.value,
                    source=source.value,
                    summary=change.summary,
                    before=rule_config(change.before) if change.before else None,
                    after=rule_config(change.after),
                )

    @staticmethod
    def _reread_sides(before: SyncRule, after: SyncRule) -> set[System]:
        """The sides a removed filter held records back on (read them again in full)."""
        kept = {f.identity() for f in after.filters}
        return {
            f.source for f in before.filters if f.identity() not in kept and after.allows(f.source)
        }

    async def _change(self, pair: ObjectPair, source: ChangeSource, rule: SyncRule) -> RuleChange:
        changes = await self.save([rule], source)
        if changes:
            return changes[0]
        current = self.rule(pair)
        return RuleChange(pair, current, current, ())

    async def update(
        self,
        pair: ObjectPair,
        source: ChangeSource,
        *,
        direction: Direction | None = None,
        conflict_policy: ConflictPolicy | None = None,
        display_name_policy: DisplayNamePolicy | None = None,
        options: Mapping[str, str] | None = None,
    ) -> RuleChange:
        rule = self.rule(pair)
        if direction is not None:
            rule = redirect(rule, direction)
        updates: dict[str, object] = {}
        if conflict_policy is not None:
            updates["conflict_policy"] = conflict_policy
        if display_name_policy is not None:
            updates["display_name_policy"] = display_name_policy
        rule = rule.model_copy(update=updates)
        for name, value in (options or {}).items():
            rule = parse_option(rule, name, value)
        return await self._change(pair, source, rule)

    async def enable(self, pair: ObjectPair, source: ChangeSource) -> RuleChange:
        return await self._change(
            pair, source, self.rule(pair).model_copy(update={"enabled": True})
        )

    async def disable(self, pair: ObjectPair, source: ChangeSource) -> RuleChange:
        return await self._change(
            pair, source, self.rule(pair).model_copy(update={"enabled": False})
        )

    async def add_mapping(
        self, pair: ObjectPair, mapping: FieldMapping, source: ChangeSource
    ) -> RuleChange:
        rule = self.rule(pair)
        if rule.mapping(mapping.name) is not None:
            raise RulesError(
                [
                    f"There is already a mapping named {mapping.name!r}; remove it first or "
                    "choose another name."
                ]
            )
        return await self._change(
            pair, source, rule.model_copy(update={"mappings": (*rule.mappings, mapping)})
        )

    def _mapping_named(self, rule: SyncRule, name: str) -> FieldMapping:
        """The mapping called `name`, or whose HubSpot or QBO field is `name`."""
        found = rule.mapping(name) or next(
            (m for m in rule.mappings if name in (m.hubspot, m.qbo)), None
        )
        if found is None:
            names = ", ".join(m.name for m in rule.mappings)
            raise RulesError([f"No mapping is named {name!r}; the mappings are: {names}."])
        return found

    async def remove_mapping(self, pair: ObjectPair, name: str, source: ChangeSource) -> RuleChange:
        rule = self.rule(pair)
        found = self._mapping_named(rule, name)
        if found.builtin:
            raise RulesError(
                [
                    f"{found.name!r} is a default mapping: turn it off instead "
                    f"(`ledgerbridge rules mapping off {pair.value} {found.name}`)."
                ]
            )
        mappings = tuple(m for m in rule.mappings if m.name != found.name)
        return await self._change(pair, source, rule.model_copy(update={"mappings": mappings}))

    async def set_mapping_enabled(
        self, pair: ObjectPair, name: str, enabled: bool, source: ChangeSource
    ) -> RuleChange:
        rule = self.rule(pair)
        found = self._mapping_named(rule, name)
        mappings = tuple(
            m.model_copy(update={"enabled": enabled}) if m.name == found.name else m
            for m in rule.mappings
        )
        return await self._change(pair, source, rule.model_copy(update={"mappings": mappings}))

    async def add_filter(self, pair: ObjectPair, new: Filter, source: ChangeSource) -> RuleChange:
        rule = self.rule(pair)
        if any(f.identity() == new.identity() for f in rule.filters):
            raise RulesError([f"The filter {new.describe()!r} is already there."])
        return await self._change(
            pair, source, rule.model_copy(update={"filters": (*rule.filters, new)})
        )

    async def remove_filter(
        self, pair: ObjectPair, side: System, prop: str, source: ChangeSource
    ) -> RuleChange:
        rule = self.rule(pair)
        matching = [f for f in rule.filters if f.source is side and f.property == prop]
        if not matching:
            listed = ", ".join(f"{f.source.value} {f.property}" for f in rule.filters) or "none"
            raise RulesError([f"No {side.value} filter on {prop!r}; the filters are: {listed}."])
        fixed = {f.identity() for f in fixed_filters(rule)}
        locked = [f for f in matching if f.identity() in fixed]
        if locked:
            raise RulesError(
                [
                    f"The filter {f.describe()!r} is fixed and cannot be removed: invoices "
                    "flowing to QuickBooks must come from HubSpot, not be drafts, and be created "
                    "or changed after the sync started (R-INV-2)."
                    for f in locked
                ]
            )
        filters = tuple(f for f in rule.filters if f not in matching)
        return await self._change(pair, source, rule.model_copy(update={"filters": filters}))


NO_RULE_ON = "no sync rule is turned on for connection {id}, so there is nothing to sync"
CHOOSE = "run `ledgerbridge rules setup` to choose what syncs (or `ledgerbridge rules enable PAIR`)"


class NoRuleError(RuleNotFoundError):
    """A command that works on rules found none to work on (`fix` names the command)."""


def require_rules(
    store: Store, connection_id: int, pair: ObjectPair | None = None, *, must_be_on: bool = True
) -> None:
    """`NoRuleError` when the connection has no rule turned on (or no rule `pair`, or it is
    off and `must_be_on`): what `run`, `dry-run`, `reconcile` and `backfill` say."""
    rules = {r.object_pair: r for r in RulesService(store, connection_id).rules()}
    if pair is None:
        if not any(r.enabled for r in rules.values()):
            raise NoRuleError(NO_RULE_ON.format(id=connection_id), CHOOSE)
        return
    rule = rules.get(pair)
    if rule is None:
        raise NoRuleError(
            f"there is no {PAIR_NAMES[pair]} rule on connection {connection_id}", SETUP_HINT
        )
    if must_be_on and not rule.enabled:
        raise NoRuleError(
            f"the {pair.value} rule is turned off",
            f"run `ledgerbridge rules enable {pair.value}`",
        )
