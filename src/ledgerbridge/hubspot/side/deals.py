"""HubSpot deals for the R-INV-6 roll-up (`sync.deals.DealPort`) on the HubSpot connector.

- which deals each invoice is associated with, and which invoices each deal is:
  associations v4 batch read (invoices → deals, deals → invoices), ≤1000 ids a call;
- the deals' roll-up properties: batch read (deals deleted meanwhile are left out);
- writes: one batch update of the properties that differ.

The custom deal properties (`sync.deals.DEAL_PROPERTIES`) are created with
`ensure_property` the first time deals are read (once per instance).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.sync.deals import DEAL_PROPERTIES, DEALS
from ledgerbridge.sync.errors import ErrorCategory, SyncError, TerminalError


class HubSpotDeals:
    """`DealPort` for one HubSpot portal."""

    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        self._ready = False

    async def ensure_properties(self) -> None:
        if self._ready:
            return
        for prop in DEAL_PROPERTIES:
            await self.client.ensure_property(
                DEALS,
                prop.name,
                prop.label,
                prop.type,
                prop.field_type,
                description="Set by ledgerbridge from the most recently updated QBO invoice.",
            )
        self._ready = True

    async def invoice_deals(self, invoice_ids: Sequence[str]) -> dict[str, list[str]]:
        if not invoice_ids:
            return {}
        return await self.client.batch_read_associations("invoices", DEALS, invoice_ids)

    async def deal_invoices(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        if not deal_ids:
            return {}
        return await self.client.batch_read_associations(DEALS, "invoices", deal_ids)

    async def read_deals(self, deal_ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
        if not deal_ids:
            return {}
        await self.ensure_properties()
        names = [p.name for p in DEAL_PROPERTIES]
        result = await self.client.batch_read(DEALS, deal_ids, names)
        return {
            r.id: {name: r.get(name) for name in names} for r in result.records if not r.archived
        }

    async def write_deals(
        self, updates: Sequence[tuple[str, Mapping[str, str]]]
    ) -> list[SyncError | None]:
        if not updates:
            return []
        await self.ensure_properties()
        result = await self.client.batch_update(DEALS, [(i, dict(p)) for i, p in updates])
        items = list(result.items)
        out: list[SyncError | None] = [item.error for item in items[: len(updates)]]
        missing = TerminalError(ErrorCategory.UNKNOWN, "HubSpot did not answer for this deal")
        out += [missing] * (len(updates) - len(out))
        return out
