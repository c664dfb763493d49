"""Field-level three-way merge of one linked pair (pure).

Each field flows from the sides the rule allows as sources, minus the side where
the field cannot be written (`FieldMapping.read_only_on`: the other side owns it):

- Two sources (two-way): a field changed on one side is copied to the other; a
  field changed on both sides to different values goes to the conflict policy; a
  field changed on neither but different on the two sides (drift, or a first
  link after matching with an empty base) also goes to the conflict policy.
- One source S (one-way, or a field read-only on the other side): S's changes are
  written to the target; changes made on the target are not propagated and not
  reverted (they are overwritten only when S changes that field again).

A side whose record is not in the changed set is taken to be equal to the base.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ledgerbridge.domain import System
from ledgerbridge.sync.model import CanonicalValue, Snapshot
from ledgerbridge.sync.rules import ConflictPolicy, FieldMapping


@dataclass(frozen=True, slots=True)
class SideState:
    """One side of a pair: its current snapshot (None: not read; equal to the base)."""

    current: Snapshot | None
    changed: bool


@dataclass(frozen=True, slots=True)
class MergeResult:
    merged: dict[str, CanonicalValue]
    writes: dict[System, dict[str, CanonicalValue]]
    conflicts: tuple[str, ...] = ()
    ignored: tuple[str, ...] = field(default=())
    """Fields changed on a side whose changes this rule does not propagate."""


def _changed_fields(side: SideState, base: Snapshot, names: Sequence[str]) -> set[str]:
    current = side.current
    if not side.changed or current is None:
        return set()
    return {n for n in names if current.get(n) != base.get(n)}


def merge(
    mappings: Sequence[FieldMapping],
    base: Snapshot,
    sides: Mapping[System, SideState],
    sources: frozenset[System],
    policy: ConflictPolicy,
) -> MergeResult:
    names = [m.name for m in mappings]
    current: dict[System, Snapshot] = {}
    for s in System:
        side_current = sides[s].current
        current[s] = side_current if side_current is not None else base
    changed = {s: _changed_fields(sides[s], base, names) for s in System}
    merged: dict[str, CanonicalValue] = {}
    writes: dict[System, dict[str, CanonicalValue]] = {s: {} for s in System}
    conflicts: list[str] = []
    ignored: list[str] = []
    for m in mappings:
        name = m.name
        field_sources = {s for s in sources if m.writable_on(s.other)}
        values = {s: current[s].get(name) for s in System}
        if not field_sources:
            merged[name] = base.get(name)
            continue
        if len(field_sources) == 1:
            (source,) = field_sources
            target = source.other
            merged[name] = values[source]
            if name in changed[source] and values[target] != values[source]:
                writes[target][name] = values[source]
            elif name in changed[target] and values[target] != values[source]:
                ignored.append(name)
            continue
        in_h, in_q = (name in changed[s] for s in (System.HUBSPOT, System.QUICKBOOKS))
        same = values[System.HUBSPOT] == values[System.QUICKBOOKS]
        if same or (in_h and not in_q):
            value = values[System.HUBSPOT]
        elif in_q and not in_h:
            value = values[System.QUICKBOOKS]
        else:
            value = values[policy.winner]
            conflicts.append(name)
        merged[name] = value
        for side in System:
            if values[side] != value and m.writable_on(side):
                writes[side][name] = value
    return MergeResult(merged, writes, tuple(conflicts), tuple(ignored))
