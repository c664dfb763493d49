"""Connecting from the Connections page (R-CON-1): "Connect HubSpot" / "Connect QuickBooks"
start the OAuth authorization-code flow; the service sends the browser back to
`/oauth/{service}/callback` (the settings' redirect URI), where the code becomes a grant
stored encrypted in the connection (`operations.connect.complete_grant`)."""

from __future__ import annotations

import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from ledgerbridge.domain import System
from ledgerbridge.operations.connect import ConnectError, complete_grant, oauth_app
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.web.auth import principal_of, require_csrf
from ledgerbridge.web.pages.common import MAX_ID, PAGE_RESPONSES, audit, context_of, in_thread

router = APIRouter(responses=PAGE_RESPONSES)

SERVICES = {"hubspot": System.HUBSPOT, "qbo": System.QUICKBOOKS}
NAMES = {"hubspot": "HubSpot", "qbo": "QuickBooks"}
STATE_COOKIE = "lb_oauth_state"
STATE_SECONDS = 600.0


def _service(name: str) -> System:
    if name not in SERVICES:
        raise HTTPException(status_code=404, detail=f"There is no service {name!r}.")
    return SERVICES[name]


@router.post(
    "/connections/connect/{service}", dependencies=[Depends(require_csrf)], include_in_schema=False
)
def start(
    request: Request,
    service: str,
    connection_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    """Send the browser to the service's consent page."""
    system = _service(service)
    ctx = context_of(request)
    if ctx.settings is None:
        raise HTTPException(status_code=400, detail="This server has no OAuth settings.")
    try:
        app = oauth_app(system, ctx.settings)
    except ConnectError as exc:
        detail = f"Cannot connect {NAMES[service]}: {exc}."
        raise HTTPException(status_code=400, detail=detail) from exc
    now = time.monotonic()
    for stale in [s for s, (_, _, until) in ctx.oauth_states.items() if until < now]:
        ctx.oauth_states.pop(stale, None)
    state = secrets.token_urlsafe(24)
    ctx.oauth_states[state] = (service, connection_id, now + STATE_SECONDS)
    response = RedirectResponse(app.authorize_link(state), status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=int(STATE_SECONDS),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/oauth",
    )
    return response


@router.get("/oauth/{service}/callback", include_in_schema=False)
async def callback(request: Request, service: str, state: str = "", error: str = "") -> Response:
    """Where the service sends the browser back: check the state, store the grant."""
    system = _service(service)
    ctx = context_of(request)
    if principal_of(request) is None:
        return RedirectResponse("/login?next=%2Fconnections", status_code=303)
    pending = ctx.oauth_states.pop(state, None) if state else None
    cookie = request.cookies.get(STATE_COOKIE, "")
    fresh = pending is not None and pending[0] == service and pending[2] >= time.monotonic()
    if pending is None or not fresh or not secrets.compare_digest(cookie, state):
        raise HTTPException(
            status_code=400,
            detail=f"This {NAMES[service]} authorization was not started here or has expired: "
            "start again from Connections.",
        )
    if error:
        raise HTTPException(
            status_code=400, detail=f"{NAMES[service]} did not authorize the connection: {error}."
        )
    settings = ctx.settings
    assert settings is not None  # a flow only starts with settings
    query = {k: v for k, v in request.query_params.items()}
    if "code" not in query:
        raise HTTPException(status_code=400, detail=f"{NAMES[service]} sent no code.")
    try:
        cid = await complete_grant(
            oauth_app(system, settings),
            ctx.store,
            query,
            settings=settings,
            connection_id=pending[1],
        )
    except (ConnectError, SyncError) as exc:
        raise HTTPException(status_code=400, detail=f"Not connected: {exc}.") from exc
    await in_thread(lambda: audit(request, "connect", connection_id=cid, target=service))
    if ctx.wake is not None:
        ctx.wake(cid)
    response = RedirectResponse(f"/connections?connected={service}", status_code=303)
    response.delete_cookie(STATE_COOKIE, path="/oauth")
    return response
