"""Who is asking: the admin's password (argon2id), the signed session cookie, API tokens,
one-time sign-in links, CSRF tokens, sign-in throttling, and the allowed `Host` names.

`AuthMiddleware` (an ASGI middleware) runs before every route:

* a request whose `Host` is not one of the allowed names answers 400 (DNS rebinding: a
  page on another site cannot read a loopback-bound dashboard through a rebound name);
* `/healthz`, `/webhooks/*`, `/actions/*`, `/oauth/*`, `/static/*`, `/login` and
  `/signin/*` are open (webhooks and workflow actions carry their own signatures);
* everything else needs the session cookie or `Authorization: Bearer <API token>`: pages
  answer 303 to `/login`, the API (`/api/*`, `/openapi.json`, `/redoc`, `/metrics`) 401.

Forms carry a CSRF token (`csrf_field` in templates, `X-CSRF-Token` for htmx), checked by
the `require_csrf` dependency on every state-changing page route.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ledgerbridge.store import Store
from ledgerbridge.store.accounts import TokenKind, admin_account, create_token, use_token

if TYPE_CHECKING:
    from ledgerbridge.settings import Settings

__all__ = [
    "LOOPBACK_NAMES",
    "SESSION_COOKIE",
    "AuthMiddleware",
    "LoginThrottle",
    "Principal",
    "WebSecurity",
    "allowed_host_names",
    "hash_password",
    "hash_token",
    "new_token",
    "require_csrf",
    "verify_password",
]

SESSION_COOKIE = "lb_session"
LOGIN_CSRF_COOKIE = "lb_login_csrf"
SESSION_MAX_AGE = 7 * 24 * 3600
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
PUBLIC_PREFIXES = ("/webhooks/", "/actions/", "/oauth/", "/static/", "/signin/")
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/favicon.ico"})
API_PREFIXES = ("/api/", "/openapi.json", "/redoc", "/metrics", "/docs")
MIN_PASSWORD = 10

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token(prefix: str = "lbt_") -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def allowed_host_names(
    host: str, extra: Iterable[str] = (), urls: Iterable[str] = ()
) -> frozenset[str]:
    """The loopback names, the listening `host` (unless a wildcard), `extra` names, and the
    host names of `urls` (the OAuth redirect URIs name the public address)."""
    names = set(LOOPBACK_NAMES)
    if host not in ("0.0.0.0", "::", ""):  # noqa: S104 (a comparison, not a bind)
        names.add(host.strip("[]").lower())
    names.update(n.strip().strip("[]").lower() for n in extra if n.strip())
    for url in urls:
        hostname = urlsplit(url).hostname
        if hostname:
            names.add(hostname.lower())
    return frozenset(names)


def configured_host_names(settings: Settings, public_url: str | None = None) -> frozenset[str]:
    """The names a served web app answers to: `allowed_host_names` of the `host` setting,
    `allowed_hosts`, and the host names of the OAuth redirect URIs and `public_url`."""
    redirects = [settings.hubspot.redirect_uri, settings.qbo.redirect_uri]
    return allowed_host_names(settings.host, settings.allowed_hosts, [*redirects, public_url or ""])


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is from: the admin (session) or an API token (by its name)."""

    name: str
    via: str  # "session" | "token"
    csrf: str | None = None


@dataclass
class LoginThrottle:
    """Failed sign-ins per client address: after `limit` failures in `window` seconds the
    address waits until the oldest one leaves the window; all addresses together are
    capped at `global_limit` (a spread-out guessing attack)."""

    limit: int = 5
    global_limit: int = 50
    window: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _all: deque[float] = field(default_factory=deque)

    def _prune(self, entries: deque[float]) -> None:
        horizon = self.clock() - self.window
        while entries and entries[0] <= horizon:
            entries.popleft()

    def wait_seconds(self, client: str) -> float:
        """0 when `client` may try now, else the seconds until it may."""
        entries = self._failures.get(client, deque())
        self._prune(entries)
        self._prune(self._all)
        waits = [0.0]
        if len(entries) >= self.limit:
            waits.append(entries[0] + self.window - self.clock())
        if len(self._all) >= self.global_limit:
            waits.append(self._all[0] + self.window - self.clock())
        return max(waits)

    def failed(self, client: str) -> None:
        now = self.clock()
        self._failures.setdefault(client, deque()).append(now)
        self._all.append(now)
        if len(self._failures) > 1000:  # forget the addresses whose failures are all old
            for address, entries in list(self._failures.items()):
                self._prune(entries)
                if not entries:
                    del self._failures[address]

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


@dataclass
class WebSecurity:
    """The web app's security settings."""

    allowed_hosts: frozenset[str] = LOOPBACK_NAMES
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="ledgerbridge-session")


def session_cookie(store: Store, username: str) -> tuple[str, str]:
    """A signed session cookie value for `username`, and its CSRF token."""
    with store.begin() as tx:
        account = admin_account(tx)
    csrf = secrets.token_urlsafe(24)
    return str(_serializer(account.session_secret).dumps({"u": username, "c": csrf})), csrf


def set_session(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _from_session(store: Store, cookie: str) -> Principal | None:
    with store.begin() as tx:
        account = admin_account(tx)
    try:
        data = _serializer(account.session_secret).loads(cookie, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != account.username:
        return None
    return Principal(str(data["u"]), "session", str(data["c"]))


def _from_bearer(store: Store, header: str) -> Principal | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with store.begin() as tx:
        row = use_token(tx, TokenKind.API, hash_token(token.strip()))
    return Principal(f"token:{row.name}", "token") if row else None


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class AuthMiddleware:
    """Host check, then session or bearer token (see the module's docstring)."""

    def __init__(self, app: ASGIApp, store: Store, security: WebSecurity) -> None:
        self.app, self.store, self.security = app, store, security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if _host_name(headers.get("host", "")) not in self.security.allowed_hosts:
            response: Response = PlainTextResponse(
                "This server does not answer to that host name. Add it to the "
                "`allowed_hosts` setting if it is yours.",
                status_code=400,
            )
            await response(scope, receive, send)
            return
        path: str = scope["path"]
        principal = await self._principal(headers)
        scope.setdefault("state", {})["principal"] = principal
        if principal is None and not is_public(path):
            await self._refuse(path, scope)(scope, receive, send)
            return
        if principal is not None and _api_write_without_csrf(scope, headers, principal):
            forbidden = JSONResponse(
                {
                    "detail": "A change through the API with the session cookie needs the "
                    "X-CSRF-Token header (scripts: use an API token)."
                },
                status_code=403,
            )
            await forbidden(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _principal(self, headers: Headers) -> Principal | None:
        authorization = headers.get("authorization")
        if authorization:
            return await asyncio.to_thread(_from_bearer, self.store, authorization)
        cookie = _cookie(headers, SESSION_COOKIE)
        if cookie:
            return await asyncio.to_thread(_from_session, self.store, cookie)
        return None

    @staticmethod
    def _refuse(path: str, scope: Scope) -> Response:
        if _is_api(path):
            return JSONResponse(
                {
                    "detail": "Sign in first: send `Authorization: Bearer <token>` "
                    "(make one with `ledgerbridge admin token create NAME`)."
                },
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _api_write_without_csrf(scope: Scope, headers: Headers, principal: Principal) -> bool:
    """A state-changing API request riding on the session cookie without its CSRF token
    (page routes check theirs with `require_csrf`, which also reads forms)."""
    if principal.via != "session" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
        return False
    if not _is_api(scope["path"]):
        return False
    sent = headers.get("x-csrf-token") or ""
    return principal.csrf is None or not hmac.compare_digest(sent, principal.csrf)


def _cookie(headers: Headers, name: str) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def principal_of(request: Request) -> Principal | None:
    value: Principal | None = request.scope.get("state", {}).get("principal")
    return value


async def require_csrf(request: Request) -> None:
    """FastAPI dependency of every state-changing page route: a session's request must
    carry the session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`);
    API-token requests carry no ambient credentials and need none."""
    principal = principal_of(request)
    if principal is None:
        raise HTTPException(status_code=401, detail="Sign in first.")
    if principal.via == "token":
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or principal.csrf is None or not hmac.compare_digest(sent, principal.csrf):
        raise HTTPException(
            status_code=403,
            detail="This form has expired or did not come from this dashboard: reload the page "
            "and try again.",
        )


def create_signin_link(store: Store, base_url: str, *, minutes: float = 15.0) -> str:
    """A one-time sign-in link (`/signin/<token>`), valid for `minutes`."""

    token = new_token("lbs_")
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    with store.begin() as tx:
        admin_account(tx)
        create_token(tx, TokenKind.SIGNIN, "sign-in link", hash_token(token), expires_at=expires)
    return f"{base_url.rstrip('/')}/signin/{token}"


def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps the port to this machine."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
