"""How `ledgerbridge rules …` prints rules, fields, changes and the history (Rich)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from ledgerbridge.operations.rules.document import rule_entry
from ledgerbridge.operations.rules.service import RuleChange
from ledgerbridge.store import SyncRecordRow
from ledgerbridge.store.rule_changes import RuleChangeRow
from ledgerbridge.sync.catalogue import SideFields
from ledgerbridge.sync.defaults import fixed_filters
from ledgerbridge.sync.hints import PAIR_NAMES
from ledgerbridge.sync.rules import SyncRule


def _onoff(value: bool) -> str:
    return "[green]on[/]" if value else "[red]off[/]"


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def rule_json(rule: SyncRule) -> dict[str, Any]:
    started = rule.sync_started_at.isoformat() if rule.sync_started_at else None
    return {**rule_entry(rule), "sync_started_at": started}


def rules_table(console: Console, rules: Sequence[SyncRule]) -> None:
    if not rules:
        console.print("No sync rule is set up: run `ledgerbridge rules setup`.")
        return
    table = Table(title="Sync rules")
    for column in ("rule", "on", "direction", "conflict", "mappings", "filters"):
        table.add_column(column)
    for r in rules:
        active = len(r.active_mappings())
        table.add_row(
            r.object_pair.value,
            _onoff(r.enabled),
            r.direction.value,
            r.conflict_policy.value,
            f"{active}/{len(r.mappings)}",
            str(len(r.filters)),
        )
    console.print(table)


def _options(rule: SyncRule) -> list[tuple[str, str]]:
    rows = [
        ("display_name_policy", rule.display_name_policy.value),
        ("propagate_archive", str(rule.propagate_archive).lower()),
    ]
    if rule.invoice is not None:
        rows += [(k, str(v)) for k, v in rule.invoice.model_dump(mode="json").items()]
    if rule.sync_started_at is not None:
        rows.append(("sync started", rule.sync_started_at.isoformat(timespec="seconds")))
    return rows


def show_rule(console: Console, rule: SyncRule) -> None:
    name = PAIR_NAMES[rule.object_pair]
    console.print(
        f"[bold]{rule.object_pair.value}[/] ({name}): {_onoff(rule.enabled)}, "
        f"{rule.direction.value}, conflicts: {rule.conflict_policy.value}"
    )
    mappings = Table(title="Mappings")
    for column in ("name", "HubSpot", "QuickBooks", "type", "on", "kind"):
        mappings.add_column(column)
    for m in rule.mappings:
        kind = "default" if m.builtin else "custom"
        if m.read_only_on is not None:
            kind += f", not written to {m.read_only_on.value}"
        mappings.add_row(m.name, m.hubspot, m.qbo, m.type.value, _onoff(m.enabled), kind)
    console.print(mappings)
    filters = Table(title="Filters")
    for column in ("flow", "filter", "property", "operator", "value", "locked"):
        filters.add_column(column)
    fixed = {f.identity() for f in fixed_filters(rule)}
    for f in rule.filters:
        locked = "locked" if f.identity() in fixed else ""
        value = "" if f.value is None else str(f.value)
        filters.add_row(f.flow.value, f.describe(), f.property, f.operator.value, value, locked)
    console.print(filters if rule.filters else "Filters: none (every record syncs)")
    options = Table(title="Options")
    options.add_column("option")
    options.add_column("value")
    for key, value in _options(rule):
        options.add_row(key, value)
    console.print(options)


def fields_table(console: Console, fields: SideFields) -> None:
    table = Table(title=f"Fields of the {fields.object_name}")
    for column in ("name", "label", "type", "writable", "custom"):
        table.add_column(column)
    for f in sorted(fields.fields.values(), key=lambda x: (not x.custom, x.name)):
        table.add_row(
            f.name,
            f.label,
            f.type.value if f.type else "(other)",
            "no" if f.read_only else "yes",
            "custom" if f.custom else "",
        )
    console.print(table)


def print_changes(console: Console, changes: Sequence[RuleChange], *, dry_run: bool) -> None:
    if not changes:
        console.print("Nothing to change: the rules are already like this.")
        return
    verb = "Would change" if dry_run else "Changed"
    for change in changes:
        console.print(f"{verb} {change.pair.value}:")
        for line in change.lines:
            console.print(f"  - {line}")
    if not dry_run:
        console.print("The engine uses the new rules at its next pass.")


def history_table(console: Console, rows: Sequence[RuleChangeRow]) -> None:
    if not rows:
        console.print("No rule change yet.")
        return
    table = Table(title="Rule changes (latest first)")
    for column in ("when", "rule", "from", "what"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.at.isoformat(timespec="seconds"), r.object_pair, r.source, r.summary)
    console.print(table)


def history_json(rows: Sequence[RuleChangeRow]) -> list[dict[str, Any]]:
    return [
        {
            "at": r.at.isoformat(),
            "object_pair": r.object_pair,
            "source": r.source,
            "summary": r.summary,
        }
        for r in rows
    ]


def excluded_json(rows: Sequence[SyncRecordRow]) -> list[dict[str, Any]]:
    return [
        {
            "object_type": r.object_type,
            "side": r.side,
            "record_id": r.record_id,
            "label": r.label,
            "excluded_by": r.excluded_by,
        }
        for r in rows
    ]


def excluded_table(console: Console, rows: Sequence[SyncRecordRow]) -> None:
    if not rows:
        console.print("No record is excluded by a filter.")
        return
    table = Table(title="Excluded records (latest first)")
    for column in ("rule", "side", "record", "label", "excluded by filter"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.object_type, r.side, r.record_id, r.label or "", r.excluded_by or "")
    console.print(table)
