from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from hubspot.utils.signature import Signature

from ledgerbridge.sandbox.hubspot import HubSpotSandboxConfig, create_app
from ledgerbridge.sandbox.hubspot.app import Sandbox

from .conftest import AUTH

TARGET = "http://receiver.test/hooks"


def _receiver(statuses: list[int]) -> tuple[FastAPI, list[dict[str, Any]]]:
    app = FastAPI()
    seen: list[dict[str, Any]] = []

    @app.post("/hooks")
    async def hooks(request: Request) -> Response:
        seen.append({"body": (await request.body()).decode(), "headers": dict(request.headers)})
        return Response(status_code=statuses.pop(0) if statuses else 204)

    return app, seen


def _sandbox(app: FastAPI) -> Sandbox:
    sandbox: Sandbox = app.state.sandbox
    return sandbox


async def test_subscriptions_batching_and_signature() -> None:
    receiver, seen = _receiver([])
    config = HubSpotSandboxConfig(
        webhook_batch_size=2, app_client_secret="s3cret", webhook_retry_schedule=()
    )
    app = create_app(config, transport=httpx.ASGITransport(app=receiver))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://h", headers=AUTH
    ) as c:
        r = await c.put(f"/webhooks/v3/{config.app_id}/settings", json={"targetUrl": TARGET})
        assert r.status_code == 200
        r = await c.post(
            f"/webhooks/v3/{config.app_id}/subscriptions",
            json={"eventType": "object.creation", "objectTypeId": "0-53", "active": True},
        )
        assert r.status_code == 201
        state = _sandbox(app).state
        # Written with no await in between, so all events fall into one delivery window.
        for _ in range(5):
            state.create("invoices", {"hs_currency": "USD"})
        state.create("contacts", {"email": "no@hook.com"})
        await _sandbox(app).settle()
    assert [len(json.loads(s["body"])) for s in seen] == [2, 2, 1]
    events = [e for s in seen for e in json.loads(s["body"])]
    assert {e["subscriptionType"] for e in events} == {"object.creation"}
    assert {e["objectTypeId"] for e in events} == {"0-53"}
    assert all(e["changeSource"] == "INTEGRATION" and e["portalId"] for e in events)
    first = seen[0]
    assert Signature.is_valid(
        signature=first["headers"]["x-hubspot-signature-v3"],
        client_secret="s3cret",
        request_body=first["body"],
        http_uri=TARGET,
        signature_version="v3",
        timestamp=first["headers"]["x-hubspot-request-timestamp"],
    )


async def test_failed_delivery_is_retried_with_attempt_number() -> None:
    receiver, seen = _receiver([500, 503])
    config = HubSpotSandboxConfig(webhook_target_url=TARGET, webhook_retry_schedule=(0.0, 0.0, 0.0))
    app = create_app(config, transport=httpx.ASGITransport(app=receiver))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://h", headers=AUTH
    ) as c:
        await c.post("/crm/v3/objects/products", json={"properties": {"name": "x"}})
        await _sandbox(app).settle()
        log = (await c.get("/_sandbox/webhooks/deliveries")).json()["results"]
    assert [d["status"] for d in log] == [500, 503, 204]
    assert [json.loads(s["body"])[0]["attemptNumber"] for s in seen] == [0, 1, 2]


async def test_no_retry_on_400_and_property_change_events() -> None:
    receiver, seen = _receiver([400])
    config = HubSpotSandboxConfig(webhook_target_url=TARGET, webhook_retry_schedule=(0.0, 0.0))
    app = create_app(config, transport=httpx.ASGITransport(app=receiver))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://h", headers=AUTH
    ) as c:
        r = await c.post("/crm/v3/objects/deals", json={"properties": {"dealname": "d"}})
        await _sandbox(app).settle()
        assert len(seen) == 1
        await c.post(
            f"/webhooks/v3/{config.app_id}/subscriptions",
            json={
                "eventType": "object.propertyChange",
                "objectTypeId": "0-3",
                "propertyName": "dealname",
                "active": True,
            },
        )
        await c.patch(
            f"/crm/v3/objects/deals/{r.json()['id']}", json={"properties": {"dealname": "e"}}
        )
        await _sandbox(app).settle()
    event = json.loads(seen[-1]["body"])[0]
    assert (event["propertyName"], event["propertyValue"]) == ("dealname", "e")
    assert event["objectId"] == int(r.json()["id"])
