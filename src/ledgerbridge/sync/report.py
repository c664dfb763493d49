"""What one pass did (or, in a dry run, would do): counts per object pair and the plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledgerbridge.domain import System
from ledgerbridge.sync.actions import (
    Action,
    Create,
    Deactivate,
    Exclude,
    Fail,
    LinkRecords,
    Skip,
    Update,
    Void,
)
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.rules import ObjectPair

if TYPE_CHECKING:
    from ledgerbridge.domain import RecordRef
    from ledgerbridge.sync.model import SideRecord

COUNTERS = (
    "created",
    "updated",
    "linked",
    "deactivated",
    "voided",
    "excluded",
    "failed",
    "skipped",
)


@dataclass(slots=True)
class PairReport:
    """Counts of one object pair. In a dry run they count what was planned."""

    object_type: ObjectPair
    created: int = 0
    updated: int = 0
    linked: int = 0
    deactivated: int = 0
    voided: int = 0
    excluded: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    """Writes that failed transiently: retried by the next pass."""
    error: str | None = None
    """Why the rule's pass stopped (a read or a whole batch failed), else None."""
    failure: SyncError | None = None
    """The error behind `error` (its category and HTTP status: the dashboard's health)."""
    payments: dict[str, int] = field(default_factory=dict)
    """The invoice rule's payment pass: writes by kind (create, update, void, refund),
    and `failed`, `pending`, `skipped` (R-PAY)."""
    payment_error: str | None = None
    deals: dict[str, int] = field(default_factory=dict)
    """The invoice rule's deal roll-up (R-INV-6): deals `updated` and `failed`."""
    deal_error: str | None = None
    actions: list[Action] = field(default_factory=list)
    seconds: float = 0.0
    """How long the rule's pass took (wall time; logs and metrics)."""
    retried: int = 0
    """Failed records re-read because their retry was due (`sync.healing`)."""
    lags: list[float] = field(default_factory=list)
    """Seconds from each written record's change to its sync (metrics)."""

    def count(self, name: str) -> int:
        value: int = getattr(self, name)
        return value

    def as_dict(self) -> dict[str, Any]:
        return {
            "object_type": self.object_type.value,
            **{name: self.count(name) for name in (*COUNTERS, "pending")},
            "error": self.error,
            "payments": dict(self.payments),
            "payment_error": self.payment_error,
            "deals": dict(self.deals),
            "deal_error": self.deal_error,
            "actions": [describe(a) for a in self.actions],
        }


@dataclass(slots=True)
class PassReport:
    dry_run: bool = False
    pairs: dict[ObjectPair, PairReport] = field(default_factory=dict)
    stopped: str | None = None
    """Why the pass stopped early (for example `authentication`), else None."""
    qbo_reads: int = 0
    """QBO read requests the pass sent (set by the runner; the runtime paces on it)."""

    def pair(self, object_type: ObjectPair) -> PairReport:
        if object_type not in self.pairs:
            self.pairs[object_type] = PairReport(object_type)
        return self.pairs[object_type]

    def total(self, name: str) -> int:
        return sum(p.count(name) for p in self.pairs.values())

    @property
    def writes(self) -> int:
        return sum(self.total(n) for n in ("created", "updated", "linked", "deactivated", "voided"))

    @property
    def qbo_writes(self) -> int:
        """The records the pass's plan wrote (or tried to write) to QBO."""
        return sum(
            1
            for pair in self.pairs.values()
            for a in pair.actions
            if (isinstance(a, Create | Update | Void) and a.target is System.QUICKBOOKS)
            or isinstance(a, Deactivate)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "stopped": self.stopped,
            "pairs": [p.as_dict() for p in self.pairs.values()],
        }


def _arrow(target: System) -> str:
    return "hubspot_to_qbo" if target is System.QUICKBOOKS else "qbo_to_hubspot"


def describe(action: Action) -> dict[str, Any]:
    """A JSON-friendly description of one planned action (dry run, activity details)."""
    if isinstance(action, Create):
        return {
            "action": "create",
            "direction": _arrow(action.target),
            "source": str(action.source_ref),
            "fields": dict(action.fields),
            "display_name": action.display_name,
        }
    if isinstance(action, Update):
        return {
            "action": "update",
            "direction": _arrow(action.target),
            "target": str(action.target_ref),
            "fields": dict(action.fields),
        }
    if isinstance(action, LinkRecords):
        return {
            "action": "link",
            "hubspot": str(action.hubspot_ref),
            "qbo": str(action.qbo_ref),
            "matched_on": action.matched_on,
        }
    if isinstance(action, Deactivate):
        return {"action": "deactivate", "target": str(action.target_ref)}
    if isinstance(action, Void):
        return {
            "action": "void",
            "direction": _arrow(action.target),
            "target": str(action.target_ref),
            "source": str(action.source_ref),
        }
    if isinstance(action, Exclude):
        return {"action": "exclude", "record": str(action.ref), "filter": action.filter_description}
    if isinstance(action, Fail):
        return {
            "action": "fail",
            "record": str(action.ref),
            "category": action.category.value,
            "title": action.category.headline,
            "detail": action.detail,
        }
    return {"action": "skip", "record": str(action.ref), "reason": action.reason}


COUNTED: tuple[tuple[type[Action], str], ...] = (
    (Create, "created"),
    (Update, "updated"),
    (LinkRecords, "linked"),
    (Deactivate, "deactivated"),
    (Void, "voided"),
    (Exclude, "excluded"),
    (Fail, "failed"),
    (Skip, "skipped"),
)
"""The `PairReport` counter of each kind of action."""


def summarize(actions: Sequence[Action], report: PairReport) -> None:
    """Count planned actions into `report` (dry run)."""
    for action in actions:
        report.actions.append(action)
        for kind, counter in COUNTED:
            if isinstance(action, kind):
                setattr(report, counter, getattr(report, counter) + 1)
                break


def change_lags(
    writes: Sequence[Action],
    results: Mapping[int, Any],
    seen: Mapping[RecordRef, SideRecord],
    now: dt.datetime,
) -> list[float]:
    """Seconds from the change of each successfully written source record to `now`
    (`results`: `WriteResult`s keyed by `id(action)`)."""
    lags: list[float] = []
    for action in writes:
        source = getattr(action, "source_ref", None)
        result = results.get(id(action))
        record = seen.get(source) if source is not None else None
        if record is None or result is None or not getattr(result, "ok", False):
            continue
        lags.append(max((now - record.updated_at).total_seconds(), 0.0))
    return lags


def planned_links(planned: RefIndex, report: PassReport) -> RefIndex:
    """`planned` and the contact and product links that a dry run's actions would make:
    a match links the two records; a create links its source to the record it would
    create, named `new:<source side>:<id>` (it has no id yet). A dry run of the invoices
    after those of the contacts and products then plans them as the backfill would,
    instead of failing each one for a customer or item not linked yet."""
    found = {
        ObjectPair.CONTACTS_CUSTOMERS: dict(planned.contacts),
        ObjectPair.PRODUCTS_ITEMS: dict(planned.products),
    }
    for pair, links in found.items():
        for action in report.pairs[pair].actions if pair in report.pairs else ():
            if isinstance(action, LinkRecords):
                links[action.hubspot_ref.id] = action.qbo_ref.id
            elif isinstance(action, Create):
                source = action.source_ref
                new = f"new:{source.system.value}:{source.id}"
                if action.target is System.QUICKBOOKS:
                    links[source.id] = new
                else:
                    links[new] = source.id
    return RefIndex(
        found[ObjectPair.CONTACTS_CUSTOMERS],
        found[ObjectPair.PRODUCTS_ITEMS],
        planned.custom_line_item_id,
    )
