"""The engine's web app: the dashboard (sign-in, pages), `/api/status`, health check.

Webhooks in (`web.webhooks`) and workflow actions in are added to this app as routers by
whoever builds it (`ledgerbridge run`, `ledgerbridge demo`). Every route but the health
check, webhooks, workflow actions, OAuth callbacks and the sign-in itself needs a session
or an API token, and requests for other host names are refused (`web.auth`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from ledgerbridge import __version__
from ledgerbridge.store import Store
from ledgerbridge.web.api_docs import add_api_docs
from ledgerbridge.web.auth import AuthMiddleware
from ledgerbridge.web.errors import install_error_pages
from ledgerbridge.web.pages import page_routers
from ledgerbridge.web.pages.common import DashboardContext
from ledgerbridge.web.status import status_summary

STATIC = Path(__file__).with_name("static")


def create_web_app(
    store: Store,
    routers: Iterable[APIRouter] = (),
    *,
    dashboard: DashboardContext | None = None,
) -> FastAPI:
    """The web app over `store`, plus `routers` (webhooks in: `web.webhooks.webhook_router`).
    `dashboard` carries the settings, the runtime's hooks and the security settings."""
    ctx = dashboard or DashboardContext(store)
    app = FastAPI(title="ledgerbridge", version=__version__, docs_url=None, redoc_url=None)
    app.state.store = store
    app.state.dashboard = ctx
    app.add_middleware(AuthMiddleware, store=store, security=ctx.security)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_api_docs(app)
    for router in routers:
        app.include_router(router)
    for router in page_routers():
        app.include_router(router)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/api/status")
    def api_status() -> dict[str, Any]:
        return status_summary(store, passes=ctx.passes)

    install_error_pages(app)
    return app
