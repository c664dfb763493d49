"""The chaos run's fault injectors: time-outs after commit, and webhook deliveries that are
sent and replayed to the engine's endpoints (see `tests/chaos/chaos.py`)."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import httpx
from pydantic import SecretStr

from ledgerbridge.hubspot.webhooks import sign_v3
from ledgerbridge.qbo.webhooks import sign as qbo_sign
from ledgerbridge.store.directory import StoreDirectory
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.auth import WebSecurity, allowed_host_names
from ledgerbridge.web.pages.common import DashboardContext
from ledgerbridge.web.webhooks import WebhookSecrets, webhook_router
from tests.integration.harness import DEFAULT_REALM, Lab

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class TimeoutAfterCommit(httpx.AsyncBaseTransport):
    """Forwards every request; while `rate` > 0 a write's answer is dropped after the
    sandbox committed it, and the client gets `ReadTimeout` instead."""

    def __init__(self, inner: httpx.AsyncBaseTransport, rng: random.Random) -> None:
        self.inner, self.rng, self.rate, self.timeouts = inner, rng, 0.0, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        writes = request.method in WRITES or request.url.path.endswith("/batch")
        if writes and self.rate and self.rng.random() < self.rate:
            await response.aread()
            self.timeouts += 1
            raise httpx.ReadTimeout("the answer came after the client gave up", request=request)
        return response


class Webhooks:
    """Signed webhook deliveries to the engine's endpoints, replayed: a delivery only wakes
    a pass (counted) and never writes to the store; a stale or forged one is refused."""

    SECRET, VERIFIER = "chaos-app-secret", "chaos-verifier"

    def __init__(self, lab: Lab) -> None:
        self.lab, self.woken, self.sent, self.refused = lab, 0, 0, 0
        router = webhook_router(
            directory=StoreDirectory(lab.store),
            wake=self.wake,
            secrets=WebhookSecrets(SecretStr(self.SECRET), SecretStr(self.VERIFIER)),
        )
        # The engine's public name, as a deployment lists it in `allowed_hosts`.
        names = allowed_host_names("127.0.0.1", ["engine.test"])
        dashboard = DashboardContext(lab.store, security=WebSecurity(allowed_hosts=names))
        app = create_web_app(lab.store, routers=[router], dashboard=dashboard)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://engine.test"
        )
        self.replays: list[tuple[str, bytes, dict[str, str], int]] = []
        """(path, body, headers, the answer expected: 200 accepted, 401 refused)."""

    def wake(self, connection_id: int, pairs: object, known: object = None) -> None:
        self.woken += 1

    def state(self) -> Any:
        with self.lab.store.begin() as tx:
            cid = self.lab.connection_id
            return (
                [(x.hubspot_id, x.qbo_id, x.hubspot_hash, x.qbo_hash) for x in tx.list_links(cid)],
                [(r.record_id, r.status, r.attempts) for r in tx.list_records(cid, limit=10**6)],
                len(tx.list_activity(cid, limit=10**6)),
            )

    def qbo(self, entity: str, entity_id: str) -> None:
        entities = [{"name": entity, "id": entity_id, "operation": "Update"}]
        body = json.dumps(
            {
                "eventNotifications": [
                    {"realmId": DEFAULT_REALM, "dataChangeEvent": {"entities": entities}}
                ]
            }
        ).encode()
        signature = {"intuit-signature": qbo_sign(body, self.VERIFIER)}
        self.replays.append(("/webhooks/qbo", body, signature, 200))

    def hubspot(self, object_id: str, *, age_ms: int = 0) -> None:
        event = {
            "portalId": 1,
            "occurredAt": 1,
            "subscriptionType": "contact.propertyChange",
            "objectId": int(object_id),
            "eventId": 1,
            "subscriptionId": 1,
            "appId": 1,
        }
        body = json.dumps([event]).encode()
        stamp = str(int(time.time() * 1000) - age_ms)
        url = "http://engine.test/webhooks/hubspot"
        headers = {
            "X-HubSpot-Signature-v3": sign_v3("POST", url, body, stamp, self.SECRET),
            "X-HubSpot-Request-Timestamp": stamp,
        }
        self.replays.append(("/webhooks/hubspot", body, headers, 401 if age_ms > 300_000 else 200))

    async def deliver(self, rng: random.Random) -> None:
        """Deliver every queued webhook, then replay some of them; between each, the store
        must not change. Stale HubSpot deliveries must be refused."""
        batch = self.replays + rng.sample(self.replays, min(len(self.replays), 3))
        self.replays = []
        for path, body, headers, expected in batch:
            before = self.state()
            response = await self.client.post(path, content=body, headers=headers)
            self.sent += 1
            assert response.status_code == expected, (path, response.status_code, expected)
            self.refused += response.status_code == 401
            assert self.state() == before, "a webhook changed the store"
