"""Reconciliation run (R-BEY-2): read both sides in full, compare, report; write nothing.

`reconcile_ports(hubspot, qbo, state)` reads every record of each rule's object type
on both sides through the engine's side ports (`read_changes(rule, None, …)`: a full,
paged read, deleted records included), loads the links, and hands both to the pure
`ledgerbridge.sync.reconcile.reconcile`. `run(store, settings, …)` does it for a
stored connection, as `ledgerbridge reconcile` does. Nothing is written: no service
write, no link, no cursor, no sync record, no activity.

By default every enabled rule is checked; `pair` checks one rule (enabled or not).
A rule whose reads fail is reported in `errors` and the others go on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.domain import System
from ledgerbridge.runtime.connection import open_engine
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store
from ledgerbridge.sync.engine import ORDER
from ledgerbridge.sync.errors import AuthenticationError, SyncError
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.ports import SidePort, StatePort
from ledgerbridge.sync.reconcile import PairDrift, reconcile
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.transport.http import HttpClient


@dataclass(slots=True)
class ReconcileReport:
    """The drift of every rule checked, and the rules that could not be checked."""

    pairs: list[PairDrift] = field(default_factory=list)
    errors: dict[ObjectPair, str] = field(default_factory=dict)

    @property
    def drift(self) -> int:
        return sum(p.count for p in self.pairs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "drift": self.drift,
            "pairs": [p.as_dict() for p in self.pairs],
            "errors": {pair.value: error for pair, error in self.errors.items()},
        }


async def reconcile_ports(
    hubspot: SidePort,
    qbo: SidePort,
    state: StatePort,
    *,
    pair: ObjectPair | None = None,
) -> ReconcileReport:
    """Compare both sides of every enabled rule (or of rule `pair`)."""
    report = ReconcileReport()
    rules = {r.object_pair: r for r in await state.load_rules()}
    links = await state.load_links()
    refs = RefIndex.from_links(links)
    if pair is not None and pair not in rules:
        report.errors[pair] = "no rule is set up for this object pair"
    for current in ORDER:
        rule = rules.get(current)
        if rule is None or (pair is None and not rule.enabled) or pair not in (None, current):
            continue
        try:
            hs = await hubspot.read_changes(rule, None, refs)
            qb = await qbo.read_changes(rule, None, refs)
        except AuthenticationError as error:
            report.errors[current] = f"authentication: {error.detail}"
            break
        except SyncError as error:
            report.errors[current] = f"{error.category.value}: {error.detail}"
            continue
        report.pairs.append(reconcile(rule, links, hs.records, qb.records, refs))
    return report


async def run(
    store: Store,
    settings: Settings,
    *,
    connection_id: int | None = None,
    pair: ObjectPair | None = None,
    http: HttpClient | None = None,
) -> ReconcileReport:
    """Reconcile a stored connection (the first one when `connection_id` is None)."""
    async with open_engine(store, settings, connection_id, http=http) as engine:
        hubspot, qbo = engine.sides[System.HUBSPOT], engine.sides[System.QUICKBOOKS]
        return await reconcile_ports(hubspot, qbo, engine.state, pair=pair)


def as_json(report: ReconcileReport) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=True, default=str)
