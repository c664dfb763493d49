"""Build the clients and the `SyncEngine` of one stored connection.

The runtime (embedded or distributed) owns the `HttpClient`s and the token
providers (`transport.oauth.OAuthTokenManager` over `Store.token_store(...)`, or a
`StaticToken` for the sandboxes); this module turns a connection row into a ready
engine:

    engine = build_engine(store, connection_id, hubspot_http=..., qbo_http=...,
                          hubspot_tokens=..., qbo_tokens=...)
    report = await engine.run_pass()             # or run_pass(dry_run=True)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from ledgerbridge.errors import ConnectionNotFoundError as ConnectionNotFoundError
from ledgerbridge.errors import NoConnectionError as NoConnectionError
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.side.deals import HubSpotDeals
from ledgerbridge.hubspot.side.port import HubSpotSide
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.side.port import QboSide
from ledgerbridge.settings import Settings
from ledgerbridge.store import ConnectionRow, Store
from ledgerbridge.store.state import StoreBatchJournal, StoreState
from ledgerbridge.sync.engine import SyncEngine, utc_now
from ledgerbridge.transport.http import HttpClient
from ledgerbridge.transport.oauth import TokenProvider


def load_connection(store: Store, connection_id: int) -> ConnectionRow:
    with store.begin() as tx:
        row = tx.get_connection(connection_id)
    if row is None:
        raise ConnectionNotFoundError(f"no connection with id {connection_id}")
    if not row.qbo_realm_id:
        raise ConnectionNotFoundError(f"connection {connection_id} has no QuickBooks company")
    return row


def engine_for_clients(
    store: Store,
    connection_id: int,
    *,
    hubspot: HubSpotClient,
    qbo: QboClient,
    clock: Callable[[], dt.datetime] = utc_now,
    hubspot_overlap: dt.timedelta = dt.timedelta(0),
    income_account: str | None = None,
) -> SyncEngine:
    """A `SyncEngine` over ready clients (tests inject clients with virtual time)."""
    return SyncEngine(
        hubspot=HubSpotSide(hubspot, overlap=hubspot_overlap),
        qbo=QboSide(
            qbo,
            clock=clock,
            income_account=income_account,
            journal=StoreBatchJournal(store, connection_id),
        ),
        state=StoreState(store, connection_id),
        clock=clock,
        deals=HubSpotDeals(hubspot),  # R-INV-6: deals follow their latest linked invoice
    )


def build_engine(
    store: Store,
    connection_id: int,
    *,
    hubspot_http: HttpClient,
    qbo_http: HttpClient,
    hubspot_tokens: TokenProvider,
    qbo_tokens: TokenProvider,
    clock: Callable[[], dt.datetime] = utc_now,
    hubspot_overlap: dt.timedelta = dt.timedelta(seconds=30),
    hubspot_options: dict[str, Any] | None = None,
    qbo_options: dict[str, Any] | None = None,
) -> SyncEngine:
    """The engine of stored connection `connection_id`, on the given HTTP clients.

    `hubspot_overlap` re-reads the last seconds of HubSpot changes (its search index
    lags writes); `*_options` go to the client constructors (limits, retries, sleep).
    """
    row = load_connection(store, connection_id)
    hubspot = HubSpotClient(
        hubspot_http, hubspot_tokens, base_url=row.hubspot_base_url, **(hubspot_options or {})
    )
    qbo = QboClient(
        qbo_http,
        realm_id=str(row.qbo_realm_id),
        tokens=qbo_tokens,
        base_url=row.qbo_base_url,
        **(qbo_options or {}),
    )
    income = row.options.get("income_account")
    return engine_for_clients(
        store,
        connection_id,
        hubspot=hubspot,
        qbo=qbo,
        clock=clock,
        hubspot_overlap=hubspot_overlap,
        income_account=str(income) if income else None,
    )


def pick_connection(store: Store, connection_id: int | None) -> int:
    """`connection_id`, or the first stored connection when it is None."""
    if connection_id is not None:
        return connection_id
    with store.begin() as tx:
        rows = tx.list_connections()
    if not rows:
        raise NoConnectionError("no connection is configured (run `ledgerbridge connect` first)")
    return rows[0].id


@asynccontextmanager
async def open_engine(
    store: Store,
    settings: Settings,
    connection_id: int | None = None,
    *,
    http: HttpClient | None = None,
) -> AsyncIterator[SyncEngine]:
    """The engine of a stored connection (the first one when `connection_id` is None) for a
    one-shot command (dry-run, reconcile, backfill); its clients are closed on exit."""
    from ledgerbridge.runtime.clients import build_clients

    row = load_connection(store, pick_connection(store, connection_id))
    clients = build_clients(row, settings=settings, store=store, http=http)
    try:
        income = row.options.get("income_account")
        yield engine_for_clients(
            store,
            row.id,
            hubspot=clients.hubspot,
            qbo=clients.qbo,
            income_account=str(income) if income else None,
        )
    finally:
        await clients.aclose()
