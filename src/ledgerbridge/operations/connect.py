"""`ledgerbridge connect hubspot|qbo`: the OAuth 2.0 authorization-code flow, locally.

1. a tiny HTTP server listens on the redirect URI's host and port;
2. the user opens the authorize URL (printed, and opened in a browser when possible)
   and approves; the service redirects the browser to the redirect URI with `code`
   and `state` (QBO adds `realmId`);
3. the code is exchanged for tokens (`exchange_code`); HubSpot's portal id is read from
   `GET /oauth/v1/access-tokens/{token}` (`hub_id`);
4. the tokens are stored encrypted in the connection (`Tx.save_tokens`), the connection
   is created if needed, and it becomes `active` once both services are connected.

The HubSpot sandbox auto-approves at `GET /oauth/authorize`, the QBO sandbox at
`GET /connect/oauth2`, so the whole flow runs against them with no browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from sqlalchemy import update

from ledgerbridge.domain.refs import System
from ledgerbridge.errors import ConnectError
from ledgerbridge.runtime.clients import HUBSPOT_TOKEN_PATH
from ledgerbridge.settings import Settings
from ledgerbridge.store import ConnectionStatus, Store, Tx, schema
from ledgerbridge.transport.oauth import ClientAuth, exchange_code
from ledgerbridge.transport.tokens import TokenSet

__all__ = ["ConnectError", "OAuthApp", "connect", "oauth_app", "wait_for_callback"]

QBO_SCOPE = "com.intuit.quickbooks.accounting"
REAL_HUBSPOT_API = "https://api.hubapi.com"
REAL_HUBSPOT_AUTHORIZE = "https://app.hubspot.com/oauth/authorize"

_PAGE = (
    "<!doctype html><meta charset=utf-8><title>ledgerbridge</title>"
    "<body style='font-family:sans-serif'><h1>{title}</h1><p>{text}</p></body>"
)


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


async def _read_request_target(reader: asyncio.StreamReader) -> str:
    request_line = await reader.readline()
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass  # skip the headers
    parts = request_line.decode("latin-1").split()
    return parts[1] if len(parts) >= 2 else "/"


async def wait_for_callback(
    redirect_uri: str, state: str, *, opened: Callable[[], object], wait_seconds: float
) -> dict[str, str]:
    """Serve the redirect URI once; return the callback's query (after checking `state`).

    `opened()` is called once the server listens (print or open the authorize URL there).
    """
    target = urlsplit(redirect_uri)
    host, port, path = target.hostname or "127.0.0.1", target.port or 80, target.path or "/"
    result: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = urlsplit(await _read_request_target(reader))
            query = {k: v[0] for k, v in parse_qs(request.query).items()}
            if request.path != path:
                status, title, text = "404 Not Found", "Not found", "This is not the callback."
            elif "error" in query:
                status, title, text = "400 Bad Request", "Not connected", query["error"]
                if not result.done():
                    result.set_exception(ConnectError(f"authorization refused: {query['error']}"))
            elif query.get("state") != state or "code" not in query:
                status, title, text = "400 Bad Request", "Not connected", "Bad or missing state."
            else:
                status, title = "200 OK", "Connected"
                text = "ledgerbridge received the authorization; you can close this tab."
                if not result.done():
                    result.set_result(query)
            page = _PAGE.format(title=title, text=text).encode()
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(page)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + page)
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    try:
        server = await asyncio.start_server(handle, host, port)
    except OSError as exc:
        raise ConnectError(
            f"cannot listen on {host}:{port} for the OAuth redirect ({exc.strerror}); "
            "stop what uses that port or change the redirect_uri setting"
        ) from exc
    async with server:
        opened()
        try:
            return await asyncio.wait_for(result, wait_seconds)
        except TimeoutError as exc:
            raise ConnectError(f"no authorization arrived within {wait_seconds:.0f} s") from exc


async def hubspot_portal_id(http: httpx.AsyncClient, app: OAuthApp, access_token: str) -> str:
    """The portal (hub) id the token belongs to."""
    response = await http.get(f"{app.api_base_url}/oauth/v1/access-tokens/{access_token}")
    hub_id = response.json().get("hub_id") if response.status_code == 200 else None
    if hub_id is None:
        raise ConnectError(
            f"HubSpot did not say which portal the token is for ({response.status_code})"
        )
    return str(hub_id)


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
    id_column = "hubspot_portal_id" if hubspot else "qbo_realm_id"
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
        # The store has no setter for the account ids and base URLs: update the row here.
        base_column = "hubspot_base_url" if hubspot else "qbo_base_url"
        tx.connection.execute(
            update(schema.connections)
            .where(schema.connections.c.id == cid)
            .values({id_column: account_id, base_column: app.api_base_url})
        )
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
    http: httpx.AsyncClient | None = None,
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
            else await stack.enter_async_context(httpx.AsyncClient(timeout=30))
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
