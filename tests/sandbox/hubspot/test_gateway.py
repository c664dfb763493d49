"""Rate limits, fault injection, OAuth, admin knobs, seed and persistence."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerbridge.sandbox.hubspot import HubSpotSandboxConfig, create_app
from ledgerbridge.sandbox.hubspot.cli import build_config

from .conftest import AUTH, FakeClock, sandbox_of


def _client(config: HubSpotSandboxConfig, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(config)),
        base_url="http://hubspot.test",
        headers=headers or AUTH,
    )


async def test_ten_second_burst_limit(clock: FakeClock) -> None:
    async with _client(HubSpotSandboxConfig(clock=clock)) as c:
        for i in range(190):
            r = await c.get("/crm/v3/objects/contacts")
            assert r.status_code == 200, i
        assert r.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert r.headers["X-HubSpot-RateLimit-Max"] == "190"
        r = await c.get("/crm/v3/objects/contacts")
        assert r.status_code == 429
        body = r.json()
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["errorType"] == "RATE_LIMIT" and body["correlationId"]
        assert r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert "Retry-After" in r.headers
        clock.advance(10.0)
        assert (await c.get("/crm/v3/objects/contacts")).status_code == 200


async def test_daily_limit(clock: FakeClock) -> None:
    async with _client(HubSpotSandboxConfig(clock=clock, rate_limit_daily=3)) as c:
        for _ in range(3):
            assert (await c.get("/crm/v3/objects/deals")).status_code == 200
        r = await c.get("/crm/v3/objects/deals")
        assert r.status_code == 429
        assert r.json()["policyName"] == "DAILY"
        assert r.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
        clock.advance(86_400)
        assert (await c.get("/crm/v3/objects/deals")).status_code == 200


async def test_injected_faults_and_admin_knobs(client: httpx.AsyncClient) -> None:
    r = await client.patch("/_sandbox/config", json={"fault_500_rate": 1.0})
    assert r.json()["knobs"]["fault_500_rate"] == 1.0
    r = await client.get("/crm/v3/objects/contacts")
    assert r.status_code == 500
    await client.patch("/_sandbox/config", json={"fault_500_rate": 0, "fault_429_rate": 1})
    r = await client.get("/crm/v3/objects/contacts")
    assert r.status_code == 429
    await client.patch("/_sandbox/config", json={"fault_429_rate": 0})
    assert (await client.get("/crm/v3/objects/contacts")).status_code == 200
    assert (await client.patch("/_sandbox/config", json={"portal_id": 1})).status_code == 400


async def test_timeout_after_commit_commits_then_hangs(client: httpx.AsyncClient) -> None:
    await client.patch(
        "/_sandbox/config", json={"timeout_after_commit_rate": 1.0, "hang_seconds": 30}
    )
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            client.post("/crm/v3/objects/contacts", json={"properties": {"email": "t@o.com"}}),
            timeout=0.2,
        )
    state = sandbox_of(client).state
    assert [r.properties["email"] for r in state.live("contacts")] == ["t@o.com"]


async def test_oauth_code_refresh_and_expiry(clock: FakeClock) -> None:
    config = HubSpotSandboxConfig(clock=clock)
    async with _client(config, **{"X-Test": "1"}) as c:
        r = await c.get(
            "/oauth/authorize",
            params={
                "client_id": config.oauth_client_id,
                "redirect_uri": "http://app/cb",
                "state": "s",
            },
        )
        assert r.status_code == 302
        code = httpx.URL(r.headers["location"]).params["code"]
        form = {
            "grant_type": "authorization_code",
            "client_id": config.oauth_client_id,
            "client_secret": config.oauth_client_secret,
            "redirect_uri": "http://app/cb",
            "code": code,
        }
        r = await c.post("/oauth/v1/token", data=form)
        tokens = r.json()
        assert tokens["expires_in"] == 1800 and tokens["token_type"] == "bearer"
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await c.get("/crm/v3/objects/contacts", headers=bearer)).status_code == 200
        assert (await c.post("/oauth/v1/token", data=form)).json()["status"] == "BAD_AUTH_CODE"
        clock.advance(1801)
        assert (await c.get("/crm/v3/objects/contacts", headers=bearer)).status_code == 401
        r = await c.post(
            "/oauth/v1/token",
            data={**form, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert (await c.get("/crm/v3/objects/contacts", headers=fresh)).status_code == 200


def test_seed_fills_a_realistic_portal() -> None:
    state = create_app(HubSpotSandboxConfig(seed=7)).state.sandbox.state
    contacts = state.live("contacts")
    assert any("email" in c.properties for c in contacts)
    assert any("email" not in c.properties for c in contacts)
    products = state.live("products")
    assert any("hs_sku" in p.properties for p in products)
    assert any("hs_sku" not in p.properties for p in products)
    statuses = {i.properties["hs_invoice_status"] for i in state.live("invoices")}
    assert statuses == {"draft", "open", "paid", "voided"}
    assert all(i.properties["hs_invoice_source"] == "hubspot" for i in state.live("invoices"))
    assert any(p.properties.get("hs_processing_fee") for p in state.live("commerce_payments"))
    assert all(state.associated("deals", d.id, "line_items") for d in state.live("deals"))
    again = create_app(HubSpotSandboxConfig(seed=7)).state.sandbox.state
    assert _content(again.to_json()) == _content(state.to_json())


def _content(data: dict[str, Any]) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Objects without their (wall-clock) timestamps."""
    stamps = {"createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate"}
    stamps |= {"hs_invoice_date", "hs_due_date", "hs_payment_date", "hs_voided_date"}
    return {
        name: [
            (r["id"], {k: v for k, v in r["properties"].items() if k not in stamps}) for r in rows
        ]
        for name, rows in data["objects"].items()
    }


def test_state_persists_to_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hubspot.json"
    app = create_app(HubSpotSandboxConfig(seed=3, state_file=path))
    sandbox = app.state.sandbox
    sandbox.save()
    reloaded = create_app(HubSpotSandboxConfig(state_file=path)).state.sandbox.state
    assert reloaded.to_json() == sandbox.state.to_json()


def test_cli_options_build_the_config() -> None:
    config = build_config(port=9999, token="t", seed=5, fault_500_rate=0.5)
    assert (config.static_token, config.seed, config.fault_500_rate) == ("t", 5, 0.5)
    assert config.base_url.endswith(":9999")
