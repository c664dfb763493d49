"""Access tokens for the connectors: a fixed bearer token, or an OAuth 2.0 refresh-token grant.

`OAuthTokenManager` refreshes before expiry (`refresh_margin`), one refresh at a time per
connection (concurrent callers wait on an `asyncio.Lock` and reuse the result), and saves
the new `TokenSet` (with the rotated refresh token, if the server sent one) to the store
*before* handing out the new access token: a crash after a refresh never loses the only
valid refresh token.

Errors from the token endpoint: `invalid_grant`, 400 and 401 (expired or revoked grant,
wrong client credentials) become `AuthenticationError` (the connection waits for a
reconnect); 429 becomes `TransientError(RATE_LIMITED)`; 5xx and transport failures become
`TransientError(SERVICE_UNAVAILABLE)`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import httpx

from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    TerminalError,
    TransientError,
)
from ledgerbridge.transport.tokens import TokenSet, TokenStore

ClientAuth = Literal["basic", "body"]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TokenProvider(Protocol):
    """Where a client gets the bearer token for its next request."""

    async def access_token(self) -> str: ...

    async def invalidate(self) -> None:
        """The server refused the token (401): the next `access_token()` gets a fresh one."""
        ...


class StaticToken:
    """A fixed bearer token (the sandboxes' `sandbox`, private-app tokens)."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("a static token cannot be empty")
        self._token = token

    async def access_token(self) -> str:
        return self._token

    async def invalidate(self) -> None:
        """Nothing to refresh; the retried request fails again and surfaces the 401."""

    def __repr__(self) -> str:
        return "StaticToken(***)"


def _seconds(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def parse_token_response(
    body: Mapping[str, Any], now: dt.datetime, previous_refresh_token: str | None = None
) -> TokenSet:
    """A `TokenSet` from a token endpoint's JSON (`expires_in`, `x_refresh_token_expires_in`).

    Without a `refresh_token` in the answer, the previous refresh token stays valid.
    """
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise TerminalError(ErrorCategory.UNKNOWN, "token response has no access_token")
    expires_in = _seconds(body.get("expires_in"))
    refresh = body.get("refresh_token")
    refresh_token = refresh if isinstance(refresh, str) and refresh else previous_refresh_token
    refresh_in = _seconds(body.get("x_refresh_token_expires_in"))
    return TokenSet(
        access_token=access,
        refresh_token=refresh_token,
        expires_at=now + dt.timedelta(seconds=expires_in if expires_in is not None else 3600),
        refresh_expires_at=now + dt.timedelta(seconds=refresh_in) if refresh_in else None,
    )


async def _token_request(
    http: httpx.AsyncClient,
    token_url: str,
    form: dict[str, str],
    *,
    client_id: str,
    client_secret: str,
    client_auth: ClientAuth,
) -> dict[str, Any]:
    """POST a grant to the token endpoint; translate every failure into a SyncError."""
    data = dict(form)
    headers = {"Accept": "application/json"}
    if client_auth == "basic":
        pair = f"{client_id}:{client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    else:
        data["client_id"] = client_id
        data["client_secret"] = client_secret
    try:
        response = await http.post(token_url, data=data, headers=headers)
    except httpx.TransportError as exc:  # includes timeouts
        raise TransientError(
            ErrorCategory.SERVICE_UNAVAILABLE, f"token endpoint unreachable: {exc!r}"
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    status = response.status_code
    if status >= 500:
        raise TransientError(
            ErrorCategory.SERVICE_UNAVAILABLE, f"token endpoint answered {status}", status=status
        )
    if status == 429:
        raise TransientError(
            ErrorCategory.RATE_LIMITED, "token endpoint rate limited the refresh", status=status
        )
    if error == "invalid_grant" or status in (400, 401, 403):
        description = body.get("error_description") if isinstance(body, dict) else None
        raise AuthenticationError(
            f"the token endpoint refused the grant ({error or status}"
            + (f": {description}" if description else "")
            + ")",
            status=status,
        )
    if status >= 400 or not isinstance(body, dict):
        raise TerminalError(
            ErrorCategory.UNKNOWN, f"unexpected token endpoint answer {status}", status=status
        )
    return body


async def exchange_code(
    *,
    http: httpx.AsyncClient,
    token_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    client_auth: ClientAuth = "body",
    code_verifier: str | None = None,
    store: TokenStore | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> TokenSet:
    """The authorization-code grant (`ledgerbridge connect`): code → TokenSet (saved if a store)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier:
        form["code_verifier"] = code_verifier
    body = await _token_request(
        http,
        token_url,
        form,
        client_id=client_id,
        client_secret=client_secret,
        client_auth=client_auth,
    )
    tokens = parse_token_response(body, clock())
    if store is not None:
        await store.save(tokens)
    return tokens


class OAuthTokenManager:
    """A `TokenProvider` over a refresh-token grant kept in a `TokenStore`."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        token_url: str,
        client_id: str,
        client_secret: str,
        store: TokenStore,
        client_auth: ClientAuth = "body",
        refresh_margin: dt.timedelta = dt.timedelta(minutes=5),
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._store = store
        self._client_auth: ClientAuth = client_auth
        self._margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tokens: TokenSet | None = None
        self._rejected: str | None = None  # an access token the API refused (401)
        self.refreshes = 0

    def _usable(self, tokens: TokenSet | None) -> bool:
        return (
            tokens is not None
            and tokens.access_token != self._rejected
            and not tokens.expires_within(self._margin, self._clock())
        )

    async def access_token(self) -> str:
        tokens = self._tokens
        if tokens is not None and self._usable(tokens):
            return tokens.access_token
        async with self._lock:  # single flight: one refresh, the others reuse it
            if self._tokens is not None and self._usable(self._tokens):
                return self._tokens.access_token
            # Another process (a distributed worker) may have refreshed already.
            stored = await self._store.load()
            if stored is None:
                raise AuthenticationError("no tokens are stored for this connection")
            if self._usable(stored):
                self._tokens = stored
                return stored.access_token
            self._tokens = await self._refresh(stored)
            self._rejected = None
            return self._tokens.access_token

    async def invalidate(self) -> None:
        if self._tokens is not None:
            self._rejected = self._tokens.access_token

    async def _refresh(self, tokens: TokenSet) -> TokenSet:
        now = self._clock()
        if not tokens.refresh_token:
            raise AuthenticationError("the access token expired and there is no refresh token")
        if tokens.refresh_expires_at is not None and tokens.refresh_expires_at <= now:
            raise AuthenticationError("the refresh token expired")
        body = await _token_request(
            self._http,
            self._token_url,
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
            client_id=self._client_id,
            client_secret=self._client_secret,
            client_auth=self._client_auth,
        )
        fresh = parse_token_response(body, self._clock(), tokens.refresh_token)
        if fresh.refresh_token == tokens.refresh_token and fresh.refresh_expires_at is None:
            # Not rotated and no new lifetime given: the old refresh expiry still holds.
            fresh = TokenSet(
                fresh.access_token, fresh.refresh_token, fresh.expires_at, tokens.refresh_expires_at
            )
        await self._store.save(fresh)  # persist BEFORE anyone uses the new access token
        self.refreshes += 1
        return fresh

    def __repr__(self) -> str:
        return f"OAuthTokenManager(token_url={self._token_url!r})"
