"""The sandbox's own admin API under `/_sandbox/…` (not part of QBO). No auth: it is local.

- `GET  /_sandbox/config`                     runtime knobs
- `PATCH /_sandbox/config`                    change knobs: `{"faults": {...}, "rate_limits": {...},
                                              "webhook": {...}, "static_token": "..."}`
- `GET  /_sandbox/realms`                     realms and their company settings
- `PATCH /_sandbox/realms/{realm}/settings`   change company settings (country, custom_txn_numbers,
                                              revenue_recognition, multi_currency, ...)
- `POST /_sandbox/realms/{realm}/reset`       fresh company (creates the realm if new);
                                              body `{"seed": N}` optional, `{"settings": {...}}`
- `GET  /_sandbox/clock`, `POST /_sandbox/clock` `{"advance_seconds": S}` or `{"set": ISO}`
                                              (only with a FakeClock)
- `GET  /_sandbox/webhooks/deliveries`, `DELETE` the same to clear the list
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ValidationError

from ledgerbridge.sandbox.qbo.config import CompanySettings, FakeClock
from ledgerbridge.sandbox.qbo.core import Sandbox
from ledgerbridge.sandbox.qbo.util import parse_datetime, qbo_time

router = APIRouter(prefix="/_sandbox")


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise HTTPException(422, "expected a JSON object")
    return data


def patch_model(model: BaseModel, data: dict[str, Any]) -> None:
    """Validate `data` against the model's type and apply it in place."""
    unknown = set(data) - set(type(model).model_fields)
    if unknown:
        raise HTTPException(422, f"unknown fields: {sorted(unknown)}")
    try:
        merged = type(model).model_validate({**model.model_dump(), **data})
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False)) from exc
    for name in data:
        setattr(model, name, getattr(merged, name))


@router.get("/config")
async def get_config(request: Request) -> dict[str, Any]:
    return _sandbox(request).config.knobs()


@router.patch("/config")
async def patch_config(request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    data = await _body(request)
    config = sandbox.config
    reseed = "faults" in data
    for section in ("faults", "rate_limits", "webhook"):
        if section in data:
            patch_model(getattr(config, section), data.pop(section))
    if reseed:  # a fresh, reproducible sequence of injected faults
        sandbox.rng.seed(config.faults.seed)
    allowed = {"static_token", "access_token_ttl_seconds", "refresh_token_ttl_seconds"}
    unknown = set(data) - allowed
    if unknown:
        raise HTTPException(422, f"unknown or read-only fields: {sorted(unknown)}")
    if data:
        patch_model(config, data)
    return config.knobs()


@router.get("/realms")
async def list_realms(request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    return {rid: r.settings.model_dump(mode="json") for rid, r in sandbox.realms.items()}


@router.patch("/realms/{realm_id}/settings")
async def patch_settings(request: Request, realm_id: str) -> dict[str, Any]:
    sandbox = _sandbox(request)
    realm = sandbox.realms.get(realm_id)
    if realm is None:
        raise HTTPException(404, f"unknown realm {realm_id}")
    patch_model(realm.settings, await _body(request))
    sandbox.apply_settings(realm)
    sandbox.persist()
    return realm.settings.model_dump(mode="json")


@router.post("/realms/{realm_id}/reset")
async def reset_realm(request: Request, realm_id: str) -> dict[str, Any]:
    sandbox = _sandbox(request)
    data = await _body(request)
    settings = None
    if "settings" in data:
        try:
            settings = CompanySettings.model_validate(data["settings"])
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False)) from exc
    seed = data.get("seed")
    realm = sandbox.reset_realm(realm_id, settings, seed=int(seed) if seed is not None else None)
    sandbox.persist()
    counts = {entity: len(rows) for entity, rows in realm.objects.items()}
    return {
        "realm_id": realm_id,
        "settings": realm.settings.model_dump(mode="json"),
        "counts": counts,
    }


@router.get("/clock")
async def get_clock(request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    return {"now": qbo_time(sandbox.now()), "fake": isinstance(sandbox.config.clock, FakeClock)}


@router.post("/clock")
async def set_clock(request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    clock = sandbox.config.clock
    if not isinstance(clock, FakeClock):
        raise HTTPException(409, "the sandbox runs on the real clock (start it with a FakeClock)")
    data = await _body(request)
    if "set" in data:
        clock.set(parse_datetime(str(data["set"])))
    if "advance_seconds" in data:
        clock.advance(float(data["advance_seconds"]))
    return {"now": qbo_time(sandbox.now()), "fake": True}


@router.get("/webhooks/deliveries")
async def deliveries(request: Request) -> list[dict[str, Any]]:
    return [d.as_dict() for d in _sandbox(request).webhooks.deliveries]


@router.delete("/webhooks/deliveries")
async def clear_deliveries(request: Request) -> dict[str, Any]:
    _sandbox(request).webhooks.deliveries.clear()
    return {"cleared": True}
