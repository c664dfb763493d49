"""What reconciliation compares, and the action that fixes each difference (issue 19).

Reconcile reports only what the rules keep equal, so that a report of 0 means "in sync"
and every difference it reports can be fixed:

- a field flows from the sides the rule takes changes from, minus a side it cannot be
  written to (`FieldMapping.read_only_on`); a field no side flows from is not compared;
- HubSpot numbers the invoices it holds itself: an invoice the engine created in HubSpot
  (copied from QuickBooks) keeps HubSpot's number, so its `number` is not compared;
- QuickBooks zeroes the amounts of a voided invoice (the lines stay): once QuickBooks
  says voided, the amounts (`lines`, `order_discount`) are not compared;
- HubSpot's invoice discount is an amount: a QuickBooks percentage and the amount it
  comes to are the same discount (`same_discount`);
- invoice status: QuickBooks has no writable status; a void made in HubSpot is copied
  with QuickBooks' void operation, so on a rule that takes HubSpot's changes "voided in
  HubSpot but not in QuickBooks" is a difference.

Each difference carries a short `action` text (what a user does to fix it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from ledgerbridge.domain import Invoice, InvoiceStatus, System
from ledgerbridge.sync.model import CanonicalValue, Link, SideRecord, Snapshot
from ledgerbridge.sync.rules import FieldMapping, ObjectPair, SyncRule

__all__ = [
    "BACKFILL_OBJECT",
    "EARLIEST_SINCE",
    "backfill_since",
    "compared_mappings",
    "field_action",
    "gone_action",
    "origin_of",
    "same_discount",
    "side_name",
    "status_differs",
    "unlinked_action",
]

H, Q = System.HUBSPOT, System.QUICKBOOKS
VOIDED = InvoiceStatus.VOIDED.value
VOID_ZEROED = frozenset({"lines", "order_discount"})
"""Invoice fields QuickBooks zeroes when it voids an invoice."""
SELF_NUMBERED: Mapping[str, System] = {"number": H}
"""Invoice fields a side assigns itself when the engine creates the record there."""

BACKFILL_OBJECT: Mapping[ObjectPair, str] = {
    ObjectPair.CONTACTS_CUSTOMERS: "contacts",
    ObjectPair.PRODUCTS_ITEMS: "products",
    ObjectPair.INVOICES_INVOICES: "invoices",
}


def same_discount(hubspot: SideRecord, qbo: SideRecord) -> bool:
    """Whether two invoices' order discounts come to the same amount. HubSpot's invoice
    discount is an amount, so a QuickBooks percentage is written there as what it comes
    to (`hubspot.codec_commerce`): "10 %" in QuickBooks and its amount in HubSpot are in
    sync, not a difference."""
    hs, qb = hubspot.domain, qbo.domain
    if not isinstance(hs, Invoice) or not isinstance(qb, Invoice):
        return False
    if hs.discount is None or qb.discount is None:
        return hs.discount is None and qb.discount is None
    return hs.discount_amount.amount == qb.discount_amount.amount


def side_name(system: System) -> str:
    return "HubSpot" if system is H else "QuickBooks"


def origin_of(link: Link, hubspot: SideRecord | None) -> System | None:
    """The side a linked record was first created on: the link's, else (links made by
    matching) an invoice's own source; None when unknown."""
    if link.origin is not None:
        return link.origin
    domain = hubspot.domain if hubspot is not None else None
    if isinstance(domain, Invoice) and domain.source is not None:
        return domain.source
    return None


def field_sources(rule: SyncRule, mapping: FieldMapping) -> frozenset[System]:
    """The sides whose changes of `mapping` this rule copies to the other side."""
    return frozenset(s for s in rule.direction.sources if mapping.writable_on(s.other))


def compared_mappings(
    rule: SyncRule, link: Link, hubspot: SideRecord, snapshots: Mapping[System, Snapshot]
) -> tuple[FieldMapping, ...]:
    """The active mappings whose values the rule keeps equal for this linked pair."""
    invoices = rule.object_pair is ObjectPair.INVOICES_INVOICES
    origin = origin_of(link, hubspot)
    qbo_voided = snapshots[Q].get("status") == VOIDED
    kept: list[FieldMapping] = []
    for mapping in rule.active_mappings():
        name = mapping.name
        if invoices and name == "status":
            if H in rule.direction.sources or field_sources(rule, mapping):
                kept.append(mapping)
            continue
        if not field_sources(rule, mapping):
            continue
        numbered_by = SELF_NUMBERED.get(name) if invoices else None
        if numbered_by is not None and origin is not None and origin is not numbered_by:
            continue  # created there by the engine: that side numbered it
        if invoices and qbo_voided and name in VOID_ZEROED:
            continue
        kept.append(mapping)
    return tuple(kept)


def status_differs(rule: SyncRule, snapshots: Mapping[System, Snapshot]) -> bool:
    """Invoice status: QuickBooks' status is copied to HubSpot when the rule takes QBO's
    changes; a HubSpot void is copied to QuickBooks when it takes HubSpot's."""
    hubspot, qbo = snapshots[H].get("status"), snapshots[Q].get("status")
    if hubspot == qbo:
        return False
    if Q in rule.direction.sources:
        return True
    return hubspot == VOIDED  # HubSpot → QBO copies only the void


def _shown(value: CanonicalValue) -> str:
    if value is None:
        return "empty"
    text = value if isinstance(value, str) else str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def field_action(
    rule: SyncRule, mapping: FieldMapping, values: Mapping[System, CanonicalValue]
) -> str:
    """What fixes a difference in `mapping` between the two sides of a linked pair."""
    label = mapping.label or mapping.name
    invoice_status = rule.object_pair is ObjectPair.INVOICES_INVOICES and mapping.name == "status"
    if invoice_status and values[H] == VOIDED and values[Q] != VOIDED:
        return "void the invoice in QuickBooks (or make the HubSpot invoice change again)"
    sources = field_sources(rule, mapping)
    if len(sources) == 2:
        return (
            f"edit {label} in HubSpot or QuickBooks to the value you want: the next pass "
            "copies it to the other side"
        )
    (source,) = sources or (H if values[H] is not None else Q,)
    target = source.other
    return (
        f"set {label} in {side_name(target)} back to {_shown(values[source])}: this rule "
        f"copies it from {side_name(source)} to {side_name(target)} only"
    )


def gone_action(rule: SyncRule, side: System, state: str) -> str:
    """What fixes a link whose record on `side` is deleted or missing."""
    other = side_name(side.other)
    if state == "missing":
        return (
            f"the {side_name(side)} record no longer exists: delete or make inactive the "
            f"{other} record, or restore the {side_name(side)} one"
        )
    deactivatable = rule.object_pair is not ObjectPair.INVOICES_INVOICES
    if side is H and rule.propagate_archive and rule.allows(H) and deactivatable:
        return (
            f"the next pass makes the {other} record inactive; if it stays, its failure is "
            f"on the dashboard's Failures page (and {_dry_run(rule)} shows what a pass "
            "would do)"
        )
    return (
        f"restore the {side_name(side)} record, or make the {other} record inactive too "
        "(this rule does not copy deletions)"
    )


def unlinked_action(
    rule: SyncRule,
    kind: str,
    side: System,
    note: str | None,
    others: str,
    since: dt.date | None = None,
) -> str:
    """What fixes an unlinked record (`kind`: match, ambiguous, duplicate, missing).
    `since`: the day the oldest record involved was created (`backfill_since`), which the
    suggested backfill starts from (unknown: `EARLIEST_SINCE`, i.e. all the history)."""
    day = (since or EARLIEST_SINCE).isoformat()
    backfill = f"`ledgerbridge backfill --object {BACKFILL_OBJECT[rule.object_pair]} --since {day}`"
    if kind == "match":
        if note:
            return f"change the record so the rule takes it ({note}), then run {backfill}"
        return f"run {backfill}: it links the two"
    if kind == "ambiguous":
        return (
            f"several records share this key ({others}): merge the duplicates, or change "
            f"the key of all but one, then run {backfill}"
        )
    if kind == "duplicate":
        return (
            f"this duplicates the linked {others}: merge it into that record in "
            f"{side_name(side)}, or delete it"
        )
    return (
        "a pass should have copied it: if it failed, the dashboard's Failures page says "
        f"why (and {_dry_run(rule)} shows what a pass would do with it); if it is older "
        f"than the sync, run {backfill}"
    )


def _dry_run(rule: SyncRule) -> str:
    return f"`ledgerbridge dry-run --rule {rule.object_pair.value}`"


EARLIEST_SINCE = dt.date(2000, 1, 1)
"""The backfill start suggested when no record says when it was created (all history)."""


def backfill_since(records: Iterable[SideRecord]) -> dt.date | None:
    """The day the oldest of `records` was created, as both services record it (HubSpot's
    `createdate` / `hs_createdate` property, QuickBooks' `MetaData.CreateTime`), in UTC
    (the backfill's `--since` is a UTC day); None when none of them says."""
    days = [day for day in map(_created_on, records) if day is not None]
    return min(days, default=None)


def _created_on(record: SideRecord) -> dt.date | None:
    raw = record.raw
    meta = raw.get("MetaData")
    values = [raw.get("createdate"), raw.get("hs_createdate")]
    if isinstance(meta, Mapping):
        values.append(meta.get("CreateTime"))
    for value in values:
        when = _timestamp(value)
        if when is not None:
            return when.date()
    return None


def _timestamp(value: object) -> dt.datetime | None:
    """An ISO 8601 timestamp ("…Z", "…-08:00") or epoch milliseconds, in UTC."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    text = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
