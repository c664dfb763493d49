"""`ledgerbridge connect hubspot|qbo`: the OAuth 2.0 authorization-code flow, locally.

1. the redirect URI is served (`web.oauth_callback`: Starlette on uvicorn) on its host
   and port;
2. the user opens the authorize URL (printed, and opened in a browser when possible)
   and approves; the service redirects the browser to the redirect URI with `code`
   and `state` (QBO adds `realmId`);
3. the code is exchanged for tokens (`exchange_code`); HubSpot's portal id is read from
   `GET /oauth/v1/access-tokens/{token}` (`hub_id`, `hubspot.account`);
4. the tokens are stored encrypted in the connection (`Tx.save_tokens`), the connection
   is created if needed, and it becomes `active` once both services are connected.

The HubSpot sandbox auto-approves at `GET /oauth/authorize`, the QBO sandbox at
`GET /connect/oauth2`, so the whole flow runs against them with no browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from ledgerbridge.domain.refs import System
from ledgerbridge.errors import ConnectError
from ledgerbridge.hubspot.account import portal_id
from ledgerbridge.runtime.clients import HUBSPOT_TOKEN_PATH
from ledgerbridge.settings import Settings
from ledgerbridge.store import ConnectionStatus, Store, Tx
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.transport.http import HttpClient, new_http_client
from ledgerbridge.transport.oauth import ClientAuth, exchange_code
from ledgerbridge.transport.tokens import TokenSet
from ledgerbridge.web.oauth_callback import Answer, callback_app, serving

__all__ = ["ConnectError", "OAuthApp", "connect", "oauth_app", "wait_for_callback"]

QBO_SCOPE = "com.intuit.quickbooks.accounting"
REAL_HUBSPOT_API = "https://api.hubapi.com"
REAL_HUBSPOT_AUTHORIZE = "https://app.hubspot.com/oauth/authorize"


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """One service's OAuth app as `connect` uses it."""

    system: System
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    redirect_uri: str
    scopes: tuple[str, ...]
    api_base_url: str
    client_auth: ClientAuth

    @property
    def name(self) -> str:
        return "hubspot" if self.system is System.HUBSPOT else "qbo"

    def authorize_link(self, state: str) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.scopes),
            "response_type": "code",
            "state": state,
        }
        separator = "&" if "?" in self.authorize_url else "?"
        return f"{self.authorize_url}{separator}{urlencode(query)}"


def oauth_app(system: System, settings: Settings, authorize_url: str | None = None) -> OAuthApp:
    """The OAuth app of `system` from the settings; `ConnectError` when it is not configured."""
    if system is System.HUBSPOT:
        s = settings.hubspot
        base = s.base_url.rstrip("/")
        default_authorize = (
            REAL_HUBSPOT_AUTHORIZE if base == REAL_HUBSPOT_API else f"{base}/oauth/authorize"
        )
        client_id, secret, name = s.client_id, s.client_secret, "hubspot"
        app_urls = (authorize_url or default_authorize, base + HUBSPOT_TOKEN_PATH)
        scopes, redirect, auth = tuple(s.scopes), s.redirect_uri, "body"
    else:
        q = settings.qbo
        base = q.base_url.rstrip("/")
        client_id, secret, name = q.client_id, q.client_secret, "qbo"
        app_urls = (authorize_url or q.authorize_url, q.token_url)
        scopes, redirect, auth = (QBO_SCOPE,), q.redirect_uri, "basic"
    if not client_id or secret is None:
        env = name.upper()
        raise ConnectError(
            f"no OAuth app is configured for {name}: set [{name}] client_id and client_secret "
            f"in ledgerbridge.toml (or LEDGERBRIDGE_{env}__CLIENT_ID and "
            f"LEDGERBRIDGE_{env}__CLIENT_SECRET)"
        )
    return OAuthApp(
        system=system,
        client_id=client_id,
        client_secret=secret.get_secret_value(),
        authorize_url=app_urls[0],
        token_url=app_urls[1],
        redirect_uri=redirect,
        scopes=scopes,
        api_base_url=base,
        client_auth="body" if auth == "body" else "basic",
    )


async def wait_for_callback(
    redirect_uri: str, state: str, *, opened: Callable[[], object], wait_seconds: float
) -> dict[str, str]:
    """Serve the redirect URI until the callback arrives; return its query (after
    checking `state`). `opened()` is called once the server listens (print or open the
    authorize URL there)."""
    target = urlsplit(redirect_uri)
    host, port, path = target.hostname or "127.0.0.1", target.port or 80, target.path or "/"
    result: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    def handle(query: Mapping[str, str]) -> Answer:
        if "error" in query:
            if not result.done():
                result.set_exception(ConnectError(f"authorization refused: {query['error']}"))
            return 400, "Not connected", query["error"]
        if query.get("state") != state or "code" not in query:
            return 400, "Not connected", "Bad or missing state."
        if not result.done():
            result.set_result(dict(query))
        return 200, "Connected", "ledgerbridge received the authorization; you can close this tab."

    try:
        server = serving(callback_app(path, handle), host, port)
        await server.__aenter__()
    except OSError as exc:
        raise ConnectError(
            f"cannot listen on {host}:{port} for the OAuth redirect ({exc.strerror or exc}); "
            "stop what uses that port or change the redirect_uri setting"
        ) from exc
    try:
        opened()
        return await asyncio.wait_for(result, wait_seconds)
    except TimeoutError as exc:
        raise ConnectError(f"no authorization arrived within {wait_seconds:.0f} s") from exc
    finally:
        await server.__aexit__(None, None, None)


async def hubspot_portal_id(http: HttpClient, app: OAuthApp, access_token: str) -> str:
    """The portal (hub) id the token belongs to."""
    try:
        return await portal_id(http, app.api_base_url, access_token)
    except SyncError as exc:
        raise ConnectError(f"HubSpot did not say which portal the token is for: {exc}") from exc


def _choose_connection(tx: Tx, connection_id: int | None, new: bool) -> int | None:
    connections = tx.list_connections()
    if new:
        return None
    if connection_id is not None:
        if tx.get_connection(connection_id) is None:
            raise ConnectError(f"there is no connection {connection_id}")
        return connection_id
    if len(connections) > 1:
        ids = ", ".join(str(c.id) for c in connections)
        raise ConnectError(f"several connections exist ({ids}): say which with --connection ID")
    return connections[0].id if connections else None


def save_grant(
    store: Store,
    app: OAuthApp,
    tokens: TokenSet,
    account_id: str,
    *,
    settings: Settings,
    connection_id: int | None = None,
    new: bool = False,
    name: str = "default",
) -> int:
    """Store the grant (encrypted) in the chosen or a new connection; return its id."""
    hubspot = app.system is System.HUBSPOT
    with store.begin() as tx:
        cid = _choose_connection(tx, connection_id, new)
        if cid is None:
            cid = tx.create_connection(
                name=name,
                hubspot_base_url=settings.hubspot.base_url,
                qbo_base_url=settings.qbo.base_url,
            )
        connection = tx.get_connection(cid)
        assert connection is not None
        current = connection.hubspot_portal_id if hubspot else connection.qbo_realm_id
        if current is not None and current != account_id:
            raise ConnectError(
                f"connection {cid} is linked to {app.name} account {current}, not {account_id}; "
                f"its links would point at the wrong records. Use --new for another connection."
            )
        tx.set_account(cid, app.system, account_id, app.api_base_url)
        tx.save_tokens(cid, app.system, tokens)
        options = {
            k: v for k, v in connection.options.items() if k not in ("sandbox", "static_token")
        }
        options[f"{app.name}_token_url"] = app.token_url
        other = System.QUICKBOOKS if hubspot else System.HUBSPOT
        if tx.load_tokens(cid, other) is None:
            missing = "qbo" if hubspot else "hubspot"
            tx.update_connection(
                cid,
                status=ConnectionStatus.NEEDS_REAUTH,
                status_detail=f"run `ledgerbridge connect {missing}` to finish the set-up",
                options=options,
            )
        else:
            tx.update_connection(cid, status=ConnectionStatus.ACTIVE, options=options)
    return cid


async def connect(
    app: OAuthApp,
    store: Store,
    *,
    settings: Settings,
    show: Callable[[str], object],
    connection_id: int | None = None,
    new: bool = False,
    name: str = "default",
    wait_seconds: float = 300.0,
    http: HttpClient | None = None,
) -> int:
    """Run the whole flow; `show(authorize_url)` presents the link. Returns the connection id."""
    state = secrets.token_urlsafe(24)
    link = app.authorize_link(state)
    query = await wait_for_callback(
        app.redirect_uri, state, opened=lambda: show(link), wait_seconds=wait_seconds
    )
    async with contextlib.AsyncExitStack() as stack:
        client = (
            http
            if http is not None
            else await stack.enter_async_context(new_http_client(timeout=30))
        )
        tokens = await exchange_code(
            http=client,
            token_url=app.token_url,
            client_id=app.client_id,
            client_secret=app.client_secret,
            code=query["code"],
            redirect_uri=app.redirect_uri,
            client_auth=app.client_auth,
        )
        if app.system is System.HUBSPOT:
            account = await hubspot_portal_id(client, app, tokens.access_token)
        else:
            account = query.get("realmId") or ""
            if not account:
                raise ConnectError("QuickBooks did not send the company id (realmId)")
    return await asyncio.to_thread(
        save_grant,
        store,
        app,
        tokens,
        account,
        settings=settings,
        connection_id=connection_id,
        new=new,
        name=name,
    )
