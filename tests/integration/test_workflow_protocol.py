"""Workflow action protocol end to end: the signed execution endpoint (forged or stale → 401,
nothing written; BLOCK then callback) and the idempotent registration of the definitions
(R-WF-1), at `ledgerbridge run` start too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from ledgerbridge.hubspot.actions import ActionKind
from ledgerbridge.hubspot.webhooks import sign_v3
from ledgerbridge.operations.workflow_actions import register_definitions
from ledgerbridge.runtime.workflow_actions import register_at_start
from ledgerbridge.settings import Settings
from ledgerbridge.store import workflow_runs
from ledgerbridge.store.configured import open_store
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.web.actions import actions_router
from ledgerbridge.web.app import create_web_app
from tests.integration.conftest import configured_sandboxes
from tests.integration.workflow_rig import (
    APP_SECRET,
    ENGINE_URL,
    WIDGET,
    Rig,
    make_contact,
    make_deal,
    make_item,
    open_rig,
    qbo_counts,
)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(tmp_path) as running:
        running.save_rule(wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS))
        yield running


def _execution(callback_id: str, deal: str) -> bytes:
    return json.dumps(
        {
            "callbackId": callback_id,
            "origin": {"portalId": 62515, "actionDefinitionId": 1},
            "context": {"source": "WORKFLOWS", "workflowId": 1},
            "object": {"objectId": int(deal), "objectType": "DEAL", "properties": {}},
            "inputFields": {"create_product_if_missing": "true"},
        }
    ).encode()


async def _post_signed(
    rig: Rig,
    body: bytes,
    *,
    secret: str,
    age_ms: int = 0,
    signed_url: str | None = None,
    app: Any = None,
) -> httpx.Response:
    url = f"{ENGINE_URL}/actions/hubspot/invoice"
    timestamp = str(int(rig.time.clock() * 1000) - age_ms)
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": timestamp,
        "X-HubSpot-Signature-v3": sign_v3("POST", signed_url or url, body, timestamp, secret),
    }
    transport = httpx.ASGITransport(app=app or rig.web)
    async with httpx.AsyncClient(transport=transport) as client:
        return await client.post(url, content=body, headers=headers)


async def test_r_wf_forged_or_stale_execution_is_refused_and_writes_nothing(rig: Rig) -> None:
    deal = await make_deal(rig, await make_contact(rig), WIDGET)
    before = await qbo_counts(rig)

    forged = await _post_signed(rig, _execution("cb-forged", deal), secret="not-the-secret")
    stale = await _post_signed(
        rig, _execution("cb-stale", deal), secret=APP_SECRET, age_ms=6 * 60 * 1000
    )
    await rig.service.drain()

    assert (forged.status_code, stale.status_code) == (401, 401)
    assert await qbo_counts(rig) == before
    with rig.store.begin() as tx:
        assert workflow_runs.list_runs(tx, rig.connection_id) == []


async def test_r_wf_signed_execution_answers_block_then_completes(rig: Rig) -> None:
    await make_item(rig, "Widget", "W-1", "40")
    deal = await make_deal(rig, await make_contact(rig), WIDGET)

    answer = await _post_signed(rig, _execution("cb-direct", deal), secret=APP_SECRET)
    await rig.service.drain()

    assert answer.status_code == 200
    assert answer.json() == {"outputFields": {"hs_execution_state": "BLOCK"}}
    with rig.store.begin() as tx:
        run = workflow_runs.get_run(tx, rig.connection_id, "cb-direct")
    assert run is not None and run.status is workflow_runs.RunStatus.SUCCEEDED
    assert [i["Id"] for i in await rig.qbo_all("Invoice")] == [run.qbo_id]


async def test_r_wf_1_definitions_are_registered_idempotently(rig: Rig) -> None:
    listed = await rig.hubspot_client().session.request(
        "GET", f"/automation/v4/actions/{rig.hubspot.config.app_id}"
    )
    revisions = {d["id"]: d["revisionId"] for d in listed["results"]}
    labels = sorted(d["labels"]["en"]["actionName"] for d in listed["results"])

    again = await register_definitions(rig.hubspot_client(), "100001", ENGINE_URL)
    relisted = await rig.hubspot_client().session.request("GET", "/automation/v4/actions/100001")

    assert again == rig.definitions
    assert {d["id"]: d["revisionId"] for d in relisted["results"]} == revisions
    assert labels == [
        "Create QuickBooks estimate",
        "Create QuickBooks expense",
        "Create QuickBooks invoice",
        "Create QuickBooks paid invoice",
        "Create QuickBooks refund receipt",
        "Create QuickBooks sales receipt",
    ]
    invoice = next(d for d in listed["results"] if d["id"] == rig.definitions[ActionKind.INVOICE])
    inputs = {f["typeDefinition"]["name"] for f in invoice["inputFields"]}
    assert {"qbo_company", "payment_terms", "customer_contact_id", "product"} <= inputs
    assert "create_product_if_missing" in inputs
    assert invoice["objectTypes"] == ["DEAL", "QUOTE"]


async def test_r_wf_1_run_start_registers_definitions_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with configured_sandboxes(tmp_path, monkeypatch, []) as (_db, hubspot_url, _qbo):
        settings = Settings()
        store = open_store(settings)
        try:
            first = await register_at_start(store, settings, "100001", "https://lb.example")
            second = await register_at_start(store, settings, "100001", "https://lb.example")
            missing = await register_at_start(store, settings, None, "https://lb.example")
        finally:
            store.close()
        async with httpx.AsyncClient(headers={"Authorization": "Bearer sandbox"}) as client:
            listing = (await client.get(f"{hubspot_url}/automation/v4/actions/100001")).json()

    assert first == second == "workflow actions registered on HubSpot app 100001 (6 actions)"
    assert "set [hubspot] app_id" in missing
    urls = sorted(d["actionUrl"] for d in listing["results"])
    assert urls == sorted(f"https://lb.example/actions/hubspot/{k.value}" for k in ActionKind)
    assert {d["revisionId"] for d in listing["results"]} == {"1"}


async def test_r_wf_signature_over_the_public_url_is_accepted_behind_a_proxy(rig: Rig) -> None:
    """HubSpot signs the registered action URL (`public_url`); behind a proxy the request
    arrives with another scheme or host."""
    await make_item(rig, "Widget", "W-1", "40")
    deal = await make_deal(rig, await make_contact(rig), WIDGET)
    proxied = create_web_app(
        rig.store,
        routers=[
            actions_router(
                rig.service,
                SecretStr(APP_SECRET),
                public_url="https://lb.example",
                now=rig.time.now,
            )
        ],
    )
    public = "https://lb.example/actions/hubspot/invoice"

    accepted = await _post_signed(
        rig, _execution("cb-proxy", deal), secret=APP_SECRET, signed_url=public, app=proxied
    )
    elsewhere = await _post_signed(
        rig,
        _execution("cb-other", deal),
        secret=APP_SECRET,
        signed_url="https://evil.example/actions/hubspot/invoice",
        app=proxied,
    )
    await rig.service.drain()

    assert accepted.status_code == 200 and elsewhere.status_code == 401
    with rig.store.begin() as tx:
        assert [r.callback_id for r in workflow_runs.list_runs(tx, rig.connection_id)] == [
            "cb-proxy"
        ]
