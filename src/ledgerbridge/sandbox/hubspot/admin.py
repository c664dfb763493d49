"""The sandbox's own admin API under `/_sandbox/…` (not part of HubSpot).

See docs/sandbox-hubspot.md for the endpoint list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .commerce import next_number
from .errors import not_found, validation
from .http import json_object
from .schema import resolve_type
from .state import SOURCE_CRM_UI

if TYPE_CHECKING:
    from .app import Sandbox


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def build_router() -> APIRouter:
    router = APIRouter(prefix="/_sandbox")
    _state_routes(router)
    _user_routes(router)
    _flow_routes(router)
    return router


def _state_routes(router: APIRouter) -> None:
    """The sandbox itself: its configuration, reset, settling, webhook deliveries."""

    @router.get("/config")
    async def get_config(request: Request) -> dict[str, Any]:
        cfg = _sandbox(request).config
        return {
            "portalId": cfg.portal_id,
            "appId": cfg.app_id,
            "knobs": cfg.runtime_knobs(),
        }

    @router.patch("/config")
    async def patch_config(request: Request) -> dict[str, Any]:
        sandbox = _sandbox(request)
        rejected = sandbox.config.apply_knobs(await json_object(request))
        if rejected:
            raise validation(f"Unknown or invalid knobs: {', '.join(rejected)}")
        return {"knobs": sandbox.config.runtime_knobs()}

    @router.post("/reset")
    async def reset(request: Request) -> dict[str, Any]:
        body = await json_object(request)
        seed = body.get("seed")
        _sandbox(request).reset(int(seed) if seed is not None else None)
        return {"reset": True, "seed": seed}

    @router.post("/settle")
    async def settle(request: Request) -> dict[str, Any]:
        sandbox = _sandbox(request)
        await sandbox.settle()
        return {"pendingWebhookEvents": len(sandbox.webhooks.pending)}

    @router.get("/webhooks/deliveries")
    async def deliveries(request: Request) -> dict[str, Any]:
        return {"results": _sandbox(request).webhooks.deliveries}

    # -- acting as a HubSpot user (records made "in HubSpot")


def _user_routes(router: APIRouter) -> None:
    """What a HubSpot user does by hand: records, associations, finalizing an invoice."""

    @router.post("/objects/{object_type}")
    async def create_as_user(object_type: str, request: Request) -> JSONResponse:
        sandbox = _sandbox(request)
        body = await json_object(request)
        record = sandbox.state.create(
            resolve_type(object_type), dict(body.get("properties") or {}), source=SOURCE_CRM_UI
        )
        return JSONResponse(record.to_api(list(record.properties)), status_code=201)

    @router.patch("/objects/{object_type}/{object_id}")
    async def update_as_user(object_type: str, object_id: str, request: Request) -> dict[str, Any]:
        sandbox = _sandbox(request)
        body = await json_object(request)
        record = sandbox.state.update(
            resolve_type(object_type),
            object_id,
            dict(body.get("properties") or {}),
            source=SOURCE_CRM_UI,
        )
        return record.to_api(list(record.properties))

    @router.put("/associations/{from_type}/{from_id}/{to_type}/{to_id}/{type_id}")
    async def associate_as_user(
        from_type: str, from_id: str, to_type: str, to_id: str, type_id: int, request: Request
    ) -> dict[str, Any]:
        state = _sandbox(request).state
        a, b = resolve_type(from_type), resolve_type(to_type)
        state.associate(a, from_id, b, to_id, type_id, source=SOURCE_CRM_UI)
        return {"fromId": from_id, "toId": to_id, "typeId": type_id}

    @router.post("/invoices/{invoice_id}/finalize")
    async def finalize(invoice_id: str, request: Request) -> dict[str, Any]:
        """Emulate a user finalizing a draft invoice (draft → open, number assigned)."""
        state = _sandbox(request).state
        record = state.get("invoices", invoice_id)
        changes = {"hs_invoice_status": "open"}
        if not record.properties.get("hs_number"):
            changes["hs_number"] = next_number(state)
        state.update("invoices", invoice_id, changes, source=SOURCE_CRM_UI)
        return record.to_api(list(record.properties))

    # -- flows (custom workflow action runner)


def _flow_routes(router: APIRouter) -> None:
    """Workflows (flows): define, list, enroll, and their executions."""

    @router.post("/flows")
    async def define_flow(request: Request) -> JSONResponse:
        flow = _sandbox(request).workflows.define_flow(await json_object(request))
        return JSONResponse(flow, status_code=201)

    @router.get("/flows")
    async def list_flows(request: Request) -> dict[str, Any]:
        return {"results": list(_sandbox(request).state.flows.values())}

    @router.get("/flows/executions")
    async def executions(request: Request) -> dict[str, Any]:
        runner = _sandbox(request).workflows
        flow_id = request.query_params.get("flowId")
        results = [e for e in runner.executions if flow_id in (None, e["flowId"])]
        return {"results": results}

    @router.post("/flows/callbacks/{callback_id}/redeliver")
    async def redeliver(callback_id: str, request: Request) -> dict[str, Any]:
        """Send an action execution again with its original callbackId."""
        return await _sandbox(request).workflows.redeliver(callback_id)

    @router.get("/flows/{flow_id}")
    async def get_flow(flow_id: str, request: Request) -> dict[str, Any]:
        flow: dict[str, Any] | None = _sandbox(request).state.flows.get(flow_id)
        if flow is None:
            raise not_found(f"Flow {flow_id} not found")
        return flow

    @router.post("/flows/{flow_id}/enroll")
    async def enroll(flow_id: str, request: Request) -> JSONResponse:
        sandbox = _sandbox(request)
        flow = sandbox.state.flows.get(flow_id)
        if flow is None:
            raise not_found(f"Flow {flow_id} not found")
        body = await json_object(request)
        object_id = str(body.get("objectId", ""))
        sandbox.state.get(flow["objectType"], object_id)
        execution = sandbox.workflows.enroll(flow, object_id)
        return JSONResponse(execution, status_code=201)
