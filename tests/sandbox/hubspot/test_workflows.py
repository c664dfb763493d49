from __future__ import annotations

import hashlib
import json
from contextlib import aclosing
from typing import Any

import httpx
from fastapi import FastAPI, Request

from ledgerbridge.sandbox.hubspot import HubSpotSandboxConfig, create_app
from ledgerbridge.sandbox.hubspot.app import Sandbox

from .conftest import AUTH

ACTION_URL = "http://integration.test/actions/create-invoice"


def _action_endpoint(answers: list[dict[str, Any]]) -> tuple[FastAPI, list[dict[str, Any]]]:
    app = FastAPI()
    calls: list[dict[str, Any]] = []

    @app.post("/actions/create-invoice")
    async def action(request: Request) -> dict[str, Any]:
        calls.append({"body": (await request.body()).decode(), "headers": dict(request.headers)})
        return answers.pop(0) if answers else {"outputFields": {"qbo_id": "42"}}

    return app, calls


async def _setup(
    answers: list[dict[str, Any]],
) -> tuple[FastAPI, httpx.AsyncClient, list[dict[str, Any]], str]:
    endpoint, calls = _action_endpoint(answers)
    config = HubSpotSandboxConfig(app_client_secret="wf-secret")
    app = create_app(config, transport=httpx.ASGITransport(app=endpoint))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://h", headers=AUTH
    )
    r = await client.post(
        f"/automation/v4/actions/{config.app_id}",
        json={
            "actionUrl": ACTION_URL,
            "published": True,
            "objectTypes": ["DEAL"],
            "inputFields": [
                {
                    "typeDefinition": {"name": "terms", "type": "string", "fieldType": "text"},
                    "supportedValueTypes": ["STATIC_VALUE"],
                    "isRequired": True,
                }
            ],
            "outputFields": [],
            "labels": {"en": {"actionName": "Create QuickBooks invoice"}},
            "objectRequestOptions": {"properties": ["dealname"]},
            "functions": [],
        },
    )
    assert r.status_code == 201, r.text
    definition_id = r.json()["id"]
    r = await client.post(
        "/_sandbox/flows",
        json={
            "objectType": "deals",
            "enrollmentFilter": {
                "filterGroups": [
                    {"filters": [{"propertyName": "hs_payment_link", "operator": "HAS_PROPERTY"}]}
                ]
            },
            "actions": [
                {
                    "definitionId": definition_id,
                    "inputFields": {"terms": "Net 30"},
                    "inputFieldProperties": {"deal_name": "dealname"},
                },
                {"definitionId": definition_id, "inputFields": {"terms": "again"}},
            ],
        },
    )
    assert r.status_code == 201, r.text
    return app, client, calls, definition_id


def _sandbox(app: FastAPI) -> Sandbox:
    sandbox: Sandbox = app.state.sandbox
    return sandbox


async def test_flow_runs_actions_when_a_record_starts_matching() -> None:
    app, client, calls, definition_id = await _setup([])
    async with aclosing(client):
        r = await client.post("/crm/v3/objects/deals", json={"properties": {"dealname": "Big"}})
        deal_id = r.json()["id"]
        await _sandbox(app).settle()
        assert calls == []
        await client.patch(
            f"/crm/v3/objects/deals/{deal_id}",
            json={"properties": {"hs_payment_link": "https://p"}},
        )
        await _sandbox(app).settle()
        executions = (await client.get("/_sandbox/flows/executions")).json()["results"]
    assert len(calls) == 2
    payload = json.loads(calls[0]["body"])
    assert payload["object"] == {
        "objectId": int(deal_id),
        "objectType": "DEAL",
        "properties": {"dealname": "Big"},
    }
    assert payload["inputFields"] == {"terms": "Net 30", "deal_name": "Big"}
    assert payload["origin"]["actionDefinitionId"] == int(definition_id)
    assert payload["callbackId"]
    expected = hashlib.sha256(f"wf-secretPOST{ACTION_URL}{calls[0]['body']}".encode()).hexdigest()
    assert calls[0]["headers"]["x-hubspot-signature"] == expected
    assert calls[0]["headers"]["x-hubspot-signature-version"] == "v2"
    assert [e["status"] for e in executions] == ["COMPLETED"]
    assert executions[0]["actions"][0]["outputFields"] == {"qbo_id": "42"}


async def test_blocked_action_completes_through_the_callback_endpoint() -> None:
    answers = [{"outputFields": {"hs_execution_state": "BLOCK"}}]
    app, client, calls, _ = await _setup(answers)
    async with aclosing(client):
        await client.post(
            "/crm/v3/objects/deals", json={"properties": {"dealname": "D", "hs_payment_link": "x"}}
        )
        await _sandbox(app).settle()
        execution = (await client.get("/_sandbox/flows/executions")).json()["results"][0]
        assert execution["status"] == "BLOCKED"
        assert len(calls) == 1
        callback_id = execution["actions"][0]["callbackId"]
        r = await client.post(
            f"/automation/v4/actions/callbacks/{callback_id}/complete",
            json={"outputFields": {"hs_execution_state": "SUCCESS", "qbo_id": "7"}},
        )
        assert r.status_code == 204
        await _sandbox(app).settle()
        execution = (await client.get("/_sandbox/flows/executions")).json()["results"][0]
        again = await client.post(
            f"/automation/v4/actions/callbacks/{callback_id}/complete", json={"outputFields": {}}
        )
    assert again.status_code == 404
    assert execution["status"] == "COMPLETED"
    assert execution["actions"][0]["outputFields"]["qbo_id"] == "7"
    assert len(calls) == 2


async def test_action_error_fails_the_execution() -> None:
    app, client, _calls, _ = await _setup([])
    _sandbox(app).transport = httpx.MockTransport(lambda request: httpx.Response(400, text="bad"))
    async with aclosing(client):
        await client.post(
            "/crm/v3/objects/deals", json={"properties": {"dealname": "D", "hs_payment_link": "x"}}
        )
        await _sandbox(app).settle()
        execution = (await client.get("/_sandbox/flows/executions")).json()["results"][0]
    assert execution["status"] == "FAILED"
    assert execution["actions"][0]["state"] == "ERROR"
    assert "400" in execution["actions"][0]["error"]
