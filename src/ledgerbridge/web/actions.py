"""Workflow action executions in: `POST /actions/hubspot/{action}` (R-WF).

1. verify HubSpot's v3 signature (the app's client secret, 5-minute freshness): forged,
   altered or stale → 401, nothing else happens (no parse, no store, no QBO);
2. parse the execution request; malformed → 400; unknown action → 404;
3. hand it to `WorkflowActionService.accept`, which answers at once: BLOCK (the action
   runs in the background and completes through the callbacks API), or the recorded
   outputs of a re-delivered execution that already finished.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from ledgerbridge.hubspot.actions import (
    ActionKind,
    InvalidExecution,
    parse_execution,
    verify_execution,
)
from ledgerbridge.operations.workflow_actions.service import WorkflowActionService

__all__ = ["ACTIONS_PATH", "actions_router"]

log = logging.getLogger(__name__)

ACTIONS_PATH = "/actions/hubspot/{action}"
MAX_BODY_BYTES = 1_000_000


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message}, status_code=status)


def _signed_uris(request: Request, public_url: str | None) -> list[str]:
    """The URIs HubSpot may have signed: the one received, and the registered action URL
    (`public_url` + path), which differs behind a proxy that changes scheme or host."""
    uris = [str(request.url)]
    if public_url:
        query = f"?{request.url.query}" if request.url.query else ""
        registered = f"{public_url.rstrip('/')}{request.url.path}{query}"
        if registered not in uris:
            uris.append(registered)
    return uris


def actions_router(
    service: WorkflowActionService,
    client_secret: SecretStr | None,
    *,
    public_url: str | None = None,
    now: Callable[[], dt.datetime] = _utc_now,
) -> APIRouter:
    """The execution endpoint; without a client secret every request is refused (401)."""
    router = APIRouter()

    @router.post(ACTIONS_PATH, include_in_schema=False, response_model=None)
    async def execute_action(action: str, request: Request) -> JSONResponse | dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "body too large")
        at = now()
        if client_secret is None or not any(
            verify_execution(
                request.method, uri, body, request.headers, client_secret.get_secret_value(), at
            )
            for uri in _signed_uris(request, public_url)
        ):
            log.warning("workflow action request refused: missing, invalid or stale signature")
            return _error(401, "invalid signature")
        try:
            kind = ActionKind(action)
        except ValueError:
            return _error(404, f"unknown workflow action {action!r}")
        try:
            execution = parse_execution(body)
        except InvalidExecution as exc:
            log.warning("workflow action request refused: %s", exc)
            return _error(400, "malformed execution request")
        return await service.accept(kind, execution)

    return router
