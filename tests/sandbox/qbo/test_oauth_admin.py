"""OAuth 2.0 token endpoint, the admin API, seeding, persistence and the CLI config."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
from typer.testing import CliRunner

from ledgerbridge.sandbox.qbo import (
    CompanySettings,
    FakeClock,
    QboSandboxConfig,
    Sandbox,
    create_app,
)
from ledgerbridge.sandbox.qbo.cli import build_config
from tests.sandbox.qbo.conftest import BASE, REALM, Api

BASIC = "Basic " + base64.b64encode(b"sandbox-client-id:sandbox-client-secret").decode()


async def test_authorization_code_refresh_rotation_and_expiry(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    redirect = "http://app.test/callback"
    auth = await client.get(
        "/connect/oauth2",
        params={
            "client_id": "sandbox-client-id",
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "state": "xyz",
        },
    )
    assert auth.status_code == 302
    query = parse_qs(urlparse(auth.headers["location"]).query)
    assert query["state"] == ["xyz"] and query["realmId"] == [REALM]
    token = await client.post(
        "/oauth2/v1/tokens/bearer",
        headers={"Authorization": BASIC},
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect,
        },
    )
    assert token.status_code == 200
    issued = token.json()
    assert issued["token_type"] == "bearer" and issued["expires_in"] == 3600
    assert issued["x_refresh_token_expires_in"] > 0
    reuse = await client.post(
        "/oauth2/v1/tokens/bearer",
        headers={"Authorization": BASIC},
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect,
        },
    )
    assert reuse.status_code == 400 and reuse.json() == {"error": "invalid_grant"}
    bearer = {"Authorization": f"Bearer {issued['access_token']}"}
    assert (await client.get(f"{BASE}/preferences", headers=bearer)).status_code == 200
    clock.advance(3601)
    expired = await client.get(f"{BASE}/preferences", headers=bearer)
    assert expired.status_code == 401
    assert expired.json()["fault"]["error"][0]["detail"] == "Token expired"
    refreshed = await client.post(
        "/oauth2/v1/tokens/bearer",
        headers={"Authorization": BASIC},
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != issued["refresh_token"]  # rotated
    again = await client.post(
        "/oauth2/v1/tokens/bearer",
        headers={"Authorization": BASIC},
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
    )
    assert again.status_code == 400
    bad_client = await client.post(
        "/oauth2/v1/tokens/bearer", data={"grant_type": "refresh_token", "refresh_token": "x"}
    )
    assert bad_client.status_code == 401
    new_bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await client.get(f"{BASE}/preferences", headers=new_bearer)).status_code == 200


async def test_static_token_can_be_turned_off(client: httpx.AsyncClient) -> None:
    await client.patch("/_sandbox/config", json={"static_token": None})
    assert (await client.get(f"{BASE}/preferences")).status_code == 401


async def test_admin_config_realms_reset_and_clock(
    client: httpx.AsyncClient, api: Api, sandbox: Sandbox
) -> None:
    knobs = (await client.get("/_sandbox/config")).json()
    assert knobs["rate_limits"]["requests_per_minute"] == 500
    assert "oauth_client_secret" not in knobs
    patched = await client.patch(
        "/_sandbox/config",
        json={"faults": {"latency_seconds": 0.0}, "rate_limits": {"concurrent": 3}},
    )
    assert patched.json()["rate_limits"]["concurrent"] == 3
    assert sandbox.limiter.settings.concurrent == 3
    bad = await client.patch("/_sandbox/config", json={"faults": {"nope": 1}})
    assert bad.status_code == 422
    await api.customer("Gone after reset")
    reset = await client.post(f"/_sandbox/realms/{REALM}/reset", json={})
    assert reset.json()["counts"].get("Customer", 0) == 0
    new_realm = await client.post(
        "/_sandbox/realms/2000000002/reset", json={"settings": {"country": "GB"}, "seed": 3}
    )
    assert new_realm.json()["counts"]["Customer"] == 18
    realms = (await client.get("/_sandbox/realms")).json()
    assert realms["2000000002"]["country"] == "GB"
    moved = await client.post("/_sandbox/clock", json={"advance_seconds": 60})
    assert moved.json()["now"] == "2026-03-02T15:01:00+00:00"


async def test_seed_is_realistic_and_deterministic() -> None:
    def build(seed: int) -> Sandbox:
        config = QboSandboxConfig(realms={REALM: CompanySettings()}, seed=seed, clock=FakeClock())
        sandbox: Sandbox = create_app(config).state.sandbox
        return sandbox

    one, two = build(5), build(5)
    realm = one.realms[REALM]
    assert realm.objects == two.realms[REALM].objects
    customers = list(realm.table("Customer").values())
    assert all(c.get("PrimaryEmailAddr", {}).get("Address") for c in customers)
    companies = [c["CompanyName"] for c in customers if "CompanyName" in c]
    assert len(companies) > len(set(companies))  # some share a company name
    items = list(realm.table("Item").values())
    assert any("Sku" in i for i in items) and any("Sku" not in i for i in items)
    invoices = list(realm.table("Invoice").values())
    balances = {(i["Balance"] == 0, i["Balance"] == i["TotalAmt"]) for i in invoices}
    assert (True, False) in balances and (False, True) in balances and (False, False) in balances
    assert any(i.get("EmailStatus") == "EmailSent" for i in invoices)
    assert realm.voided and realm.deleted.get("Invoice")
    assert realm.table("Payment")


async def test_state_persists_across_restart(tmp_path: Path) -> None:
    path = tmp_path / "qbo.json"
    config = QboSandboxConfig(realms={REALM: CompanySettings()}, state_file=path)
    app = create_app(config)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://qbo.test",
        headers={"Authorization": "Bearer sandbox"},
    ) as http:
        created = await Api(http).customer("Persistent Pat")
        await Api(http).ok("Customer", {"DisplayName": "Idem"}, requestid="keep-1")
    assert path.exists()
    restarted = create_app(QboSandboxConfig(realms={REALM: CompanySettings()}, state_file=path))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=restarted),
        base_url="http://qbo.test",
        headers={"Authorization": "Bearer sandbox"},
    ) as http:
        api = Api(http)
        again = await api.get("Customer", created["Id"])
        assert again == created
        replay = await api.post("Customer", {"DisplayName": "Idem"}, requestid="keep-1")
        assert replay.status_code == 200
        nxt = await api.customer("Next")
        assert int(nxt["Id"]) > int(created["Id"])


def test_cli_config_and_command_registered() -> None:
    config = build_config(
        realms=["1", "2"],
        token="t",
        seed=4,
        country="ca",
        custom_txn_numbers=True,
        rate_429=0.1,
        requests_per_minute=0,
    )
    assert set(config.realms) == {"1", "2"}
    assert config.realms["1"].country == "CA" and config.realms["1"].home_currency == "CAD"
    assert config.realms["2"].custom_txn_numbers is True
    assert config.static_token == "t" and config.seed == 4
    assert config.faults.rate_429 == 0.1 and config.rate_limits.requests_per_minute == 0
    from ledgerbridge.cli import app

    result = CliRunner().invoke(app, ["sandbox", "qbo", "--help"])
    assert result.exit_code == 0
    assert "--seed" in result.output and "--port" in result.output
