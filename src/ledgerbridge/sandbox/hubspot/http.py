"""Small request helpers shared by the routers."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from .errors import validation
from .values import iso_ms


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise validation(f"Invalid input JSON on line 1: {exc}") from exc


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise validation("The request body must be a JSON object")
    return body


def csv_param(request: Request, name: str) -> list[str]:
    """A list query parameter given repeated (`a=1&a=2`) or comma-separated (`a=1,2`)."""
    out: list[str] = []
    for value in request.query_params.getlist(name):
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise validation(f"{name} must be an integer") from exc


def batch_envelope(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], started: int, done: int
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(done),
    }
    if errors:
        body["errors"] = errors
        body["numErrors"] = len(errors)
    return body


def inputs_of(body: dict[str, Any], limit: int = 100) -> list[Any]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation("inputs is required and must be a list")
    if len(inputs) > limit:
        raise validation(
            f"Batch input is too large: {len(inputs)} inputs; the limit is {limit}",
            sub_category="crm.objects.BATCH_SIZE_EXCEEDED",
        )
    return inputs
