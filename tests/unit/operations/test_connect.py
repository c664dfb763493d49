"""`connect`: the OAuth authorization-code flow end to end against both sandboxes'
OAuth endpoints (over real sockets); the tokens end up encrypted in the store."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from ledgerbridge.domain.refs import System
from ledgerbridge.operations.connect import ConnectError, OAuthApp, connect, oauth_app
from ledgerbridge.runtime.clients import build_clients
from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.settings import HubSpotSettings, QboSettings, Settings
from ledgerbridge.store import ConnectionStatus, Store, schema
from ledgerbridge.store.configured import open_store
from ledgerbridge.transport.tokens import TokenSet
from tests.support.servers import free_port, serve_in_thread

CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[tuple[str, str]]:
    port = free_port()
    hubspot = hubspot_app(hubspot_cli.build_config(port=port))
    qbo = qbo_app(qbo_cli.build_config(token=None))  # OAuth only: no static token
    with serve_in_thread(hubspot, port) as hubspot_url, serve_in_thread(qbo) as qbo_url:
        yield hubspot_url, qbo_url


@pytest.fixture
def settings(tmp_path: Path, sandboxes: tuple[str, str]) -> Settings:
    hubspot_url, qbo_url = sandboxes
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        key_file=tmp_path / "ledgerbridge.key",
        hubspot=HubSpotSettings(
            base_url=hubspot_url,
            client_id=CLIENT_ID,
            client_secret=SecretStr(CLIENT_SECRET),
            redirect_uri=f"http://127.0.0.1:{free_port()}/oauth/hubspot/callback",
        ),
        qbo=QboSettings(
            base_url=qbo_url,
            token_url=f"{qbo_url}/oauth2/v1/tokens/bearer",
            authorize_url=f"{qbo_url}/connect/oauth2",
            client_id=CLIENT_ID,
            client_secret=SecretStr(CLIENT_SECRET),
            redirect_uri=f"http://127.0.0.1:{free_port()}/oauth/qbo/callback",
        ),
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings)
    yield store
    store.close()


class Browser:
    """Plays the user's browser: opens the authorize URL and follows the redirects."""

    def __init__(self) -> None:
        self.pages: list[httpx.Response] = []
        self.threads: list[threading.Thread] = []

    def open(self, url: str) -> None:
        def visit() -> None:
            self.pages.append(httpx.get(url, follow_redirects=True, timeout=10))

        thread = threading.Thread(target=visit)
        thread.start()
        self.threads.append(thread)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=10)


async def run_flow(
    app: OAuthApp, store: Store, settings: Settings, *, new: bool = False, name: str = "default"
) -> int:
    browser = Browser()
    try:
        return await connect(
            app, store, settings=settings, show=browser.open, wait_seconds=20, new=new, name=name
        )
    finally:
        browser.join()
        assert all(page.status_code == 200 for page in browser.pages)


def raw_token_columns(store: Store) -> tuple[str | None, str | None]:
    with store.engine.connect() as connection:
        row = connection.execute(
            select(schema.connections.c.hubspot_tokens, schema.connections.c.qbo_tokens)
        ).one()
    return row[0], row[1]


async def test_connect_both_services_stores_encrypted_tokens_and_activates(
    settings: Settings, store: Store
) -> None:
    cid = await run_flow(oauth_app(System.HUBSPOT, settings), store, settings)
    with store.begin() as tx:
        row = tx.get_connection(cid)
        hubspot_tokens = tx.load_tokens(cid, System.HUBSPOT)
    assert row is not None and hubspot_tokens is not None
    assert row.hubspot_portal_id == "62515"
    assert row.status is ConnectionStatus.NEEDS_REAUTH  # half set up: the runtime leaves it
    assert row.status_detail is not None and "connect qbo" in row.status_detail
    assert hubspot_tokens.access_token.startswith("sbx-at-")

    assert await run_flow(oauth_app(System.QUICKBOOKS, settings), store, settings) == cid
    with store.begin() as tx:
        row = tx.get_connection(cid)
        qbo_tokens = tx.load_tokens(cid, System.QUICKBOOKS)
    assert row is not None and qbo_tokens is not None
    assert row.qbo_realm_id == "1000000001"
    assert row.status is ConnectionStatus.ACTIVE and row.status_detail is None
    assert row.options["qbo_token_url"] == settings.qbo.token_url

    # Encrypted at rest: the columns hold Fernet ciphertexts, no token in clear.
    raw_hubspot, raw_qbo = raw_token_columns(store)
    assert raw_hubspot and raw_qbo
    for raw in (raw_hubspot, raw_qbo):
        assert raw.startswith("gAAAA")
        for secret in (hubspot_tokens.access_token, qbo_tokens.access_token):
            assert secret not in raw
        assert hubspot_tokens.refresh_token and hubspot_tokens.refresh_token not in raw

    # The runtime's clients use the stored grant (and refresh it when it expires).
    clients = build_clients(row, settings=settings, store=store)
    try:
        info = await clients.qbo.company_info()
        assert info["CompanyName"]
        contacts = [record async for record in clients.hubspot.list_all("contacts")]
        assert contacts == []  # an empty portal, read with the OAuth access token
        expired = TokenSet(
            access_token=qbo_tokens.access_token,
            refresh_token=qbo_tokens.refresh_token,
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
        )
        await store.token_store(cid, System.QUICKBOOKS).save(expired)
        fresh_clients = build_clients(row, settings=settings, store=store)
        try:
            assert (await fresh_clients.qbo.company_info())["CompanyName"]
        finally:
            await fresh_clients.aclose()
        with store.begin() as tx:
            rotated = tx.load_tokens(cid, System.QUICKBOOKS)
        assert rotated is not None and rotated.refresh_token != qbo_tokens.refresh_token
    finally:
        await clients.aclose()


async def test_connecting_another_company_into_the_same_connection_is_refused(
    settings: Settings, store: Store
) -> None:
    qbo = oauth_app(System.QUICKBOOKS, settings)
    cid = await run_flow(qbo, store, settings)
    other = oauth_app(
        System.QUICKBOOKS, settings, authorize_url=f"{settings.qbo.authorize_url}?realm_id=999"
    )
    with pytest.raises(ConnectError, match="linked to qbo account 1000000001"):
        await run_flow(other, store, settings)
    assert await run_flow(other, store, settings, new=True, name="second") == cid + 1
    with store.begin() as tx:
        assert [c.qbo_realm_id for c in tx.list_connections()] == ["1000000001", "999"]
    with pytest.raises(ConnectError, match="several connections"):
        await run_flow(qbo, store, settings)


async def test_a_callback_with_a_wrong_state_is_refused_and_an_error_ends_the_flow(
    settings: Settings, store: Store
) -> None:
    app = oauth_app(System.HUBSPOT, settings)
    pages: list[httpx.Response] = []

    def forge(url: str) -> None:
        def visit() -> None:
            callback = app.redirect_uri
            pages.append(httpx.get(f"{callback}?code=stolen&state=forged", timeout=10))
            pages.append(httpx.get(f"{callback}?error=access_denied", timeout=10))

        thread = threading.Thread(target=visit)
        thread.start()
        threads.append(thread)

    threads: list[threading.Thread] = []
    with pytest.raises(ConnectError, match="access_denied"):
        await connect(app, store, settings=settings, show=forge, wait_seconds=20)
    for thread in threads:
        thread.join(timeout=10)
    assert [p.status_code for p in pages] == [400, 400]
    with store.begin() as tx:
        assert tx.list_connections() == []


def test_an_unconfigured_service_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConnectError, match="LEDGERBRIDGE_QBO__CLIENT_ID"):
        oauth_app(System.QUICKBOOKS, Settings(key_file=tmp_path / "k"))
