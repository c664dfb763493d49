"""The QBO Accounting API v3 routes under `/v3/company/{realmId}/…`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledgerbridge.sandbox.qbo import faults, operations, pdf, query
from ledgerbridge.sandbox.qbo.batch import run_batch
from ledgerbridge.sandbox.qbo.core import Sandbox
from ledgerbridge.sandbox.qbo.entities import PATH_TO_ENTITY, PDF_ENTITIES, Ctx, public
from ledgerbridge.sandbox.qbo.operations import Event
from ledgerbridge.sandbox.qbo.state import Obj
from ledgerbridge.sandbox.qbo.util import dumps, loads, parse_datetime, qbo_time

router = APIRouter()
JSON = "application/json;charset=UTF-8"


@dataclass
class Outcome:
    payload: Obj | None = None
    events: list[Event] = field(default_factory=list)
    content: bytes | None = None
    media_type: str = JSON


Handler = Callable[[Ctx], Outcome]


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def _entity(name: str) -> str:
    entity = PATH_TO_ENTITY.get(name.lower())
    if entity is None:
        raise faults.invalid_request(f"Unsupported entity in the URL: {name}")
    return entity


def _json_body(raw: bytes) -> Any:
    if not raw.strip():
        raise faults.invalid_request("The request body is empty.")
    try:
        return loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise faults.invalid_request(f"Request body is not valid JSON: {exc}") from exc


def _include(request: Request) -> set[str]:
    raw = request.query_params.get("include", "")
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


async def _hang(request: Request, seconds: float) -> None:
    """Timeout after commit: hold the response back until the client gives up (or `seconds`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))


async def serve(
    request: Request,
    realm_id: str,
    handler: Handler,
    *,
    write: bool = False,
    batch: bool = False,
) -> Response:
    """Auth, throttles, fault injection and requestid replay around one API call."""
    sandbox = _sandbox(request)
    now = sandbox.now()
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    reason = "Token invalid" if scheme.lower() != "bearer" or not token.strip() else None
    reason = reason or sandbox.oauth.check_bearer(token.strip(), realm_id, now)
    if reason:
        return faults.unauthorized_response(reason, now)
    realm = sandbox.realms.get(realm_id)
    if realm is None:
        fault = faults.unknown_realm(realm_id)
        return Response(dumps(faults.fault_body(fault, now)), fault.status, media_type=JSON)
    if not sandbox.limiter.admit(realm_id, now, batch=batch):
        return faults.throttled_response(now, as_json=sandbox.config.rate_limits.json_429)
    try:
        knobs = sandbox.config.faults
        if knobs.latency_seconds > 0:
            await asyncio.sleep(knobs.latency_seconds)
        request_id = request.query_params.get("requestid")
        if request_id:
            limit = 36 if batch else 50
            if len(request_id) > limit:
                fault = faults.invalid_request(
                    f"requestid must be at most {limit} characters.", "requestid"
                )
                return _fault_response(fault, now)
            stored = realm.responses.get(request_id)
            if stored is not None:
                return Response(stored["body"], int(stored["status"]), media_type=JSON)
        if sandbox.roll(knobs.rate_429):
            return faults.throttled_response(now, as_json=sandbox.config.rate_limits.json_429)
        if sandbox.roll(knobs.rate_500):
            return _fault_response(faults.system_failure(), now)
        ctx = sandbox.ctx(realm, _include(request))
        try:
            outcome = handler(ctx)
        except faults.QboFault as fault:
            return _fault_response(fault, ctx.now)
        if outcome.content is not None:
            return Response(outcome.content, 200, media_type=outcome.media_type)
        body = dumps({**(outcome.payload or {}), "time": qbo_time(ctx.now)})
        if write:
            if request_id:
                realm.responses[request_id] = {"status": 200, "body": body}
            sandbox.persist()
            sandbox.webhooks.publish(outcome.events)
            if sandbox.roll(knobs.timeout_after_commit_rate):
                await _hang(request, knobs.hang_seconds)
        return Response(body, 200, media_type=JSON)
    finally:
        sandbox.limiter.release(realm_id)


def _fault_response(fault: faults.QboFault, now: Any) -> Response:
    return Response(dumps(faults.fault_body(fault, now)), fault.status, media_type=JSON)


# ---- routes -------------------------------------------------------------------------------

BASE = "/v3/company/{realm_id}"


@router.get(BASE + "/query")
async def query_get(request: Request, realm_id: str) -> Response:
    text = request.query_params.get("query", "")
    return await serve(request, realm_id, lambda ctx: _query(ctx, text))


@router.post(BASE + "/query")
async def query_post(request: Request, realm_id: str) -> Response:
    text = request.query_params.get("query") or (await request.body()).decode("utf-8", "replace")
    return await serve(request, realm_id, lambda ctx: _query(ctx, text))


def _query(ctx: Ctx, text: str) -> Outcome:
    if not text.strip():
        raise faults.query_error("The query is empty.")
    return Outcome({"QueryResponse": query.run(ctx.realm, text)})


@router.get(BASE + "/cdc")
async def cdc(request: Request, realm_id: str) -> Response:
    entities = request.query_params.get("entities", "")
    since = request.query_params.get("changedSince", "")

    def handler(ctx: Ctx) -> Outcome:
        names = query.parse_entities(entities)
        if not since:
            raise faults.required_missing("changedSince")
        try:
            when = parse_datetime(since)
        except ValueError as exc:
            raise faults.invalid_request(f"Invalid changedSince: {since}", "changedSince") from exc
        return Outcome({"CDCResponse": [query.cdc(ctx.realm, names, when, ctx.now)]})

    return await serve(request, realm_id, handler)


@router.post(BASE + "/batch")
async def batch(request: Request, realm_id: str) -> Response:
    raw = await request.body()
    with_requestid = bool(request.query_params.get("requestid"))

    def handler(ctx: Ctx) -> Outcome:
        payload, events = run_batch(ctx, _json_body(raw), with_requestid)
        return Outcome(payload, events)

    return await serve(request, realm_id, handler, write=True, batch=True)


@router.get(BASE + "/companyinfo/{company_id}")
async def company_info(request: Request, realm_id: str, company_id: str) -> Response:
    return await serve(
        request,
        realm_id,
        lambda ctx: Outcome({"CompanyInfo": operations.read(ctx, "CompanyInfo", "1")}),
    )


@router.get(BASE + "/preferences")
async def preferences(request: Request, realm_id: str) -> Response:
    return await serve(
        request,
        realm_id,
        lambda ctx: Outcome({"Preferences": operations.read(ctx, "Preferences", "1")}),
    )


@router.get(BASE + "/{entity_path}/{entity_id}")
async def read(request: Request, realm_id: str, entity_path: str, entity_id: str) -> Response:
    def handler(ctx: Ctx) -> Outcome:
        entity = _entity(entity_path)
        return Outcome({entity: operations.read(ctx, entity, entity_id)})

    return await serve(request, realm_id, handler)


@router.get(BASE + "/{entity_path}/{entity_id}/pdf")
async def read_pdf(request: Request, realm_id: str, entity_path: str, entity_id: str) -> Response:
    def handler(ctx: Ctx) -> Outcome:
        entity = _entity(entity_path)
        if entity not in PDF_ENTITIES:
            raise faults.unsupported_operation("pdf", entity)
        doc = operations.read(ctx, entity, entity_id)
        voided = f"{entity}:{entity_id}" in ctx.realm.voided
        content = pdf.render(entity, doc, ctx.realm.settings.company_name, voided)
        return Outcome(content=content, media_type="application/pdf")

    return await serve(request, realm_id, handler)


@router.post(BASE + "/{entity_path}/{entity_id}/send")
async def send(request: Request, realm_id: str, entity_path: str, entity_id: str) -> Response:
    send_to = request.query_params.get("sendTo")

    def handler(ctx: Ctx) -> Outcome:
        entity = _entity(entity_path)
        if entity not in ("Invoice", "Estimate", "SalesReceipt", "CreditMemo", "RefundReceipt"):
            raise faults.unsupported_operation("send", entity)
        old = ctx.realm.get(entity, entity_id)
        if old is None:
            raise faults.not_found(entity, entity_id)
        address = send_to or (old.get("BillEmail") or {}).get("Address")
        if not address:
            raise faults.business_error("An email address is required to send.", "BillEmail")
        new = dict(old)
        new["BillEmail"] = {"Address": address}
        new["EmailStatus"] = "EmailSent"
        new["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": qbo_time(ctx.now)}
        stored = ctx.realm.replace(entity, old, new, ctx.now)
        event = Event(ctx.realm.realm_id, entity, entity_id, "Emailed", qbo_time(ctx.now))
        return Outcome({entity: public(stored)}, [event])

    return await serve(request, realm_id, handler, write=True)


@router.post(BASE + "/{entity_path}")
async def write(request: Request, realm_id: str, entity_path: str) -> Response:
    raw = await request.body()
    operation = (request.query_params.get("operation") or "").lower()

    def handler(ctx: Ctx) -> Outcome:
        entity = _entity(entity_path)
        body = _json_body(raw)
        if not isinstance(body, dict):
            raise faults.invalid_request("The request body must be a JSON object.")
        if len(body) == 1 and entity in body and isinstance(body[entity], dict):
            body = body[entity]  # tolerate the wrapped form {"Invoice": {...}}
        has_id = body.get("Id") not in (None, "", 0, Decimal(0))
        if operation == "delete":
            obj, events = operations.delete(ctx, entity, body)
        elif operation == "void" or (operation == "update" and "void" in ctx.include):
            obj, events = operations.void(ctx, entity, body)
        elif operation in ("", "update", "create"):
            if has_id:
                obj, events = operations.update(ctx, entity, body)
            else:
                obj, events = operations.create(ctx, entity, body)
        else:
            raise faults.unsupported_operation(operation, entity)
        return Outcome({entity: obj}, events)

    return await serve(request, realm_id, handler, write=True)
