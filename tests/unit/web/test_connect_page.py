"""Connecting from the Connections page: the OAuth flow through both sandboxes' consent
endpoints and back to the dashboard's own callback, over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from ledgerbridge.domain import System
from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.settings import HubSpotSettings, QboSettings, Settings
from ledgerbridge.store import ConnectionStatus, Store
from ledgerbridge.store.accounts import list_audit
from ledgerbridge.store.configured import open_store
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.pages.common import DashboardContext
from tests.support.servers import free_port, serve_in_thread
from tests.support.signin import hidden, sign_in

CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    port = free_port()
    hubspot = hubspot_app(hubspot_cli.build_config(port=port))
    qbo = qbo_app(qbo_cli.build_config(token=None))
    engine = free_port()
    with serve_in_thread(hubspot, port) as hubspot_url, serve_in_thread(qbo) as qbo_url:
        yield Settings(
            database_url=f"sqlite:///{tmp_path / 'state.db'}",
            key_file=tmp_path / "ledgerbridge.key",
            port=engine,
            hubspot=HubSpotSettings(
                base_url=hubspot_url,
                client_id=CLIENT_ID,
                client_secret=SecretStr(CLIENT_SECRET),
                redirect_uri=f"http://127.0.0.1:{engine}/oauth/hubspot/callback",
            ),
            qbo=QboSettings(
                base_url=qbo_url,
                token_url=f"{qbo_url}/oauth2/v1/tokens/bearer",
                authorize_url=f"{qbo_url}/connect/oauth2",
                client_id=CLIENT_ID,
                client_secret=SecretStr(CLIENT_SECRET),
                redirect_uri=f"http://127.0.0.1:{engine}/oauth/qbo/callback",
            ),
        )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings)
    yield store
    store.close()


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_web_app(store, dashboard=DashboardContext(store, settings))
    with serve_in_thread(app, settings.port) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield client


async def connect(client: httpx.AsyncClient, csrf: str, service: str) -> httpx.Response:
    return await client.post(
        f"/connections/connect/{service}", data={"csrf_token": csrf}, follow_redirects=True
    )


async def test_connect_both_services_from_the_connections_page(
    client: httpx.AsyncClient, store: Store
) -> None:
    csrf = await sign_in(client, store)
    page = await connect(client, csrf, "hubspot")
    assert page.status_code == 200, page.text
    assert str(page.url).endswith("/connections?connected=hubspot")
    assert "Connected HubSpot" in page.text
    with store.begin() as tx:
        (row,) = tx.list_connections()
        assert row.hubspot_portal_id is not None
        assert tx.load_tokens(row.id, System.HUBSPOT) is not None
        assert row.status is ConnectionStatus.NEEDS_REAUTH  # QuickBooks still to connect
    csrf = hidden(page.text, "csrf_token")
    page = await connect(client, csrf, "qbo")
    assert page.status_code == 200, page.text
    with store.begin() as tx:
        (row,) = tx.list_connections()
        actions = [(e.action, e.target) for e in list_audit(tx)]
    assert row.qbo_realm_id is not None
    assert row.status is ConnectionStatus.ACTIVE
    assert ("connect", "hubspot") in actions and ("connect", "qbo") in actions


async def test_a_callback_the_dashboard_did_not_start_is_refused(
    client: httpx.AsyncClient, store: Store
) -> None:
    await sign_in(client, store)
    answer = await client.get(
        "/oauth/hubspot/callback",
        params={"state": "forged", "code": "x"},
        headers={"Accept": "text/html"},
    )
    assert answer.status_code == 400
    assert "was not started here or has expired" in answer.text
    with store.begin() as tx:
        assert tx.list_connections() == []
