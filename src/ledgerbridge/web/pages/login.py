"""Signing in and out: the password form (throttled), one-time sign-in links."""

from __future__ import annotations

import hmac
import math
import secrets
import shlex
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledgerbridge.store.accounts import TokenKind, admin_account, record_audit, use_token
from ledgerbridge.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    hash_token,
    require_csrf,
    session_cookie,
    set_session,
    verify_password,
)
from ledgerbridge.web.pages.common import PAGE_RESPONSES, audit, context_of, in_thread, render

router = APIRouter(responses=PAGE_RESPONSES)


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never `//other.site` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _cli(request: Request, command: str) -> str:
    """`ledgerbridge <command>` as it is run on this server: with `--config` when the
    defaults would not find this store (the demo's settings file)."""
    config = context_of(request).config_file
    return f"ledgerbridge {command}" + (f" --config {shlex.quote(str(config))}" if config else "")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(
    request: Request, *, error: str | None = None, status_code: int = 200, next_url: str = "/"
) -> HTMLResponse:
    store = context_of(request).store
    with store.begin() as tx:
        account = admin_account(tx)
    # Reuse the browser's token: a second tab (or any other request that lands on this page)
    # must not invalidate the form already shown.
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if len(token) < 32:
        token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        status_code=status_code,
        error=error,
        login_csrf=token,
        username=account.username,
        no_password=account.password_hash is None,
        next_url=_safe_next(next_url),
        set_password_command=_cli(request, "admin set-password"),
        signin_command=_cli(request, "admin signin-link"),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _login_page(request, next_url=next)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login(
    request: Request,
    password: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    ctx = context_of(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        return _login_page(
            request,
            error="The sign-in form expired: try again.",
            status_code=403,
            next_url=next,
        )
    client = _client(request)
    wait = ctx.security.throttle.wait_seconds(client)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        return _login_page(
            request,
            error=f"Too many failed sign-ins. Try again in {minutes} minute(s).",
            status_code=429,
            next_url=next,
        )
    with ctx.store.begin() as tx:
        account = admin_account(tx)
    ok = username in ("", account.username) and await in_thread(
        verify_password, account.password_hash, password
    )
    if not ok:
        ctx.security.throttle.failed(client)
        await in_thread(lambda: audit(request, "sign_in_refused", details={"client": client}))
        error = (
            f"No password is set yet: run `{_cli(request, 'admin set-password')}` on the server."
            if account.password_hash is None
            else "Wrong user name or password."
        )
        return _login_page(request, error=error, status_code=401, next_url=next)
    ctx.security.throttle.succeeded(client)
    value, _ = session_cookie(ctx.store, account.username)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session(response, request, value)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    with ctx.store.begin() as tx:
        record_audit(tx, account.username, "sign_in", details={"client": client})
    return response


@router.post("/logout", dependencies=[Depends(require_csrf)], include_in_schema=False)
def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    audit(request, "sign_out")
    return response


@router.get("/signin/{token}", response_class=HTMLResponse, include_in_schema=False)
def signin_link(request: Request, token: str) -> Response:
    """A one-time sign-in link (`ledgerbridge demo`, `ledgerbridge admin signin-link`)."""
    ctx = context_of(request)
    with ctx.store.begin() as tx:
        row = use_token(tx, TokenKind.SIGNIN, hash_token(token))
        account = admin_account(tx)
    if row is None:
        return _login_page(
            request,
            error="This sign-in link was used already or has expired. Sign in with the "
            f"password, or make a new link with `{_cli(request, 'admin signin-link')}`.",
            status_code=400,
        )
    value, _ = session_cookie(ctx.store, account.username)
    response = RedirectResponse("/", status_code=303)
    set_session(response, request, value)
    with ctx.store.begin() as tx:
        record_audit(tx, account.username, "sign_in", details={"via": "one-time link"})
    return response
