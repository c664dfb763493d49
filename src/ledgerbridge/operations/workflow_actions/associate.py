"""R-WF-4: the document a workflow created is associated with the enrolled record.

HubSpot holds no estimates or receipts, but it holds invoices: once invoice sync has brought
a workflow's QBO invoice into HubSpot (a link QBO invoice ↔ HubSpot invoice), that HubSpot
invoice is associated with the deal or quote the workflow ran on. The runtime calls this
after every sync pass (`WorkflowActionService.after_pass`); each run is associated once.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.store import ConnectionRow, Store
from ledgerbridge.store import workflow_runs as runs

__all__ = ["associate_documents"]

ENROLLED = {"deal": "deals", "quote": "quotes"}


class _Clients(Protocol):
    def __call__(
        self, connection: ConnectionRow
    ) -> AbstractAsyncContextManager[tuple[HubSpotClient, QboClient]]: ...


async def associate_documents(store: Store, connection: ConnectionRow, clients: _Clients) -> int:
    """Associate every synced workflow invoice with its deal or quote; how many were."""

    def pending() -> list[tuple[runs.WorkflowRun, str]]:
        with store.begin() as tx:
            return runs.runs_to_associate(tx, connection.id)

    def mark(callback_id: str, invoice_id: str) -> None:
        with store.begin() as tx:
            runs.mark_associated(tx, connection.id, callback_id, invoice_id)

    todo = await asyncio.to_thread(pending)
    if not todo:
        return 0
    async with clients(connection) as (hubspot, _qbo):
        for run, invoice_id in todo:
            target = ENROLLED[run.object_type]
            await hubspot.associate_default("invoices", invoice_id, target, run.object_id)
            await asyncio.to_thread(mark, run.callback_id, invoice_id)
    return len(todo)
