"""OAuth 2.0: authorize (auto-approved), token (authorization code, refresh), introspection."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from .errors import correlation_id

DEFAULT_SCOPES = ["oauth", "crm.objects.contacts.read", "crm.objects.contacts.write"]


@dataclass
class TokenStore:
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)

    def valid_access(self, token: str, now: float) -> bool:
        info = self.access.get(token)
        return info is not None and info["expires_at"] > now


def _error(status: str, message: str, code: int = 400) -> JSONResponse:
    return JSONResponse(
        {"status": status, "message": message, "correlationId": correlation_id()},
        status_code=code,
    )


def build_router() -> APIRouter:
    router = APIRouter()
    _grant_routes(router)
    _token_info_routes(router)
    return router


def _grant_routes(router: APIRouter) -> None:
    """The authorization-code grant: authorize, and the token endpoint."""

    @router.get("/oauth/authorize")
    async def authorize(request: Request) -> Response:
        sandbox = request.app.state.sandbox
        q = request.query_params
        if q.get("client_id") != sandbox.config.oauth_client_id:
            return _error("BAD_CLIENT_ID", "missing or unknown client id")
        redirect = q.get("redirect_uri", "")
        code = "sbx-code-" + secrets.token_hex(12)
        sandbox.tokens.codes[code] = {
            "redirect_uri": redirect,
            "scopes": (q.get("scope") or " ".join(DEFAULT_SCOPES)).split(),
        }
        params = {"code": code}
        if q.get("state"):
            params["state"] = q["state"]
        if not redirect:
            return JSONResponse(params)
        return RedirectResponse(f"{redirect}?{urlencode(params)}", status_code=302)

    @router.post("/oauth/v1/token")
    async def token(request: Request) -> Response:
        sandbox = request.app.state.sandbox
        cfg = sandbox.config
        form = await request.form()
        data = {k: str(v) for k, v in form.items()}
        if data.get("client_id") != cfg.oauth_client_id:
            return _error("BAD_CLIENT_ID", "missing or unknown client id")
        if data.get("client_secret") != cfg.oauth_client_secret:
            return _error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        store: TokenStore = sandbox.tokens
        grant = data.get("grant_type")
        if grant == "authorization_code":
            code = store.codes.pop(data.get("code", ""), None)
            if code is None:
                return _error("BAD_AUTH_CODE", "missing or invalid auth code")
            if code["redirect_uri"] and code["redirect_uri"] != data.get("redirect_uri"):
                return _error("BAD_REDIRECT_URI", "redirect_uri does not match")
            scopes: list[str] = code["scopes"]
        elif grant == "refresh_token":
            info = store.refresh.get(data.get("refresh_token", ""))
            if info is None:
                return _error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            scopes = info["scopes"]
        else:
            return _error(
                "BAD_GRANT_TYPE", "grant_type must be authorization_code or refresh_token"
            )
        access = "sbx-at-" + secrets.token_hex(16)
        now = cfg.clock()
        store.access[access] = {"expires_at": now + cfg.access_token_ttl_seconds, "scopes": scopes}
        refresh = data.get("refresh_token") if grant == "refresh_token" else None
        if not refresh:
            refresh = "sbx-rt-" + secrets.token_hex(16)
            store.refresh[refresh] = {"scopes": scopes}
        return JSONResponse(
            {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": cfg.access_token_ttl_seconds,
                "token_type": "bearer",
                "token_use": "access",
                "hub_id": cfg.portal_id,
                "scopes": scopes,
            }
        )


def _token_info_routes(router: APIRouter) -> None:
    """What a token is (access / refresh token metadata), and revoking one."""

    @router.get("/oauth/v1/access-tokens/{token}")
    async def access_token_info(token: str, request: Request) -> Response:
        sandbox = request.app.state.sandbox
        info = sandbox.tokens.access.get(token)
        now = sandbox.config.clock()
        if info is None or info["expires_at"] <= now:
            return _error("BAD_ACCESS_TOKEN", "token is invalid or expired", 404)
        return JSONResponse(
            {
                "token": token,
                "user": "sandbox@example.com",
                "hub_domain": "sandbox.hubspot.test",
                "scopes": info["scopes"],
                "hub_id": sandbox.config.portal_id,
                "app_id": sandbox.config.app_id,
                "expires_in": int(info["expires_at"] - now),
                "user_id": 1,
                "token_type": "access",
            }
        )

    @router.get("/oauth/v1/refresh-tokens/{token}")
    async def refresh_token_info(token: str, request: Request) -> Response:
        sandbox = request.app.state.sandbox
        info = sandbox.tokens.refresh.get(token)
        if info is None:
            return _error("BAD_REFRESH_TOKEN", "unknown refresh token", 404)
        return JSONResponse(
            {
                "token": token,
                "user": "sandbox@example.com",
                "hub_domain": "sandbox.hubspot.test",
                "scopes": info["scopes"],
                "hub_id": sandbox.config.portal_id,
                "client_id": sandbox.config.oauth_client_id,
                "user_id": 1,
                "token_type": "refresh",
            }
        )

    @router.delete("/oauth/v1/refresh-tokens/{token}")
    async def delete_refresh_token(token: str, request: Request) -> Response:
        sandbox = request.app.state.sandbox
        if sandbox.tokens.refresh.pop(token, None) is None:
            return _error("BAD_REFRESH_TOKEN", "unknown refresh token", 404)
        return Response(status_code=204)
