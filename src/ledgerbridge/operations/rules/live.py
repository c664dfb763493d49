"""The rules service of a stored connection, with its live accounts (one-shot commands)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ledgerbridge.errors import ConnectionNotFoundError, NoConnectionError
from ledgerbridge.operations.rules.fields import LiveAccounts
from ledgerbridge.operations.rules.service import RulesService
from ledgerbridge.runtime.clients import build_clients
from ledgerbridge.runtime.connection import pick_connection
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store

NOT_CONNECTED = "connection {id} is not connected to both accounts yet"


def offline_service(store: Store, connection_id: int | None) -> RulesService:
    """The service without accounts (reading, exporting, the history)."""
    return RulesService(store, pick_connection(store, connection_id))


@asynccontextmanager
async def live_service(
    store: Store,
    settings: Settings,
    connection_id: int | None = None,
) -> AsyncIterator[RulesService]:
    """The service of a connection (the first when None) with its live HubSpot portal and
    QBO company, for changes; the clients are closed on exit."""
    cid = pick_connection(store, connection_id)
    with store.begin() as tx:
        row = tx.get_connection(cid)
    if row is None:
        raise ConnectionNotFoundError(f"there is no connection {cid}")
    if not row.hubspot_portal_id or not row.qbo_realm_id:
        raise NoConnectionError(NOT_CONNECTED.format(id=cid))
    clients = build_clients(row, settings=settings, store=store)
    try:
        yield RulesService(store, cid, accounts=LiveAccounts(clients.hubspot, clients.qbo))
    finally:
        await clients.aclose()
