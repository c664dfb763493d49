"""Reconciliation (R-BEY-2): where the two sides disagree now, from full reads of both.

`reconcile(rule, links, hubspot, qbo, refs)` is pure. It is given every record of the
rule's object type on each side (deleted ones included, as `SideRecord`s), the links
of the rule's pair and the cross-pair `RefIndex`, and reports:

- **fields**: linked pairs whose mapped fields disagree now. Each side's *current*
  snapshot is compared (not the stored hashes: a change made behind the engine's
  back, or a write that was lost, shows up here).
- **unlinked**: records that should be linked but are not:
  `match` (an unlinked record whose match key equals that of exactly one unlinked
  record on the other side), `ambiguous` (several records share the key),
  `duplicate` (the key belongs to a linked record on the other side), `missing`
  (no counterpart at all, although the record passes the rule's direction and
  filters, so a pass should have copied it).
- **gone**: links whose record is deleted (archived, inactive) or missing on one
  side while the other side's record is still live.

Match keys (`record_key`): contacts by email, products by SKU (`match.match_key`);
invoices by document number + customer + issue date + amount (the customer as its
linked HubSpot contact id, so both sides give the same key; an invoice whose
customer is not linked has no key).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ledgerbridge.domain import Invoice, RecordRef, System
from ledgerbridge.sync import canonical as canon
from ledgerbridge.sync.defaults import INVOICE_MAPPINGS, MATCH_FIELD
from ledgerbridge.sync.filters import first_failing
from ledgerbridge.sync.invoices import HOOKS
from ledgerbridge.sync.mapping import is_unlinked, read_field, snapshot
from ledgerbridge.sync.match import match_key
from ledgerbridge.sync.model import CanonicalValue, Link, RefIndex, SideRecord, snapshot_hash
from ledgerbridge.sync.reconcile_rules import (
    backfill_since,
    compared_mappings,
    field_action,
    gone_action,
    same_discount,
    status_differs,
    unlinked_action,
)
from ledgerbridge.sync.rules import ObjectPair, SyncRule

H, Q = System.HUBSPOT, System.QUICKBOOKS
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_INVOICE_KEY_FIELDS = {m.name: m for m in INVOICE_MAPPINGS if m.name in ("number", "customer")}
_INVOICES = ObjectPair.INVOICES_INVOICES
_ISSUE_DATE = next(m for m in INVOICE_MAPPINGS if m.name == "issue_date")


class UnlinkedKind(StrEnum):
    MATCH = "match"
    AMBIGUOUS = "ambiguous"
    DUPLICATE = "duplicate"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class FieldDrift:
    """One mapped field of a linked pair whose values differ now."""

    hubspot_id: str
    qbo_id: str
    field: str
    hubspot_value: CanonicalValue
    qbo_value: CanonicalValue
    action: str = dataclasses.field(default="", compare=False)
    """What fixes it (see `sync.reconcile_rules`)."""


@dataclass(frozen=True, slots=True)
class UnlinkedRecord:
    """A live, unlinked record that should be linked (see `UnlinkedKind`)."""

    kind: UnlinkedKind
    ref: RecordRef
    key: str | None = None
    counterparts: tuple[RecordRef, ...] = ()
    note: str | None = None
    action: str = dataclasses.field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class GoneLink:
    """A link whose record on `side` is `deleted` or `missing`; the other side is live."""

    hubspot_id: str
    qbo_id: str
    side: System
    state: str
    action: str = dataclasses.field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class PairDrift:
    """The drift of one object pair."""

    object_type: ObjectPair
    fields: tuple[FieldDrift, ...] = ()
    unlinked: tuple[UnlinkedRecord, ...] = ()
    gone: tuple[GoneLink, ...] = ()
    links: int = 0
    hubspot_records: int = 0
    qbo_records: int = 0

    @property
    def count(self) -> int:
        return len(self.fields) + len(self.unlinked) + len(self.gone)

    def as_dict(self) -> dict[str, Any]:
        return {
            "object_type": self.object_type.value,
            "drift": self.count,
            "checked": {
                "links": self.links,
                "hubspot_records": self.hubspot_records,
                "qbo_records": self.qbo_records,
            },
            "fields": [
                {
                    "hubspot_id": f.hubspot_id,
                    "qbo_id": f.qbo_id,
                    "field": f.field,
                    "hubspot_value": f.hubspot_value,
                    "qbo_value": f.qbo_value,
                    "action": f.action,
                }
                for f in self.fields
            ],
            "unlinked": [
                {
                    "kind": u.kind.value,
                    "record": str(u.ref),
                    "key": u.key,
                    "counterparts": [str(c) for c in u.counterparts],
                    "note": u.note,
                    "action": u.action,
                }
                for u in self.unlinked
            ],
            "gone": [
                {
                    "hubspot_id": g.hubspot_id,
                    "qbo_id": g.qbo_id,
                    "side": g.side.value,
                    "state": g.state,
                    "action": g.action,
                }
                for g in self.gone
            ],
        }


def show(value: CanonicalValue) -> str:
    """A canonical value as one line of text (lines as compact JSON)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def invoice_key(rule: SyncRule, record: SideRecord, refs: RefIndex) -> str | None:
    """Document number + customer + issue date + amount (None when any is unknown)."""
    invoice = record.domain
    if not isinstance(invoice, Invoice):
        return None
    number = read_field(rule, _INVOICE_KEY_FIELDS["number"], record, refs)
    customer = read_field(rule, _INVOICE_KEY_FIELDS["customer"], record, refs)
    issued = read_field(rule, _ISSUE_DATE, record, refs)
    amount = canon.number(invoice.total.amount)
    if not isinstance(number, str) or not isinstance(issued, str) or is_unlinked(customer):
        return None
    return "|".join(
        (number.strip().casefold(), str(customer), issued, f"{amount} {invoice.currency}")
    )


def record_key(rule: SyncRule, record: SideRecord, refs: RefIndex) -> str | None:
    """The key that says two records on either side are the same thing."""
    if rule.object_pair is ObjectPair.INVOICES_INVOICES:
        return invoice_key(rule, record, refs)
    if rule.object_pair in MATCH_FIELD:
        return match_key(rule.object_pair, snapshot(rule, record, refs))
    return None


def excluded_by(rule: SyncRule, record: SideRecord) -> str | None:
    """Why a pass would not copy `record` (direction or filter), None when it would."""
    if not rule.allows(record.system):
        return f"the rule does not take changes from {record.system.value}"
    started = rule.sync_started_at or EPOCH
    failing = first_failing(rule.filters_for(record.system), record, None, started)
    return failing.describe() if failing is not None else None


def _index(
    records: Iterable[SideRecord], keys: Mapping[RecordRef, str | None]
) -> dict[str, list[SideRecord]]:
    index: dict[str, list[SideRecord]] = {}
    for record in records:
        key = keys[record.ref]
        if key is not None:
            index.setdefault(key, []).append(record)
    return index


def _refs(records: Iterable[SideRecord]) -> tuple[RecordRef, ...]:
    return tuple(sorted((r.ref for r in records), key=lambda r: (r.system.value, r.id)))


class _Reconciler:
    def __init__(
        self,
        rule: SyncRule,
        links: Sequence[Link],
        records: Mapping[System, Sequence[SideRecord]],
        refs: RefIndex,
    ) -> None:
        self.rule = rule
        self.refs = refs
        self.links = sorted(
            (x for x in links if x.object_type is rule.object_pair),
            key=lambda x: (x.hubspot_id, x.qbo_id),
        )
        self.by_id = {s: {r.ref.id: r for r in records[s]} for s in System}
        self.linked_ids = {H: {x.hubspot_id for x in self.links}, Q: {x.qbo_id for x in self.links}}

    def compare_links(
        self,
    ) -> tuple[list[FieldDrift], list[GoneLink], dict[System, list[SideRecord]]]:
        fields: list[FieldDrift] = []
        gone: list[GoneLink] = []
        live: dict[System, list[SideRecord]] = {H: [], Q: []}
        for link in self.links:
            pair = {s: self.by_id[s].get(link.id_on(s)) for s in System}
            states = {
                s: "missing" if r is None else "deleted" if r.deleted else "live"
                for s, r in pair.items()
            }
            for side in System:
                if states[side] != "live" and states[side.other] == "live":
                    action = gone_action(self.rule, side, states[side])
                    gone.append(GoneLink(link.hubspot_id, link.qbo_id, side, states[side], action))
            for side, record in pair.items():
                if states[side] == "live" and record is not None:
                    live[side].append(record)  # a linked record holds its key
            hs, qb = pair[H], pair[Q]
            if hs is None or qb is None or hs.deleted or qb.deleted:
                continue
            fields.extend(self.field_drift(link, hs, qb))
        return fields, gone, live

    def field_drift(self, link: Link, hs: SideRecord, qb: SideRecord) -> list[FieldDrift]:
        """The fields the rule keeps equal that differ now, each with its fix."""
        snaps = {H: snapshot(self.rule, hs, self.refs), Q: snapshot(self.rule, qb, self.refs)}
        found: list[FieldDrift] = []
        for mapping in compared_mappings(self.rule, link, hs, snaps):
            values = {s: snaps[s].get(mapping.name) for s in System}
            if values[H] == values[Q]:
                continue
            if mapping.name == "order_discount" and same_discount(hs, qb):
                continue
            status = mapping.name == "status" and self.rule.object_pair is _INVOICES
            if status and not status_differs(self.rule, snaps):
                continue
            action = field_action(self.rule, mapping, values)
            found.append(
                FieldDrift(link.hubspot_id, link.qbo_id, mapping.name, values[H], values[Q], action)
            )
        return found

    def unlinked(self, live_linked: Mapping[System, Sequence[SideRecord]]) -> list[UnlinkedRecord]:
        rule, refs = self.rule, self.refs
        unlinked = {
            s: sorted(
                (
                    r
                    for r in self.by_id[s].values()
                    if not r.deleted and r.ref.id not in self.linked_ids[s]
                ),
                key=lambda r: r.ref.id,
            )
            for s in System
        }
        keys = {r.ref: record_key(rule, r, refs) for s in System for r in unlinked[s]}
        keys.update({r.ref: record_key(rule, r, refs) for s in System for r in live_linked[s]})
        index = {s: _index(unlinked[s], keys) for s in System}
        taken = {s: _index(live_linked[s], keys) for s in System}
        found: list[UnlinkedRecord] = []
        for side in (H, Q):
            other = side.other
            for record in unlinked[side]:
                key = keys[record.ref]
                peers = index[side].get(key, []) if key else []
                others = index[other].get(key, []) if key else []
                if key is not None and others:
                    if len(peers) == 1 and len(others) == 1:
                        if side is H:  # one entry per pair
                            note = excluded_by(rule, record) or excluded_by(rule, others[0])
                            found.append(
                                UnlinkedRecord(
                                    UnlinkedKind.MATCH,
                                    record.ref,
                                    key,
                                    _refs(others),
                                    f"not linked because: {note}" if note else None,
                                )
                            )
                    else:
                        mates = [r for r in [*peers, *others] if r.ref != record.ref]
                        found.append(
                            UnlinkedRecord(UnlinkedKind.AMBIGUOUS, record.ref, key, _refs(mates))
                        )
                    continue
                holders = taken[other].get(key, []) if key else []
                if holders:
                    found.append(
                        UnlinkedRecord(UnlinkedKind.DUPLICATE, record.ref, key, _refs(holders))
                    )
                    continue
                if excluded_by(rule, record) is None and not HOOKS[rule.object_pair].skip_create(
                    rule, record
                ):  # a pass would copy it (a voided invoice never synced is not copied)
                    found.append(UnlinkedRecord(UnlinkedKind.MISSING, record.ref, key))
        return [self.with_action(u) for u in found]

    def with_action(self, entry: UnlinkedRecord) -> UnlinkedRecord:
        others = ", ".join(str(c) for c in entry.counterparts)
        involved = [entry.ref, *entry.counterparts]
        since = backfill_since(
            record for ref in involved if (record := self.by_id[ref.system].get(ref.id)) is not None
        )
        action = unlinked_action(
            self.rule, entry.kind.value, entry.ref.system, entry.note, others, since
        )
        return dataclasses.replace(entry, action=action)


def reconcile(
    rule: SyncRule,
    links: Sequence[Link],
    hubspot: Sequence[SideRecord],
    qbo: Sequence[SideRecord],
    refs: RefIndex,
) -> PairDrift:
    """The drift of `rule`'s pair, from full reads of both sides. Deterministic."""
    reconciler = _Reconciler(rule, links, {H: hubspot, Q: qbo}, refs)
    fields, gone, live = reconciler.compare_links()
    unlinked = reconciler.unlinked(live)
    return PairDrift(
        rule.object_pair,
        tuple(fields),
        tuple(unlinked),
        tuple(gone),
        links=len(reconciler.links),
        hubspot_records=len(reconciler.by_id[H]),
        qbo_records=len(reconciler.by_id[Q]),
    )


def pair_unlinked(
    rule: SyncRule,
    links: Sequence[Link],
    hubspot: Sequence[SideRecord],
    qbo: Sequence[SideRecord],
    refs: RefIndex,
) -> list[tuple[SideRecord, SideRecord, str]]:
    """Unlinked (HubSpot, QBO) pairs whose keys match one to one: (hubspot, qbo, key).

    Used by the backfill to link historical records that already exist on both sides
    (invoices, which the engine does not match by itself) instead of duplicating them.
    """
    reconciler = _Reconciler(rule, links, {H: hubspot, Q: qbo}, refs)
    matches = [u for u in reconciler.unlinked({H: [], Q: []}) if u.kind is UnlinkedKind.MATCH]
    return [
        (reconciler.by_id[H][u.ref.id], reconciler.by_id[Q][u.counterparts[0].id], u.key or "")
        for u in matches
    ]


def link_as_is(rule: SyncRule, hubspot: SideRecord, qbo: SideRecord, refs: RefIndex) -> Link:
    """A link for two records that already exist, taken as they are now: both hashes
    current (nothing is written), the base from the side the conflict policy favours
    (fields that differ are reported by `reconcile` and settled by the policy at the
    next change)."""
    snaps = {H: snapshot(rule, hubspot, refs), Q: snapshot(rule, qbo, refs)}
    return Link(
        rule.object_pair,
        hubspot.ref.id,
        qbo.ref.id,
        hubspot.version,
        qbo.version,
        snapshot_hash(snaps[H]),
        snapshot_hash(snaps[Q]),
        dict(snaps[rule.conflict_policy.winner]),
        None,
    )
