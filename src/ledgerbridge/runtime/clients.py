"""The HubSpot and QBO clients of one stored connection, built from the settings.

Where the bearer token comes from:

* a sandbox connection (`options["sandbox"]` true) with `options["static_token"]` uses that
  fixed token (the sandboxes' `sandbox`; `ledgerbridge demo` sets this up);
* every other connection uses `OAuthTokenManager` over the connection's encrypted tokens
  (`store.token_store(id, system)`, written by `ledgerbridge connect`), refreshing at the
  token endpoint `connect` used (`options["hubspot_token_url"]` / `["qbo_token_url"]`,
  else the settings' default) with the client id and secret from the settings.

Client secrets stay in the settings; only tokens (encrypted) live in the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledgerbridge.domain.refs import System
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.settings import HubSpotSettings, QboSettings, Settings
from ledgerbridge.store import ConnectionRow, Store
from ledgerbridge.sync.errors import AuthenticationError
from ledgerbridge.transport.http import HttpClient, new_http_client
from ledgerbridge.transport.oauth import ClientAuth, OAuthTokenManager, StaticToken, TokenProvider

__all__ = [
    "ConnectionClients",
    "build_clients",
    "hubspot_token_url",
    "qbo_token_url",
    "sandbox_options",
    "static_token",
    "token_provider",
]

HUBSPOT_TOKEN_PATH = "/oauth/v1/token"


def sandbox_options(token: str, **extra: Any) -> dict[str, Any]:
    """Connection options of a sandbox connection that authenticates with a static token."""
    return {"sandbox": True, "static_token": token, **extra}


def static_token(options: Mapping[str, Any]) -> str | None:
    """The static token of a sandbox connection; None for an OAuth connection."""
    token = options.get("static_token")
    if options.get("sandbox") is True and isinstance(token, str) and token:
        return token
    return None


def hubspot_token_url(connection: ConnectionRow) -> str:
    url = connection.options.get("hubspot_token_url")
    return str(url) if url else connection.hubspot_base_url.rstrip("/") + HUBSPOT_TOKEN_PATH


def qbo_token_url(connection: ConnectionRow, settings: Settings) -> str:
    url = connection.options.get("qbo_token_url")
    return str(url) if url else settings.qbo.token_url


def _oauth_client(system: System, settings: Settings) -> tuple[str, str, ClientAuth]:
    """(client id, client secret, how the token endpoint wants them) of `system`'s app."""
    section: HubSpotSettings | QboSettings = (
        settings.hubspot if system is System.HUBSPOT else settings.qbo
    )
    auth: ClientAuth = "body" if system is System.HUBSPOT else "basic"
    name = "hubspot" if system is System.HUBSPOT else "qbo"
    if not section.client_id or section.client_secret is None:
        raise AuthenticationError(
            f"no OAuth client is configured for {name} "
            f"(set [{name}] client_id and client_secret in the settings)"
        )
    return section.client_id, section.client_secret.get_secret_value(), auth


def token_provider(
    connection: ConnectionRow,
    system: System,
    *,
    settings: Settings,
    store: Store,
    http: HttpClient,
) -> TokenProvider:
    """The bearer tokens of `connection` on `system` (see the module docstring)."""
    fixed = static_token(connection.options)
    if fixed is not None:
        return StaticToken(fixed)
    client_id, secret, auth = _oauth_client(system, settings)
    url = (
        hubspot_token_url(connection)
        if system is System.HUBSPOT
        else qbo_token_url(connection, settings)
    )
    return OAuthTokenManager(
        http=http,
        token_url=url,
        client_id=client_id,
        client_secret=secret,
        store=store.token_store(connection.id, system),
        client_auth=auth,
    )


@dataclass(slots=True)
class ConnectionClients:
    """The two clients of one connection over one shared `HttpClient`."""

    connection: ConnectionRow
    hubspot: HubSpotClient
    qbo: QboClient
    http: HttpClient
    owns_http: bool = True

    async def aclose(self) -> None:
        if self.owns_http:
            await self.http.aclose()


def build_clients(
    connection: ConnectionRow,
    *,
    settings: Settings,
    store: Store,
    http: HttpClient | None = None,
    timeout: float | None = None,
) -> ConnectionClients:
    """`HubSpotClient` and `QboClient` for a stored connection (close with `aclose()`); the
    HTTP timeout is `timeout`, else `settings.http_timeout_seconds`."""
    if not connection.qbo_realm_id:
        raise ValueError(f"connection {connection.id} has no QBO company (realm id) yet")
    if static_token(connection.options) is None:
        for system in (System.HUBSPOT, System.QUICKBOOKS):
            _oauth_client(system, settings)  # fail before opening anything
    own = http is None
    client = http or new_http_client(timeout=timeout or settings.http_timeout_seconds)
    hubspot = HubSpotClient(
        client,
        token_provider(connection, System.HUBSPOT, settings=settings, store=store, http=client),
        base_url=connection.hubspot_base_url,
    )
    qbo = QboClient(
        client,
        realm_id=connection.qbo_realm_id,
        tokens=token_provider(
            connection, System.QUICKBOOKS, settings=settings, store=store, http=client
        ),
        base_url=connection.qbo_base_url,
    )
    return ConnectionClients(connection, hubspot, qbo, client, owns_http=own)
