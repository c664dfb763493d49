"""Webhooks: signed with the verifier token, both formats, batching, retries on failure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from ledgerbridge.sandbox.qbo import CompanySettings, QboSandboxConfig, WebhookSettings, create_app
from tests.sandbox.qbo.conftest import AUTH, REALM, Api

VERIFIER = "verifier-123"


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.fail_first = fail_first
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            self.calls.append((await request.body(), dict(request.headers)))
            if len(self.calls) <= self.fail_first:
                return Response(status_code=503)
            return Response(status_code=200)


def _valid(body: bytes, signature: str) -> bool:
    expected = hmac.new(VERIFIER.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64decode(signature), expected)


async def _setup(receiver: Receiver, **webhook: Any) -> AsyncIterator[tuple[Api, FastAPI]]:
    config = QboSandboxConfig(
        realms={REALM: CompanySettings()},
        webhook=WebhookSettings(
            url="http://receiver.test/hook",
            verifier_token=VERIFIER,
            retry_schedule=[0, 0],
            **webhook,
        ),
    )
    hook_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app))
    app = create_app(config, webhook_client=hook_client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://qbo.test", headers=AUTH
    ) as http:
        yield Api(http), app
    await hook_client.aclose()


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


async def test_legacy_notification_is_signed(receiver: Receiver) -> None:
    async for api, app in _setup(receiver):
        customer = await api.customer("Hooked")
        await app.state.sandbox.webhooks.drain()
        assert len(receiver.calls) == 1
        body, headers = receiver.calls[0]
        assert _valid(body, headers["intuit-signature"])
        payload = json.loads(body)
        note = payload["eventNotifications"][0]
        assert note["realmId"] == REALM
        assert note["dataChangeEvent"]["entities"] == [
            {
                "name": "Customer",
                "id": customer["Id"],
                "operation": "Create",
                "lastUpdated": customer["MetaData"]["LastUpdatedTime"],
            }
        ]
        # python-quickbooks' own validator agrees.
        from quickbooks import QuickBooks

        qb = QuickBooks(minorversion=75, verifier_token=VERIFIER)
        assert qb.validate_webhook_signature(body.decode(), headers["intuit-signature"])
        assert not _valid(body + b" ", headers["intuit-signature"])


async def test_every_operation_notifies(receiver: Receiver) -> None:
    async for api, app in _setup(receiver):
        customer = await api.customer("Ops")
        item = await api.item("Ops item")
        invoice = await api.invoice(customer["Id"], item["Id"])
        await api.ok(
            "Invoice", {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "x"}
        )
        await api.ok("Invoice", {"Id": invoice["Id"], "SyncToken": "1"}, operation="void")
        await api.ok("Invoice", {"Id": invoice["Id"], "SyncToken": "2"}, operation="delete")
        await app.state.sandbox.webhooks.drain()
        ops = [
            (e["name"], e["operation"])
            for body, _ in receiver.calls
            for n in json.loads(body)["eventNotifications"]
            for e in n["dataChangeEvent"]["entities"]
        ]
        assert ops == [
            ("Customer", "Create"),
            ("Item", "Create"),
            ("Invoice", "Create"),
            ("Invoice", "Update"),
            ("Invoice", "Void"),
            ("Invoice", "Delete"),
        ]


async def test_cloudevents_format_and_batch_window(receiver: Receiver) -> None:
    async for api, app in _setup(receiver, format="cloudevents", batch_window_seconds=0.05):
        first = await api.customer("Cloud One")
        second = await api.customer("Cloud Two")
        await app.state.sandbox.webhooks.drain()
        assert len(receiver.calls) == 1  # both events in one delivery
        body, headers = receiver.calls[0]
        assert _valid(body, headers["intuit-signature"])
        events = json.loads(body)
        assert [e["intuitentityid"] for e in events] == [first["Id"], second["Id"]]
        assert events[0]["type"] == "qbo.customer.created.v1"
        assert events[0]["specversion"] == "1.0"
        assert events[0]["intuitaccountid"] == REALM


async def test_retry_on_failure_and_delivery_log() -> None:
    receiver = Receiver(fail_first=2)
    async for api, app in _setup(receiver):
        await api.customer("Retry me")
        await app.state.sandbox.webhooks.drain()
        assert len(receiver.calls) == 3
        assert receiver.calls[0][0] == receiver.calls[2][0]
        log = (await api.http.get("/_sandbox/webhooks/deliveries")).json()
        assert [(d["attempt"], d["status"]) for d in log] == [(1, 503), (2, 503), (3, 200)]
        await api.http.delete("/_sandbox/webhooks/deliveries")
        assert (await api.http.get("/_sandbox/webhooks/deliveries")).json() == []


async def test_gives_up_after_the_schedule() -> None:
    receiver = Receiver(fail_first=10)
    async for api, app in _setup(receiver):
        await api.customer("Never")
        await app.state.sandbox.webhooks.drain()
        assert len(receiver.calls) == 3  # first try + 2 retries
