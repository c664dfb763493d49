"""The rules file: a connection's whole sync configuration as one TOML document.

    version = 1

    [[rules]]
    object_pair = "contacts_customers"
    direction = "two_way"
    enabled = true
    …
    [[rules.mappings]]            # default mappings: name, sides, `enabled`, builtin = true
    [[rules.filters]]             # the fixed filters (R-INV-2) carry locked = true
    [rules.invoice]               # invoice settings (income account, service date, opt-ins)

`export_document(rules)` writes it (`tomli_w`), `parse_document(text)` reads it back
(`tomllib`) into `SyncRule`s, raising `DocumentError` with every problem found.
`describe_changes(before, after)` says in words what differs between two versions of a
rule (the `apply` preview, the change history). A rule's `sync_started_at` is state,
not configuration: it is neither exported nor compared.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

import tomli_w
from pydantic import ValidationError

from ledgerbridge.errors import UsageError
from ledgerbridge.sync.defaults import DEFAULT_MAPPINGS
from ledgerbridge.sync.rules import FieldMapping, Filter, ObjectPair, SyncRule

VERSION = 1
_NOT_CONFIG = {"id", "sync_started_at"}


class DocumentError(UsageError):
    """The rules file cannot be read; `messages` says every problem found."""

    fix = "correct the rules file (`ledgerbridge rules export` shows its shape); nothing was saved"

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = list(messages)
        super().__init__("the rules file is not valid:\n" + "\n".join(f"  - {m}" for m in messages))


def rule_config(rule: SyncRule) -> dict[str, Any]:
    """What is compared to tell whether a rule changed (its configuration, no state)."""
    return rule.model_dump(mode="json", exclude=_NOT_CONFIG)


def _mapping_entry(m: FieldMapping) -> dict[str, Any]:
    if m.builtin:
        entry = {"name": m.name, "label": m.label, "hubspot": m.hubspot, "qbo": m.qbo}
        return {
            **{k: v for k, v in entry.items() if v is not None},
            "enabled": m.enabled,
            "builtin": True,
        }
    return m.model_dump(mode="json", exclude_none=True, exclude_defaults=True) | {
        "name": m.name,
        "hubspot": m.hubspot,
        "qbo": m.qbo,
    }


def _filter_entry(f: Filter) -> dict[str, Any]:
    data = f.model_dump(mode="json", exclude_none=True, exclude={"fixed"})
    if isinstance(data.get("value"), tuple):
        data["value"] = list(data["value"])
    if f.fixed:
        data["locked"] = True
    return data


def rule_entry(rule: SyncRule) -> dict[str, Any]:
    data = rule.model_dump(
        mode="json", exclude=_NOT_CONFIG | {"mappings", "filters"}, exclude_none=True
    )
    data["mappings"] = [_mapping_entry(m) for m in rule.mappings]
    data["filters"] = [_filter_entry(f) for f in rule.filters]
    return data


def export_document(rules: Sequence[SyncRule], *, title: str | None = None) -> str:
    """The TOML document of `rules` (in the order given)."""
    head = f"# {title}\n" if title else ""
    body = {"version": VERSION, "rules": [rule_entry(r) for r in rules]}
    return head + tomli_w.dumps(body)


def _builtin_mapping(pair: ObjectPair, entry: Mapping[str, Any]) -> FieldMapping:
    defaults = {m.name: m for m in DEFAULT_MAPPINGS[pair]}
    default = defaults.get(str(entry.get("name")))
    if default is None:
        return FieldMapping.model_validate(entry)  # validation names it
    return FieldMapping.model_validate({**default.model_dump(), **entry})


def rule_from_entry(entry: Mapping[str, Any]) -> SyncRule:
    """One `[[rules]]` entry (or the JSON of `rules show --json`) as a `SyncRule`
    (`pydantic.ValidationError` or `ValueError` when it is not one)."""
    data = {k: v for k, v in entry.items() if k != "sync_started_at"}
    pair = ObjectPair(str(data.get("object_pair")))
    mappings = [
        _builtin_mapping(pair, m) if m.get("builtin") else FieldMapping.model_validate(m)
        for m in data.pop("mappings", [])
    ]
    filters = []
    for f in data.pop("filters", []):
        f = dict(f)
        f["fixed"] = bool(f.pop("locked", False))
        if isinstance(f.get("value"), list):
            f["value"] = tuple(f["value"])
        filters.append(Filter.model_validate(f))
    return SyncRule.model_validate({**data, "mappings": mappings, "filters": filters})


def _where(loc: Sequence[int | str]) -> str:
    return ".".join(str(p) for p in loc) or "rule"


def parse_document(text: str) -> list[SyncRule]:
    """The rules of a rules file; `DocumentError` lists what is wrong with it."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DocumentError([f"not TOML: {exc}"]) from exc
    if data.get("version", VERSION) != VERSION:
        raise DocumentError([f"version {data.get('version')!r} is not supported (use {VERSION})"])
    entries = data.get("rules")
    if not isinstance(entries, list) or not entries:
        raise DocumentError(["no [[rules]] in the file"])
    rules: list[SyncRule] = []
    problems: list[str] = []
    seen: set[ObjectPair] = set()
    for i, entry in enumerate(entries, 1):
        pair = entry.get("object_pair") if isinstance(entry, dict) else None
        where = f"rule {i} ({pair})" if pair else f"rule {i}"
        try:
            rule = rule_from_entry(entry)
        except ValidationError as exc:
            problems.extend(f"{where}: {_where(e['loc'])}: {e['msg']}" for e in exc.errors())
            continue
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if rule.object_pair in seen:
            problems.append(f"{where}: {rule.object_pair.value} appears twice")
        seen.add(rule.object_pair)
        rules.append(rule)
    if problems:
        raise DocumentError(problems)
    return rules


# ---- what changed ----------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _onoff(value: bool) -> str:
    return "on" if value else "off"


def _setting_changes(before: SyncRule, after: SyncRule) -> list[str]:
    out: list[str] = []
    for name in ("enabled", "direction", "conflict_policy", "display_name_policy"):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            shown = (_onoff(old), _onoff(new)) if name == "enabled" else (str(old), str(new))
            out.append(f"{name.replace('_', ' ')}: {shown[0]} → {shown[1]}")
    if before.propagate_archive != after.propagate_archive:
        out.append(f"propagate archive: {_onoff(after.propagate_archive)}")
    old_inv = before.invoice.model_dump(mode="json") if before.invoice else {}
    new_inv = after.invoice.model_dump(mode="json") if after.invoice else {}
    for key in sorted(set(old_inv) | set(new_inv)):
        if old_inv.get(key) != new_inv.get(key):
            out.append(f"{key.replace('_', ' ')}: {old_inv.get(key)} → {new_inv.get(key)}")
    return out


def _mapping_changes(before: SyncRule, after: SyncRule) -> list[str]:
    out: list[str] = []
    old = {m.name: m for m in before.mappings}
    new = {m.name: m for m in after.mappings}
    for name, m in new.items():
        was = old.get(name)
        if was is None:
            out.append(f"mapping added: {name} (HubSpot {m.hubspot} ↔ QuickBooks {m.qbo})")
        elif was.model_dump(exclude={"enabled"}) != m.model_dump(exclude={"enabled"}):
            out.append(f"mapping changed: {name} (HubSpot {m.hubspot} ↔ QuickBooks {m.qbo})")
        if was is not None and was.enabled != m.enabled:
            out.append(f"mapping {name}: {_onoff(m.enabled)}")
    out.extend(f"mapping removed: {name}" for name in old if name not in new)
    return out


def _filter_changes(before: SyncRule, after: SyncRule) -> list[str]:
    old = {f.identity(): f for f in before.filters}
    new = {f.identity(): f for f in after.filters}
    added = [
        f"filter added ({f.flow.value}): {f.describe()}" for k, f in new.items() if k not in old
    ]
    removed = [
        f"filter removed ({f.flow.value}): {f.describe()}" for k, f in old.items() if k not in new
    ]
    return [*added, *removed]


def describe_changes(before: SyncRule | None, after: SyncRule) -> list[str]:
    """What differs from `before` to `after`, one line a change (empty: nothing)."""
    if before is None:
        state = _onoff(after.enabled)
        return [
            f"set up: {after.direction.value}, {_count(len(after.mappings), 'mapping')}, "
            f"{_count(len(after.filters), 'filter')}, {state}"
        ]
    if rule_config(before) == rule_config(after):
        return []
    return [
        *_setting_changes(before, after),
        *_mapping_changes(before, after),
        *_filter_changes(before, after),
    ]
