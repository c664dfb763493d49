"""The flow runner re-sends an execution with its original callbackId (as HubSpot does after a
time-out), and accepts a completion that arrives before the app's BLOCK answer."""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any

import httpx
from fastapi import FastAPI, Request

from ledgerbridge.sandbox.hubspot import HubSpotSandboxConfig, create_app
from ledgerbridge.sandbox.hubspot.app import Sandbox

from .conftest import AUTH

ACTION_URL = "http://integration.test/actions/run"
LINK = {"propertyName": "hs_payment_link", "operator": "HAS_PROPERTY"}


async def _trigger(client: httpx.AsyncClient, deal: str) -> None:
    r = await client.patch(
        f"/crm/v3/objects/deals/{deal}", json={"properties": {"hs_payment_link": "x"}}
    )
    assert r.status_code == 200, r.text


async def _setup(endpoint: FastAPI) -> tuple[FastAPI, httpx.AsyncClient, str]:
    config = HubSpotSandboxConfig(app_client_secret="wf-secret")
    app = create_app(config, transport=httpx.ASGITransport(app=endpoint))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://h", headers=AUTH
    )
    r = await client.post(
        f"/automation/v4/actions/{config.app_id}",
        json={
            "actionUrl": ACTION_URL,
            "objectTypes": ["DEAL"],
            "inputFields": [],
            "labels": {"en": {"actionName": "Run"}},
        },
    )
    flow = await client.post(
        "/_sandbox/flows",
        json={
            "objectType": "deals",
            "enrollmentFilter": {"filterGroups": [{"filters": [LINK]}]},
            "actions": [{"definitionId": r.json()["id"]}],
        },
    )
    assert flow.status_code == 201, flow.text
    deal = await client.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"}})
    return app, client, str(deal.json()["id"])


def _sandbox(app: FastAPI) -> Sandbox:
    sandbox: Sandbox = app.state.sandbox
    return sandbox


async def test_redeliver_resends_the_same_payload_and_keeps_the_execution_state() -> None:
    bodies: list[dict[str, Any]] = []
    endpoint = FastAPI()

    @endpoint.post("/actions/run")
    async def run(request: Request) -> dict[str, Any]:
        bodies.append(json.loads(await request.body()))
        return {"outputFields": {"qbo_id": str(len(bodies))}}

    app, client, deal = await _setup(endpoint)
    async with aclosing(client):
        await _trigger(client, deal)
        await _sandbox(app).settle()
        (execution,) = (await client.get("/_sandbox/flows/executions")).json()["results"]
        callback_id = execution["actions"][0]["callbackId"]
        again = await client.post(f"/_sandbox/flows/callbacks/{callback_id}/redeliver")
        missing = await client.post("/_sandbox/flows/callbacks/nope/redeliver")
        (after,) = (await client.get("/_sandbox/flows/executions")).json()["results"]

    assert again.status_code == 200
    assert again.json()["outputFields"] == {"qbo_id": "2"}
    assert again.json()["httpStatus"] == 200 and again.json()["delivered"] is True
    assert missing.status_code == 404
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert bodies[1]["callbackId"] == callback_id
    step = after["actions"][0]
    assert step["outputFields"] == {"qbo_id": "1"}  # the execution's own outcome is kept
    assert [r["outputFields"] for r in step["redeliveries"]] == [{"qbo_id": "2"}]


async def test_completion_that_beats_the_block_answer_is_kept() -> None:
    endpoint = FastAPI()
    holder: dict[str, httpx.AsyncClient] = {}

    @endpoint.post("/actions/run")
    async def run(request: Request) -> dict[str, Any]:
        callback_id = json.loads(await request.body())["callbackId"]
        done = await holder["client"].post(
            f"/automation/v4/actions/callbacks/{callback_id}/complete",
            json={"outputFields": {"hs_execution_state": "SUCCESS", "qbo_id": "9"}},
        )
        assert done.status_code == 204, done.text
        return {"outputFields": {"hs_execution_state": "BLOCK"}}

    app, client, deal = await _setup(endpoint)
    holder["client"] = client
    async with aclosing(client):
        await _trigger(client, deal)
        await _sandbox(app).settle()
        (execution,) = (await client.get("/_sandbox/flows/executions")).json()["results"]
        callback_id = execution["actions"][0]["callbackId"]
        late = await client.post(
            f"/automation/v4/actions/callbacks/{callback_id}/complete",
            json={"outputFields": {"hs_execution_state": "SUCCESS"}},
        )

    assert execution["status"] == "COMPLETED"
    assert execution["actions"][0]["outputFields"]["qbo_id"] == "9"
    assert late.status_code == 404  # a finished execution takes no second completion
