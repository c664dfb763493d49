"""The backfill rule: the stored rule minus its time filters, plus "created on or after
`since`" per source side (the window filter)."""

from __future__ import annotations

import datetime as dt

from ledgerbridge.domain import System
from ledgerbridge.errors import BackfillError as BackfillError
from ledgerbridge.hubspot.side.window import HUBSPOT_CREATED
from ledgerbridge.qbo.side.window import QBO_CREATED
from ledgerbridge.sync.rules import (
    SYNC_STARTED,
    Direction,
    Filter,
    FilterOperator,
    ObjectPair,
    SyncRule,
)

OBJECTS: dict[str, ObjectPair] = {
    "contacts": ObjectPair.CONTACTS_CUSTOMERS,
    "products": ObjectPair.PRODUCTS_ITEMS,
    "invoices": ObjectPair.INVOICES_INVOICES,
}
TIME_PROPERTIES = frozenset(
    {"@updated_at", QBO_CREATED, "MetaData.LastUpdatedTime"}
    | {"createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate"}
)
WINDOW_LABEL = "Backfill: created on or after"
EDGE = dt.timedelta(milliseconds=1)


def window_start(since: dt.date) -> dt.datetime:
    return dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)


def _time_window(flt: Filter) -> bool:
    dated = flt.property in TIME_PROPERTIES or flt.value == SYNC_STARTED
    return flt.operator in (FilterOperator.AFTER, FilterOperator.BEFORE) and dated


def window_filter(pair: ObjectPair, source: System, since: dt.date) -> Filter:
    prop = HUBSPOT_CREATED[pair] if source is System.HUBSPOT else QBO_CREATED
    return Filter(
        flow=Direction.flow_from(source),
        property=prop,
        operator=FilterOperator.AFTER,
        value=(window_start(since) - EDGE).isoformat(),
        label=f"{WINDOW_LABEL} {since.isoformat()}",
    )


def window_of(rule: SyncRule, side: System) -> Filter | None:
    """The backfill window filter of `side` in a `backfill_rule` (None: not a source)."""
    found = (f for f in rule.filters_for(side) if (f.label or "").startswith(WINDOW_LABEL))
    return next(found, None)


def backfill_rule(rule: SyncRule, since: dt.date) -> SyncRule:
    """`rule` without its time-window filters, with the backfill window instead."""
    keep = tuple(f for f in rule.filters if not _time_window(f))
    window = tuple(
        window_filter(rule.object_pair, s, since) for s in sorted(rule.direction.sources)
    )
    return rule.model_copy(update={"filters": (*keep, *window), "enabled": True})
