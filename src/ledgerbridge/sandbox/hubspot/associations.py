"""Associations v4: default and labelled, single and batch, list by type, labels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .errors import HubSpotError, validation
from .http import batch_envelope, inputs_of, int_param, json_body, json_object
from .schema import OBJECT_TYPES, association_type, association_types, default_association
from .schema import resolve_type as rt
from .state import SandboxState

MAX_BATCH_READ = 1000
MAX_LIST = 500


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox.state
    return state


def _spec_with_label(from_type: str, to_type: str, type_id: int) -> dict[str, Any]:
    spec = association_type(from_type, to_type, type_id)
    return {
        "category": "HUBSPOT_DEFINED",
        "typeId": type_id,
        "label": spec.label if spec else None,
    }


def _labels(from_type: str, to_type: str, type_ids: set[int]) -> list[str]:
    out = []
    for type_id in sorted(type_ids):
        spec = association_type(from_type, to_type, type_id)
        if spec is not None and spec.label:
            out.append(spec.label)
    return out


def _type_ids(from_type: str, to_type: str, specs: Any) -> list[int]:
    if not isinstance(specs, list) or not specs:
        raise validation("types must be a non-empty list of association specs")
    ids = []
    for spec in specs:
        category = spec.get("associationCategory")
        if category not in ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"):
            raise validation(f"Invalid associationCategory {category}")
        type_id = int(spec.get("associationTypeId", 0))
        if association_type(from_type, to_type, type_id) is None:
            raise validation(
                f"associationTypeId {type_id} is not valid from {from_type} to {to_type}",
                sub_category="crm.associations.INVALID_ASSOCIATION_TYPE",
            )
        ids.append(type_id)
    return ids


def _default_type(from_type: str, to_type: str) -> int:
    spec = default_association(from_type, to_type)
    if spec is None:
        raise validation(
            f"No default association exists between {from_type} and {to_type}",
            sub_category="crm.associations.INVALID_OBJECT_TYPE_COMBINATION",
        )
    return spec.type_id


def _default_result(from_type: str, from_id: str, to_type: str, to_id: str) -> list[dict[str, Any]]:
    type_id = _default_type(from_type, to_type)
    spec = association_type(from_type, to_type, type_id)
    results = [
        {
            "from": {"id": from_id},
            "to": {"id": to_id},
            "associationSpec": {
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": type_id,
            },
        }
    ]
    if spec is not None and spec.reverse_id is not None:
        results.append(
            {
                "from": {"id": to_id},
                "to": {"id": from_id},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": spec.reverse_id,
                },
            }
        )
    return results


def _pair_result(
    state: SandboxState, from_type: str, from_id: str, to_type: str, to_id: str
) -> dict[str, Any]:
    ids = state.associations.get((from_type, from_id, to_type, to_id), set())
    return {
        "fromObjectTypeId": OBJECT_TYPES[from_type].type_id,
        "fromObjectId": int(from_id),
        "toObjectTypeId": OBJECT_TYPES[to_type].type_id,
        "toObjectId": int(to_id),
        "labels": _labels(from_type, to_type, ids),
    }


def build_router() -> APIRouter:
    router = APIRouter()
    _pair_routes(router)
    _batch_routes(router)
    return router


def _pair_routes(router: APIRouter) -> None:
    """Associations of one record: create, delete, list."""
    single = "/crm/v4/objects/{from_type}/{from_id}/associations"

    @router.put(single + "/default/{to_type}/{to_id}")
    async def create_default(
        from_type: str, from_id: str, to_type: str, to_id: str, request: Request
    ) -> dict[str, Any]:
        state, a, b = _state(request), rt(from_type), rt(to_type)
        started = state.now_ms()
        state.associate(a, from_id, b, to_id, _default_type(a, b))
        results = _default_result(a, from_id, b, to_id)
        return batch_envelope(results, [], started, state.now_ms())

    @router.put(single + "/{to_type}/{to_id}")
    async def create_labelled(
        from_type: str, from_id: str, to_type: str, to_id: str, request: Request
    ) -> JSONResponse:
        state, a, b = _state(request), rt(from_type), rt(to_type)
        type_ids = _type_ids(a, b, await json_body(request))
        for type_id in type_ids:
            state.associate(a, from_id, b, to_id, type_id)
        return JSONResponse(_pair_result(state, a, from_id, b, to_id), status_code=201)

    @router.delete(single + "/{to_type}/{to_id}")
    async def delete_pair(
        from_type: str, from_id: str, to_type: str, to_id: str, request: Request
    ) -> Response:
        _state(request).disassociate(rt(from_type), from_id, rt(to_type), to_id)
        return Response(status_code=204)

    @router.get(single + "/{to_type}")
    async def list_by_type(
        from_type: str, from_id: str, to_type: str, request: Request
    ) -> dict[str, Any]:
        state, a, b = _state(request), rt(from_type), rt(to_type)
        state.get(a, from_id)
        limit = int_param(request, "limit", MAX_LIST)
        if limit < 1 or limit > MAX_LIST:
            raise validation(f"limit must be between 1 and {MAX_LIST}")
        after = int_param(request, "after", 0)
        items = [(k, v) for k, v in state.associated(a, from_id, b).items() if int(k) > after]
        page = items[:limit]
        body: dict[str, Any] = {
            "results": [
                {
                    "toObjectId": int(to_id),
                    "associationTypes": [_spec_with_label(a, b, t) for t in sorted(ids)],
                }
                for to_id, ids in page
            ]
        }
        if len(items) > limit:
            body["paging"] = {"next": {"after": page[-1][0]}}
        return body


def _batch_routes(router: APIRouter) -> None:
    """Associations in batches, and the association labels."""
    _batch_create_routes(router)
    _batch_read_routes(router)


def _batch_create_routes(router: APIRouter) -> None:
    """Creating associations in batches (labelled or default)."""
    batch = "/crm/v4/associations/{from_type}/{to_type}"

    @router.post(batch + "/batch/create")
    async def batch_create(from_type: str, to_type: str, request: Request) -> JSONResponse:
        state, a, b = _state(request), rt(from_type), rt(to_type)
        body = await json_object(request)
        started = state.now_ms()
        results, errors = [], []
        for item in inputs_of(body, 2000):
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            try:
                for type_id in _type_ids(a, b, item.get("types")):
                    state.associate(a, from_id, b, to_id, type_id)
            except HubSpotError as exc:
                errors.append(exc.standard_error(from_id))
                continue
            results.append(_pair_result(state, a, from_id, b, to_id))
        envelope = batch_envelope(results, errors, started, state.now_ms())
        return JSONResponse(envelope, status_code=207 if errors else 201)

    @router.post(batch + "/batch/associate/default")
    async def batch_default(from_type: str, to_type: str, request: Request) -> JSONResponse:
        state, a, b = _state(request), rt(from_type), rt(to_type)
        body = await json_object(request)
        started = state.now_ms()
        type_id = _default_type(a, b)
        results, errors = [], []
        for item in inputs_of(body, 2000):
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            try:
                state.associate(a, from_id, b, to_id, type_id)
            except HubSpotError as exc:
                errors.append(exc.standard_error(from_id))
                continue
            results.extend(_default_result(a, from_id, b, to_id))
        envelope = batch_envelope(results, errors, started, state.now_ms())
        return JSONResponse(envelope, status_code=207 if errors else 200)


def _batch_read_routes(router: APIRouter) -> None:
    """Reading, archiving and unlabelling associations in batches; the labels."""
    batch = "/crm/v4/associations/{from_type}/{to_type}"

    @router.post(batch + "/batch/read")
    async def batch_read(from_type: str, to_type: str, request: Request) -> JSONResponse:
        state, a, b = _state(request), rt(from_type), rt(to_type)
        body = await json_object(request)
        started = state.now_ms()
        results, errors = [], []
        for item in inputs_of(body, MAX_BATCH_READ):
            from_id = str(item.get("id", ""))
            found = state.associated(a, from_id, b)
            if state.find(a, from_id) is None or not found:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "message": f"No {b} is associated with "
                        f"{OBJECT_TYPES[a].singular} {from_id}.",
                        "context": {"fromObjectId": [from_id]},
                        "errors": [],
                        "links": {},
                    }
                )
                continue
            results.append(
                {
                    "from": {"id": from_id},
                    "to": [
                        {
                            "toObjectId": int(to_id),
                            "associationTypes": [_spec_with_label(a, b, t) for t in sorted(ids)],
                        }
                        for to_id, ids in found.items()
                    ],
                }
            )
        envelope = batch_envelope(results, errors, started, state.now_ms())
        return JSONResponse(envelope, status_code=207 if errors else 200)

    @router.post(batch + "/batch/archive")
    async def batch_archive(from_type: str, to_type: str, request: Request) -> Response:
        state, a, b = _state(request), rt(from_type), rt(to_type)
        body = await json_object(request)
        for item in inputs_of(body, 2000):
            from_id = str((item.get("from") or {}).get("id", ""))
            for to in item.get("to") or []:
                state.disassociate(a, from_id, b, str(to.get("id", "")))
        return Response(status_code=204)

    @router.post(batch + "/batch/labels/archive")
    async def batch_archive_labels(from_type: str, to_type: str, request: Request) -> Response:
        state, a, b = _state(request), rt(from_type), rt(to_type)
        body = await json_object(request)
        for item in inputs_of(body, 2000):
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            ids = set(_type_ids(a, b, item.get("types")))
            state.disassociate(a, from_id, b, to_id, ids)
        return Response(status_code=204)

    @router.get("/crm/associations/v4/{from_type}/{to_type}/labels")  # the spec's spelling
    @router.get(batch + "/labels")
    async def labels(from_type: str, to_type: str, request: Request) -> dict[str, Any]:
        a, b = rt(from_type), rt(to_type)
        return {
            "results": [
                {"category": "HUBSPOT_DEFINED", "typeId": t.type_id, "label": t.label}
                for t in association_types(a, b)
            ]
        }
