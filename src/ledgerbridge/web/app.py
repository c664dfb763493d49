"""The engine's web app: status page, `/api/status`, health check.

Webhooks in (`web.webhooks`), workflow actions in and the dashboard are added to this
app as routers by whoever builds it (`ledgerbridge run`, `ledgerbridge demo`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ledgerbridge import __version__
from ledgerbridge.store import Store
from ledgerbridge.web.status import status_summary

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def create_web_app(store: Store, routers: Iterable[APIRouter] = ()) -> FastAPI:
    """The web app over `store`, plus `routers` (webhooks in: `web.webhooks.webhook_router`)."""
    app = FastAPI(title="ledgerbridge", version=__version__, docs_url="/api/docs")
    app.state.store = store
    for router in routers:
        app.include_router(router)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/api/status")
    def api_status() -> dict[str, Any]:
        return status_summary(store)

    @app.get("/", response_class=HTMLResponse)
    def status_page(request: Request) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request, "status.html", {"summary": status_summary(store), "version": __version__}
        )

    return app
