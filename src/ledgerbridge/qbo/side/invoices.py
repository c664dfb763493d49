"""QBO invoice specifics for the engine's QBO side (R-PRD-3, R-CON-6, R-INV-4).

- The "Custom line item" item takes invoice lines that match no QBO item
  (R-PRD-3). `custom_line_item(rule)` finds it by name (one query, cached; that it
  is absent is cached for `ABSENT_FOR`, so a backfill's passes ask once); with
  `create=True` it creates it on first need, as a Service item on the income
  account chosen in the invoice rule (`InvoiceSettings.custom_line_item_income_account`,
  else the company's first income account), with a `requestid` derived from the
  realm, so two passes never create two.
- Custom fields: QBO identifies an invoice custom field by `DefinitionId`; the
  mapping names it (`CustomField:PO number`). The ids come from
  `Preferences.SalesFormsPrefs.CustomField` (`SalesCustomName<n>` → "<n>"); a name
  QBO does not list is sent by name only.
- Voids: `QboClient.void` (`operation=void`; the SyncToken is re-read on 5010).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ledgerbridge.qbo.changes import ql_string
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.ids import request_id_for
from ledgerbridge.sync.errors import ErrorCategory, TerminalError
from ledgerbridge.sync.payloads import CUSTOM_LINE_ITEM_NAME
from ledgerbridge.sync.rules import SyncRule

Obj = dict[str, Any]
ABSENT_FOR = 60.0
"""Seconds a "no Custom line item" answer is trusted (a user may create it meanwhile;
creating it ourselves always asks again first)."""


def custom_field_ids(preferences: Mapping[str, Any]) -> dict[str, str]:
    """Custom field name → DefinitionId, from QBO's sales form preferences."""
    found: dict[str, str] = {}
    sales = preferences.get("SalesFormsPrefs") or {}
    for group in sales.get("CustomField") or ():
        inner = group.get("CustomField") if isinstance(group, Mapping) else None
        for field in inner or ():
            name = str(field.get("Name") or "") if isinstance(field, Mapping) else ""
            if "SalesCustomName" in name and field.get("StringValue"):
                found[str(field["StringValue"])] = name.rsplit("SalesCustomName", 1)[1]
    return found


class QboInvoices:
    """Invoice helpers on one QBO company."""

    def __init__(
        self,
        client: QboClient,
        income_account: Callable[[], Awaitable[str]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.income_account = income_account
        self.clock = clock
        self._custom_item: str | None = None
        self._absent_at: float | None = None
        self._field_ids: dict[str, str] | None = None
        self._looking = asyncio.Lock()

    async def custom_line_item(self, rule: SyncRule, *, create: bool = False) -> str | None:
        """The item's id (None: absent, asked again after `ABSENT_FOR`). Passes that ask
        at the same time (a backfill's pipeline) share one query."""
        async with self._looking:
            return await self._custom_line_item(rule, create=create)

    async def _custom_line_item(self, rule: SyncRule, *, create: bool) -> str | None:
        if self._custom_item is not None:
            return self._custom_item
        absent = self._absent_at
        if not create and absent is not None and self.clock() - absent < ABSENT_FOR:
            return None
        rows = await self.client.query_all(
            f"SELECT * FROM Item WHERE Name = {ql_string(CUSTOM_LINE_ITEM_NAME)}", page_size=10
        )
        if rows:
            self._custom_item = str(rows[0]["Id"])
        elif not create:
            self._absent_at = self.clock()
        else:
            configured = rule.invoice.custom_line_item_income_account if rule.invoice else None
            account = await self._account_id(configured) if configured else None
            account = account or await self.income_account()
            body = {
                "Name": CUSTOM_LINE_ITEM_NAME,
                "Type": "Service",
                "IncomeAccountRef": {"value": account},
            }
            request_id = request_id_for("custom-line-item", self.client.realm_id)
            created = await self.client.create("Item", body, request_id=request_id)
            self._custom_item = str(created["Id"])
        return self._custom_item

    async def _account_id(self, configured: str) -> str:
        """The id of the account the user chose, given as its QBO id or its name."""
        if configured.isdigit():
            return configured
        rows = await self.client.query_all(
            f"SELECT * FROM Account WHERE Name = {ql_string(configured)}", page_size=10
        )
        if not rows:
            raise TerminalError(
                ErrorCategory.VALIDATION,
                f"the invoice rule's income account {configured!r} does not exist in "
                "QuickBooks; choose an income account by its name or id",
            )
        return str(rows[0]["Id"])

    async def with_custom_field_ids(self, body: Obj) -> Obj:
        """`body` with each custom field's DefinitionId filled in when QBO lists it."""
        fields = body.get("CustomField")
        if not fields:
            return body
        if self._field_ids is None:
            self._field_ids = custom_field_ids(await self.client.preferences())
        filled = []
        for field in fields:
            definition = self._field_ids.get(str(field.get("Name")))
            filled.append({**field, "DefinitionId": definition} if definition else field)
        return {**body, "CustomField": filled}

    async def void(self, invoice_id: str, sync_token: str | None, request_id: str) -> Obj:
        return await self.client.void(
            "Invoice", invoice_id, sync_token or "0", request_id=request_id
        )
