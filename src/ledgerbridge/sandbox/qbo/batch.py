"""`POST /batch`: up to 30 independent items, each answered with its object or its Fault."""

from __future__ import annotations

from typing import Any

from ledgerbridge.sandbox.qbo import faults, operations, query
from ledgerbridge.sandbox.qbo.entities import ENTITIES, Ctx
from ledgerbridge.sandbox.qbo.operations import Event
from ledgerbridge.sandbox.qbo.state import Obj

MAX_ITEMS = 30
MAX_BID_WITH_REQUESTID = 10


def run_batch(ctx: Ctx, body: Any, with_requestid: bool) -> tuple[Obj, list[Event]]:
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise faults.required_missing("BatchItemRequest")
    if len(items) > MAX_ITEMS:
        raise faults.invalid_request(
            f"Number of BatchItemRequest is {len(items)}; the maximum is {MAX_ITEMS}.",
            "BatchItemRequest",
        )
    if with_requestid:
        for item in items:
            if len(str(item.get("bId", ""))) > MAX_BID_WITH_REQUESTID:
                raise faults.invalid_request(
                    f"bId must be at most {MAX_BID_WITH_REQUESTID} characters when a "
                    "requestid is given.",
                    "bId",
                )
    answers: list[Obj] = []
    events: list[Event] = []
    for item in items:
        bid = str(item.get("bId", ""))
        try:
            if not bid:
                raise faults.required_missing("bId")
            answer, item_events = _one(ctx, item)
            answers.append({"bId": bid, **answer})
            events.extend(item_events)
        except faults.QboFault as fault:
            answers.append({"bId": bid, "Fault": fault.fault()})
    return {"BatchItemResponse": answers}, events


def _one(ctx: Ctx, item: Obj) -> tuple[Obj, list[Event]]:
    if "Query" in item:
        return {"QueryResponse": query.run(ctx.realm, str(item["Query"]))}, []
    names = [k for k in item if k in ENTITIES]
    if len(names) != 1:
        raise faults.invalid_request("Each batch item needs exactly one entity or a Query.")
    entity = names[0]
    body = item[entity]
    if not isinstance(body, dict):
        raise faults.invalid_request(f"{entity} must be an object.", entity)
    operation = str(item.get("operation", "create")).lower()
    options = str(item.get("optionsData", "")).lower()
    ctx.include = {o.strip() for o in options.split(",") if o.strip()}
    if operation == "create":
        obj, events = operations.create(ctx, entity, body)
    elif operation == "update":
        if "void" in ctx.include:
            obj, events = operations.void(ctx, entity, body)
        else:
            obj, events = operations.update(ctx, entity, body)
    elif operation == "delete":
        obj, events = operations.delete(ctx, entity, body)
    elif operation == "void":
        obj, events = operations.void(ctx, entity, body)
    else:
        raise faults.unsupported_operation(operation, entity)
    return {entity: obj}, events
