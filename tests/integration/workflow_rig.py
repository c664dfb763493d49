"""A rig for workflow action tests: both sandboxes and the engine's web app, in process.

The HubSpot sandbox's flow runner calls the engine's `/actions/hubspot/{action}` through
an ASGI transport (signed with the app secret); the engine calls both sandboxes through
another. Time is virtual (`harness.VirtualTime`). `settle()` runs flows until every
execution finished: sandbox deliveries, then the engine's background executions (which
complete their callbacks), then the sandbox again.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from ledgerbridge.hubspot.actions import ActionKind
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.operations.workflow_actions import WorkflowActionService, register_definitions
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.hubspot.config import HubSpotSandboxConfig
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.sandbox.qbo.config import DEFAULT_REALM, CompanySettings, QboSandboxConfig
from ledgerbridge.store import ConnectionRow, Store, TokenCipher, generate_key
from ledgerbridge.store.state import save_rule
from ledgerbridge.sync.rules import SyncRule
from ledgerbridge.transport.oauth import StaticToken
from ledgerbridge.transport.retry import RetryPolicy
from ledgerbridge.web.actions import actions_router
from ledgerbridge.web.app import create_web_app
from tests.integration.harness import VirtualTime, _Router

HUBSPOT_URL = "http://hubspot.sandbox"
QBO_URL = "http://qbo.sandbox"
ENGINE_URL = "http://engine.local"
APP_SECRET = "workflow-test-app-secret"
Obj = dict[str, Any]


@dataclass
class Rig:
    time: VirtualTime
    http: httpx.AsyncClient
    hubspot: Any  # the HubSpot sandbox (`app.state.sandbox`)
    qbo: Any  # the QBO sandbox
    store: Store
    connection_id: int
    service: WorkflowActionService
    web: Any  # the engine's web app
    definitions: dict[ActionKind, str]

    def hubspot_client(self) -> HubSpotClient:
        return HubSpotClient(
            self.http,
            StaticToken("sandbox"),
            base_url=HUBSPOT_URL,
            retry=RetryPolicy(max_attempts=3, rng=random.Random(1)),
            clock=self.time.clock,
            sleep=self.time.sleep,
        )

    def qbo_client(self) -> QboClient:
        return QboClient(
            self.http,
            realm_id=DEFAULT_REALM,
            tokens=StaticToken("sandbox"),
            base_url=QBO_URL,
            retry=RetryPolicy(max_attempts=3, rng=random.Random(1)),
            sleep=self.time.sleep,
            clock=self.time.clock,
        )

    def save_rule(self, rule: SyncRule) -> None:
        with self.store.begin() as tx:
            save_rule(tx, self.connection_id, rule)

    async def settle(self) -> None:
        for _ in range(5):
            await self.hubspot.settle()
            if not self.service._tasks:
                return
            await self.service.drain()

    # ---- HubSpot, acting as a user ----

    async def hs_create(self, obj: str, **props: str) -> str:
        self.time.advance(1)
        response = await self.http.post(
            f"{HUBSPOT_URL}/_sandbox/objects/{obj}", json={"properties": props}
        )
        response.raise_for_status()
        return str(response.json()["id"])

    async def hs_update(self, obj: str, record_id: str, **props: str) -> None:
        self.time.advance(1)
        response = await self.http.patch(
            f"{HUBSPOT_URL}/_sandbox/objects/{obj}/{record_id}", json={"properties": props}
        )
        response.raise_for_status()

    async def associate(self, a: str, a_id: str, b: str, b_id: str, type_id: int) -> None:
        response = await self.http.put(
            f"{HUBSPOT_URL}/_sandbox/associations/{a}/{a_id}/{b}/{b_id}/{type_id}"
        )
        response.raise_for_status()

    async def define_flow(
        self, object_type: str, kind: ActionKind, filters: list[Obj], inputs: Obj | None = None
    ) -> str:
        body = {
            "name": f"{kind.value} on {object_type}",
            "objectType": object_type,
            "enrollmentFilter": {"filterGroups": [{"filters": filters}]},
            "actions": [{"definitionId": self.definitions[kind], "inputFields": inputs or {}}],
        }
        response = await self.http.post(f"{HUBSPOT_URL}/_sandbox/flows", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    async def executions(self, flow_id: str) -> list[Obj]:
        response = await self.http.get(
            f"{HUBSPOT_URL}/_sandbox/flows/executions", params={"flowId": flow_id}
        )
        response.raise_for_status()
        results: list[Obj] = response.json()["results"]
        return results

    async def redeliver(self, callback_id: str) -> Obj:
        response = await self.http.post(
            f"{HUBSPOT_URL}/_sandbox/flows/callbacks/{callback_id}/redeliver"
        )
        response.raise_for_status()
        answer: Obj = response.json()
        return answer

    # ---- QBO ----

    async def qbo_all(self, entity: str) -> list[Obj]:
        where = " WHERE Active IN (true, false)" if entity in ("Customer", "Item") else ""
        return await self.qbo_client().query_all(f"SELECT * FROM {entity}{where}")

    async def qbo_create(self, entity: str, body: Obj, request_id: str) -> Obj:
        return await self.qbo_client().create(entity, body, request_id=request_id)


@contextlib.asynccontextmanager
async def open_rig(tmp_path: Path, *, country: str = "US") -> AsyncIterator[Rig]:
    time = VirtualTime()
    qbo_config = QboSandboxConfig(
        clock=time, realms={DEFAULT_REALM: CompanySettings(country=country)}
    )
    qb_app = qbo_app(qbo_config)
    store = Store.open(
        f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()), clock=time.now
    )
    hs_config = HubSpotSandboxConfig(clock=time.clock, random_seed=7, app_client_secret=APP_SECRET)
    with store.begin() as tx:
        connection_id = tx.create_connection(
            name="workflows",
            hubspot_base_url=HUBSPOT_URL,
            qbo_base_url=QBO_URL,
            hubspot_portal_id=str(hs_config.portal_id),
            qbo_realm_id=DEFAULT_REALM,
        )
    rig_ref: list[Rig] = []

    @contextlib.asynccontextmanager
    async def clients(_row: ConnectionRow) -> AsyncIterator[tuple[HubSpotClient, QboClient]]:
        yield rig_ref[0].hubspot_client(), rig_ref[0].qbo_client()

    service = WorkflowActionService(store, clients, clock=time.now)
    web = create_web_app(
        store, routers=[actions_router(service, SecretStr(APP_SECRET), now=time.now)]
    )
    hs_app = hubspot_app(hs_config, transport=httpx.ASGITransport(app=web))
    transport = _Router({HUBSPOT_URL: hs_app, QBO_URL: qb_app})
    try:
        async with httpx.AsyncClient(transport=transport, timeout=30.0) as http:
            rig = Rig(
                time,
                http,
                hs_app.state.sandbox,
                qb_app.state.sandbox,
                store,
                connection_id,
                service,
                web,
                {},
            )
            rig_ref.append(rig)
            rig.definitions = await register_definitions(
                rig.hubspot_client(), str(hs_config.app_id), ENGINE_URL
            )
            yield rig
            await service.drain()
    finally:
        store.close()


# ---- records and flows used by the workflow action tests ----

PAYMENT_LINK = [{"propertyName": "hs_payment_link", "operator": "HAS_PROPERTY"}]
ESIGNED = [{"propertyName": "hs_esign_completed", "operator": "EQ", "value": "true"}]
SUCCEEDED = [{"propertyName": "hs_latest_status", "operator": "EQ", "value": "succeeded"}]
REFUNDED = [{"propertyName": "hs_latest_status", "operator": "EQ", "value": "refunded"}]


async def make_item(rig: Rig, name: str, sku: str, price: str) -> str:
    income = await rig.qbo_client().query_all("SELECT * FROM Account WHERE AccountType = 'Income'")
    body = {
        "Name": name,
        "Sku": sku,
        "Type": "Service",
        "UnitPrice": price,
        "IncomeAccountRef": {"value": income[0]["Id"]},
    }
    return str((await rig.qbo_create("Item", body, f"item-{sku}"))["Id"])


async def make_contact(rig: Rig, **props: str) -> str:
    base = {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com"}
    return await rig.hs_create("contacts", **{**base, **props})


async def add_lines(rig: Rig, parent: str, parent_id: str, type_id: int, *lines: Obj) -> None:
    for line in lines:
        line_id = await rig.hs_create("line_items", **line)
        await rig.associate(parent, parent_id, "line_items", line_id, type_id)


WIDGET = {"name": "Widget", "hs_sku": "W-1", "price": "40", "quantity": "2"}
GADGET = {"name": "Gadget", "hs_sku": "G-1", "price": "15", "quantity": "1"}


async def make_deal(rig: Rig, contact: str, *lines: Obj) -> str:
    deal = await rig.hs_create("deals", dealname="Big deal", amount="95")
    await rig.associate("deals", deal, "contacts", contact, 3)
    await add_lines(rig, "deals", deal, 19, *lines)
    return deal


async def make_payment(rig: Rig, contact: str, *lines: Obj, **props: str) -> str:
    base = {
        "hs_initial_amount": "95",
        "hs_currency_code": "USD",
        "hs_latest_status": "processing",
        "hs_payment_source": "payment_link",
        "hs_processor_type": "hubspot_payments",
        "hs_processing_fee": "2.95",
        "hs_platform_fee": "0.50",
        "hs_initiated_date": "2026-01-14",
    }
    payment = await rig.hs_create("commerce_payments", **{**base, **props})
    await rig.associate("commerce_payments", payment, "contacts", contact, 393)
    for line in lines:
        line_id = await rig.hs_create("line_items", **line)
        await rig.associate("line_items", line_id, "commerce_payments", payment, 396)
    return payment


async def only_step(rig: Rig, flow: str) -> Obj:
    await rig.settle()
    executions = await rig.executions(flow)
    assert len(executions) == 1, executions
    assert executions[0]["status"] == "COMPLETED", executions[0]
    step: Obj = executions[0]["actions"][0]
    return step


def failed(step: Obj, *fragments: str) -> None:
    assert step["state"] == "FAIL_CONTINUE", step
    message = step["outputFields"]["error_message"]
    for fragment in fragments:
        assert fragment in message, message


async def qbo_counts(rig: Rig) -> dict[str, int]:
    entities = ("Invoice", "Estimate", "SalesReceipt", "Payment", "Purchase", "RefundReceipt")
    counts = {e: len(await rig.qbo_all(e)) for e in entities}
    counts["Customer"] = len(await rig.qbo_all("Customer"))
    counts["Item"] = len(await rig.qbo_all("Item"))
    return counts
