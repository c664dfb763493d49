"""The backfill window of a HubSpot portal (`sync.window.WindowReader`): searches on the
creation date, ascending, 200 a page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ledgerbridge.hubspot.objects import HubSpotRecord, parse_timestamp
from ledgerbridge.hubspot.side.kinds import object_of
from ledgerbridge.sync.rules import ObjectPair, SyncRule
from ledgerbridge.sync.window import EPOCH, Entry, Span

if TYPE_CHECKING:
    from ledgerbridge.hubspot.side.port import HubSpotSide

HUBSPOT_CREATED = {
    ObjectPair.CONTACTS_CUSTOMERS: "createdate",
    ObjectPair.PRODUCTS_ITEMS: "createdate",
    ObjectPair.INVOICES_INVOICES: "hs_createdate",
}
"""The creation-date property of each object (what the window is read and filtered on)."""


class HubSpotWindow:
    """The window of a HubSpot portal: search on the creation date, ascending, 200 a page
    (never paged with `after`, so the 10,000-result cap of a search never applies)."""

    max_page = 200

    def __init__(self, side: HubSpotSide) -> None:
        self.side = side

    def floor(self, moment: dt.datetime) -> dt.datetime:
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    @staticmethod
    def _ms(moment: dt.datetime) -> str:
        return str(int(moment.timestamp() * 1000))

    def _filters(
        self, rule: SyncRule, op: str, at: dt.datetime, until: dt.datetime | None
    ) -> list[dict[str, Any]]:
        prop = HUBSPOT_CREATED[rule.object_pair]
        filters = [{"propertyName": prop, "operator": op, "value": self._ms(at)}]
        if until is not None:
            filters.append({"propertyName": prop, "operator": "LTE", "value": self._ms(until)})
        return filters

    async def _search(
        self, rule: SyncRule, filters: list[dict[str, Any]], sort: str, limit: int
    ) -> tuple[int, list[HubSpotRecord]]:
        props = [*self.side.properties(rule), HUBSPOT_CREATED[rule.object_pair], "hs_object_id"]
        sorts = [{"propertyName": sort, "direction": "ASCENDING"}]
        total, records, _ = await self.side.client.search_page(
            object_of(rule), [{"filters": filters}], sorts, list(dict.fromkeys(props)), limit=limit
        )
        return total, records

    async def _entries(
        self, span: Span, records: Sequence[HubSpotRecord], *, tie: bool = False
    ) -> list[Entry]:
        rule = span.rule
        wanted = [r for r in records if span.wanted(r.id)]
        if rule.object_pair is ObjectPair.INVOICES_INVOICES:
            decoded = [
                self.side.side_record(rule, r, lines)
                for r, lines in await self.side.invoices.enrich(wanted)
            ]
        else:
            decoded = [self.side.side_record(rule, r) for r in wanted]
        by_id = {r.ref.id: r for r in decoded}
        prop = HUBSPOT_CREATED[rule.object_pair]
        return [
            Entry(r.id, parse_timestamp(r.get(prop)) or r.created_at or EPOCH, by_id.get(r.id), tie)
            for r in records
        ]

    async def query(
        self, span: Span, after: dt.datetime, limit: int, *, strict: bool = False
    ) -> list[Entry]:
        rule = span.rule
        filters = self._filters(rule, "GT" if strict else "GTE", after, span.until)
        _, records = await self._search(rule, filters, HUBSPOT_CREATED[rule.object_pair], limit)
        return await self._entries(span, records)

    async def tie(self, span: Span, at: dt.datetime, *, after: str, limit: int) -> list[Entry]:
        filters = self._filters(span.rule, "EQ", at, None)
        if after:
            filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": after})
        _, page = await self._search(span.rule, filters, "hs_object_id", min(limit, self.max_page))
        return await self._entries(span, page, tie=True)

    async def count(self, span: Span, after: dt.datetime) -> int:
        rule = span.rule
        filters = self._filters(rule, "GTE", after, span.until)
        total, _ = await self._search(rule, filters, HUBSPOT_CREATED[rule.object_pair], 1)
        return total
