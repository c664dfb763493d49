"""`runtime.clients`: static tokens for sandbox connections, else OAuth over the stored grant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from ledgerbridge.domain.refs import System
from ledgerbridge.runtime.clients import (
    build_clients,
    qbo_token_url,
    sandbox_options,
    static_token,
    token_provider,
)
from ledgerbridge.settings import HubSpotSettings, QboSettings, Settings
from ledgerbridge.store import ConnectionRow, Store, TokenCipher, generate_key
from ledgerbridge.sync.errors import AuthenticationError
from ledgerbridge.transport.oauth import OAuthTokenManager, StaticToken


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}", TokenCipher(generate_key().encode()))
    yield store
    store.close()


def connection(store: Store, **options: object) -> ConnectionRow:
    with store.begin() as tx:
        cid = tx.create_connection(
            name="c",
            hubspot_base_url="http://h.test",
            qbo_base_url="http://q.test",
            hubspot_portal_id="1",
            qbo_realm_id="2",
            options=options,
        )
        row = tx.get_connection(cid)
    assert row is not None
    return row


def test_static_token_only_for_sandbox_connections() -> None:
    assert static_token(sandbox_options("sandbox")) == "sandbox"
    assert static_token({"static_token": "sandbox"}) is None  # not marked as a sandbox
    assert static_token({"sandbox": True}) is None


async def test_a_sandbox_connection_uses_its_static_token(store: Store) -> None:
    row = connection(store, **sandbox_options("sandbox"))
    clients = build_clients(row, settings=Settings(), store=store)
    try:
        assert isinstance(clients.hubspot.session.tokens, StaticToken)
        assert await clients.qbo.tokens.access_token() == "sandbox"
        assert clients.qbo.url("query") == "http://q.test/v3/company/2/query"
    finally:
        await clients.aclose()


async def test_an_oauth_connection_refreshes_at_the_url_connect_used(store: Store) -> None:
    row = connection(store, qbo_token_url="http://q.test/oauth2/v1/tokens/bearer")
    settings = Settings(
        hubspot=HubSpotSettings(client_id="h", client_secret=SecretStr("hs")),
        qbo=QboSettings(client_id="q", client_secret=SecretStr("qs")),
    )
    assert qbo_token_url(row, settings) == "http://q.test/oauth2/v1/tokens/bearer"
    async with httpx.AsyncClient() as http:
        provider = token_provider(row, System.QUICKBOOKS, settings=settings, store=store, http=http)
        assert isinstance(provider, OAuthTokenManager)
        with pytest.raises(AuthenticationError, match="no tokens are stored"):
            await provider.access_token()


def test_an_oauth_connection_without_a_configured_app_fails_clearly(store: Store) -> None:
    row = connection(store)
    with pytest.raises(AuthenticationError, match=r"\[hubspot\] client_id"):
        build_clients(row, settings=Settings(), store=store)
