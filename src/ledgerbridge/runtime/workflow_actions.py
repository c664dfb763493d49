"""Workflow actions in `ledgerbridge run` and `ledgerbridge demo` (R-WF).

* `clients_factory(settings, store)`: the `ClientsFactory` of the execution service: the
  stored connection's HubSpot and QBO clients (`runtime.clients.build_clients`), opened for
  one execution and closed after it.
* `register_at_start(...)`: create or update the action definitions on the HubSpot app
  (idempotent), with the first active connection's HubSpot client; the action URLs are
  `{public_url}/actions/hubspot/{action}`.
* `DEMO_FLOWS` / `define_demo_flows(runner, definitions)`: the demo's example flows, one
  of each action, on the HubSpot sandbox's flow runner.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter
from pydantic import SecretStr

from ledgerbridge.hubspot.actions import ActionKind
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.operations.workflow_actions import (
    ClientsFactory,
    WorkflowActionService,
    register_definitions,
)
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.runtime.clients import build_clients
from ledgerbridge.settings import Settings
from ledgerbridge.store import ConnectionRow, ConnectionStatus, Store
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.web.actions import actions_router

__all__ = [
    "DEMO_FLOWS",
    "clients_factory",
    "define_demo_flows",
    "register_at_start",
    "wire_actions",
]

log = logging.getLogger(__name__)


def clients_factory(settings: Settings, store: Store) -> ClientsFactory:
    def open_clients(
        connection: ConnectionRow,
    ) -> AbstractAsyncContextManager[tuple[HubSpotClient, QboClient]]:
        @asynccontextmanager
        async def opened() -> AsyncIterator[tuple[HubSpotClient, QboClient]]:
            clients = build_clients(connection, settings=settings, store=store)
            try:
                yield clients.hubspot, clients.qbo
            finally:
                await clients.aclose()

        return opened()

    return open_clients


class _Runtime(Protocol):
    def add_listener(self, listener: Callable[[int, BaseException | None], None]) -> None: ...


def wire_actions(
    store: Store,
    settings: Settings,
    runtime: _Runtime,
    client_secret: SecretStr | None,
    public_url: str | None = None,
) -> APIRouter:
    """The execution endpoint's router; the runtime's passes trigger the association of
    synced workflow invoices (R-WF-4)."""
    service = WorkflowActionService(store, clients_factory(settings, store))
    runtime.add_listener(service.after_pass)
    return actions_router(service, client_secret, public_url=public_url)


async def register_at_start(
    store: Store, settings: Settings, app_id: str | None, public_url: str
) -> str:
    """Register the definitions; a one-line note of what happened (never raises for a
    HubSpot refusal: the sync runs on without workflow actions)."""
    if not app_id:
        return "workflow actions are not registered: set [hubspot] app_id in the settings"
    with store.begin() as tx:
        rows = [c for c in tx.list_connections() if c.status is ConnectionStatus.ACTIVE]
    rows = [c for c in rows if c.qbo_realm_id]
    if not rows:
        return "workflow actions are not registered: no active connection"
    try:
        clients = build_clients(rows[0], settings=settings, store=store)
    except (SyncError, ValueError) as error:
        return f"workflow actions could not be registered: {error}"
    try:
        ids = await register_definitions(clients.hubspot, app_id, public_url)
    except SyncError as error:
        return f"workflow actions could not be registered: {error.detail}"
    finally:
        await clients.aclose()
    return f"workflow actions registered on HubSpot app {app_id} ({len(ids)} actions)"


PAYMENT_SUCCEEDED = {"propertyName": "hs_latest_status", "operator": "EQ", "value": "succeeded"}

DEMO_FLOWS: list[tuple[ActionKind, str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        ActionKind.INVOICE,
        "Invoice for a deal with a payment link",
        "deals",
        [{"propertyName": "hs_payment_link", "operator": "HAS_PROPERTY"}],
        {"payment_terms": "Net 30", "create_product_if_missing": "true"},
    ),
    (
        ActionKind.ESTIMATE,
        "Estimate for an e-signed quote",
        "quotes",
        [{"propertyName": "hs_esign_completed", "operator": "EQ", "value": "true"}],
        {"create_product_if_missing": "true"},
    ),
    (
        ActionKind.SALES_RECEIPT,
        "Sales receipt for a quote payment",
        "commerce_payments",
        [
            PAYMENT_SUCCEEDED,
            {"propertyName": "hs_payment_source", "operator": "EQ", "value": "quote"},
        ],
        {"create_product_if_missing": "true"},
    ),
    (
        ActionKind.PAID_INVOICE,
        "Paid invoice for a payment-link payment",
        "commerce_payments",
        [
            PAYMENT_SUCCEEDED,
            {"propertyName": "hs_payment_source", "operator": "EQ", "value": "payment_link"},
        ],
        {"create_product_if_missing": "true"},
    ),
    (
        ActionKind.EXPENSE,
        "Expense for the fees of a payment",
        "commerce_payments",
        [PAYMENT_SUCCEEDED, {"propertyName": "hs_processing_fee", "operator": "GT", "value": "0"}],
        {},
    ),
    (
        ActionKind.REFUND_RECEIPT,
        "Refund receipt for a refunded payment",
        "commerce_payments",
        [{"propertyName": "hs_latest_status", "operator": "EQ", "value": "refunded"}],
        {"create_product_if_missing": "true"},
    ),
]


def define_demo_flows(runner: Any, definitions: dict[ActionKind, str]) -> list[str]:
    """Define the example flows on the sandbox's flow runner (`sandbox.workflows`); their ids.
    Flows already defined under the same name are kept (a demo with a state file)."""
    existing = {flow["name"] for flow in runner.sandbox.state.flows.values()}
    ids: list[str] = []
    for kind, name, object_type, filters, inputs in DEMO_FLOWS:
        if name in existing:
            continue
        flow = runner.define_flow(
            {
                "name": name,
                "objectType": object_type,
                "enrollmentFilter": {"filterGroups": [{"filters": filters}]},
                "actions": [{"definitionId": definitions[kind], "inputFields": inputs}],
            }
        )
        ids.append(str(flow["id"]))
    return ids
