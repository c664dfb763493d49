"""`create_app(config)`: the FastAPI application of the QBO sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ledgerbridge.sandbox.disconnects import quiet_disconnects
from ledgerbridge.sandbox.qbo import admin, api
from ledgerbridge.sandbox.qbo.config import QboSandboxConfig
from ledgerbridge.sandbox.qbo.core import Sandbox
from ledgerbridge.sandbox.qbo.oauth import SCOPE


def create_app(
    config: QboSandboxConfig | None = None,
    *,
    webhook_client: httpx.AsyncClient | None = None,
) -> FastAPI:
    """Build the sandbox app. `app.state.sandbox` is the live `Sandbox` object.

    `webhook_client` lets tests deliver webhooks to an in-process ASGI app
    (`httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver))`).
    """
    config = config or QboSandboxConfig()
    sandbox = Sandbox(config, webhook_client)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await sandbox.webhooks.aclose()
            sandbox.persist()

    app = FastAPI(
        title="QuickBooks Online sandbox (ledgerbridge)",
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    quiet_disconnects(app)
    app.include_router(admin.router)
    app.include_router(api.router)
    _oauth_routes(app)
    return app


def _oauth_routes(app: FastAPI) -> None:
    @app.get("/connect/oauth2")
    async def authorize(request: Request) -> Response:
        """Intuit's consent page, auto-approved: redirect back with a code and the realmId."""
        sandbox: Sandbox = request.app.state.sandbox
        params = request.query_params
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != sandbox.config.oauth_client_id or not redirect_uri:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        if SCOPE not in params.get("scope", SCOPE).split():
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        realm_id = params.get("realm_id") or next(iter(sandbox.realms))
        code = sandbox.oauth.authorize(realm_id, redirect_uri, sandbox.now())
        query = {"code": code, "realmId": realm_id, "state": params.get("state", "")}
        return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)

    @app.post("/oauth2/v1/tokens/bearer")
    async def token(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not sandbox.oauth.check_client(request.headers.get("authorization"), form):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        body = sandbox.oauth.exchange(form, sandbox.now())
        if body is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @app.post("/oauth2/v1/tokens/revoke")
    async def revoke(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            data = await request.json()
            form = {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        else:
            form = {k: str(v) for k, v in (await request.form()).items()}
        if not sandbox.oauth.check_client(request.headers.get("authorization"), form):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        sandbox.oauth.revoke(form.get("token", ""))
        return Response(status_code=200)
