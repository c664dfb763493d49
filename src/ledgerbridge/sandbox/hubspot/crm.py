"""CRM v3 objects (CRUD, list, batch, search) and the properties API."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import commerce
from .errors import HubSpotError, conflict, not_found, validation
from .http import (
    batch_envelope,
    bool_param,
    csv_param,
    inputs_of,
    int_param,
    json_object,
)
from .schema import OBJECT_TYPES, PropertyDef, association_type, resolve_type
from .search import search
from .state import Record, SandboxState
from .values import iso_ms

MAX_LIST_LIMIT = 100
MAX_UNIQUE_PROPERTIES = 10


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox.state
    return state


def _associations_block(state: SandboxState, record: Record, to_types: list[str]) -> dict[str, Any]:
    block: dict[str, Any] = {}
    for raw in to_types:
        to_type = resolve_type(raw)
        results = []
        for to_id, type_ids in state.associated(record.object_type, record.id, to_type).items():
            for type_id in sorted(type_ids):
                spec = association_type(record.object_type, to_type, type_id)
                results.append({"id": to_id, "type": spec.v3_name if spec else str(type_id)})
        if results:
            block[raw] = {"results": results}
    return block


def _render(state: SandboxState, record: Record, request: Request) -> dict[str, Any]:
    body = record.to_api(
        csv_param(request, "properties") or None, csv_param(request, "propertiesWithHistory")
    )
    assoc = csv_param(request, "associations")
    if assoc:
        body["associations"] = _associations_block(state, record, assoc)
    return body


def _create_associations(object_type: str, raw: Any) -> list[tuple[str, str, int]]:
    """Parse `associations:[{to:{id}, types:[{associationCategory, associationTypeId}]}]`."""
    if not raw:
        return []
    if not isinstance(raw, list):
        raise validation("associations must be a list")
    out: list[tuple[str, str, int]] = []
    for item in raw:
        to_id = str((item.get("to") or {}).get("id", ""))
        for spec in item.get("types") or []:
            type_id = int(spec.get("associationTypeId", 0))
            to_type = _to_type_for(object_type, type_id)
            out.append((to_type, to_id, type_id))
    return out


def _to_type_for(object_type: str, type_id: int) -> str:
    for name in OBJECT_TYPES:
        if association_type(object_type, name, type_id) is not None:
            return name
    raise validation(
        f"{type_id} is not a valid association type id for {object_type}",
        sub_category="crm.associations.INVALID_ASSOCIATION_TYPE",
    )


def _written(record: Record) -> dict[str, Any]:
    """Create / update responses carry every property that has a value (as HubSpot's do)."""
    return record.to_api(sorted(record.properties))


def _properties_of(body: dict[str, Any]) -> dict[str, Any]:
    props = body.get("properties", {})
    if not isinstance(props, dict):
        raise validation("properties must be an object")
    return props


def build_router() -> APIRouter:
    router = APIRouter()
    _object_routes(router)
    _batch_read_create_routes(router)
    _batch_change_routes(router)
    _properties_routes(router)
    return router


def _object_routes(router: APIRouter) -> None:
    """One object at a time: list, create, read, update, archive, search."""
    base = "/crm/v3/objects/{object_type}"

    @router.get(base)
    async def list_objects(object_type: str, request: Request) -> dict[str, Any]:
        state, name = _state(request), resolve_type(object_type)
        limit = int_param(request, "limit", 10)
        if limit < 1 or limit > MAX_LIST_LIMIT:
            raise validation(f"limit must be between 1 and {MAX_LIST_LIMIT}")
        after = int_param(request, "after", 0)
        archived = bool_param(request, "archived")
        records = sorted(
            (
                r
                for r in state.objects[name].values()
                if r.archived == archived and int(r.id) > after
            ),
            key=lambda r: int(r.id),
        )
        page = records[:limit]
        body: dict[str, Any] = {"results": [_render(state, r, request) for r in page]}
        if len(records) > limit:
            next_after = str(int(page[-1].id))
            link = f"{request.url.path}?after={next_after}"
            body["paging"] = {"next": {"after": next_after, "link": link}}
        return body

    @router.post(base)
    async def create_object(object_type: str, request: Request) -> JSONResponse:
        state, name = _state(request), resolve_type(object_type)
        body = await json_object(request)
        assoc = _create_associations(name, body.get("associations"))
        record = state.create(name, _properties_of(body), associations=assoc)
        return JSONResponse(_written(record), status_code=201)

    @router.get(base + "/{object_id}")
    async def read_object(object_type: str, object_id: str, request: Request) -> dict[str, Any]:
        state, name = _state(request), resolve_type(object_type)
        id_property = request.query_params.get("idProperty")
        if bool_param(request, "archived"):
            record = state.objects[name].get(object_id)
            if record is None or not record.archived:
                raise not_found()
        else:
            record = state.get(name, object_id, id_property)
        return _render(state, record, request)

    @router.patch(base + "/{object_id}")
    async def update_object(object_type: str, object_id: str, request: Request) -> dict[str, Any]:
        state, name = _state(request), resolve_type(object_type)
        body = await json_object(request)
        record = state.update(
            name,
            object_id,
            _properties_of(body),
            id_property=request.query_params.get("idProperty"),
        )
        return _written(record)

    @router.delete(base + "/{object_id}")
    async def archive_object(object_type: str, object_id: str, request: Request) -> Response:
        _state(request).archive(resolve_type(object_type), object_id)
        return Response(status_code=204)

    @router.post(base + "/search")
    async def search_objects(object_type: str, request: Request) -> dict[str, Any]:
        state, name = _state(request), resolve_type(object_type)
        return search(state, name, await json_object(request))


def _batch_read_create_routes(router: APIRouter) -> None:
    """Batch reads and creates."""
    base = "/crm/v3/objects/{object_type}"

    @router.post(base + "/batch/read")
    async def batch_read(object_type: str, request: Request) -> JSONResponse:
        state, name = _state(request), resolve_type(object_type)
        body = await json_object(request)
        started = state.now_ms()
        id_property = body.get("idProperty")
        props = body.get("properties") or None
        history = body.get("propertiesWithHistory") or None
        results, missing = [], []
        seen: set[str] = set()
        for item in inputs_of(body):
            key = str(item.get("id", ""))
            record = state.find(name, key, id_property)
            if record is None:
                missing.append(key)
            elif record.id not in seen:
                seen.add(record.id)
                results.append(record.to_api(props, history))
        errors = []
        if missing:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {name} objects, they may be deleted "
                    "or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                    "errors": [],
                    "links": {},
                }
            )
        return _batch_response(results, errors, started, state.now_ms(), 200)

    @router.post(base + "/batch/create")
    async def batch_create(object_type: str, request: Request) -> JSONResponse:
        state, name = _state(request), resolve_type(object_type)
        body = await json_object(request)
        started = state.now_ms()
        results, errors = [], []
        with _totals_once(state, name):
            for item in inputs_of(body):
                try:
                    assoc = _create_associations(name, item.get("associations"))
                    record = state.create(name, _properties_of(item), associations=assoc)
                except HubSpotError as exc:
                    errors.append(exc.standard_error())
                    continue
                results.append(_written(record))
        return _batch_response(results, errors, started, state.now_ms(), 201)


def _batch_change_routes(router: APIRouter) -> None:
    """Batch updates, upserts and archives."""
    base = "/crm/v3/objects/{object_type}"

    @router.post(base + "/batch/update")
    async def batch_update(object_type: str, request: Request) -> JSONResponse:
        state, name = _state(request), resolve_type(object_type)
        body = await json_object(request)
        started = state.now_ms()
        inputs = inputs_of(body)
        _reject_duplicates([str(i.get("id", "")) for i in inputs])
        results, errors = [], []
        with _totals_once(state, name):
            for item in inputs:
                key = str(item.get("id", ""))
                try:
                    record = state.update(
                        name, key, _properties_of(item), id_property=item.get("idProperty")
                    )
                except HubSpotError as exc:
                    errors.append(exc.standard_error(key))
                    continue
                results.append(_written(record))
        return _batch_response(results, errors, started, state.now_ms(), 200)

    @router.post(base + "/batch/upsert")
    async def batch_upsert(object_type: str, request: Request) -> JSONResponse:
        state, name = _state(request), resolve_type(object_type)
        body = await json_object(request)
        started = state.now_ms()
        inputs = inputs_of(body)
        _reject_duplicates([str(i.get("id", "")) for i in inputs])
        results, errors = [], []
        with _totals_once(state, name):
            for item in inputs:
                key = str(item.get("id", ""))
                id_property = item.get("idProperty")
                try:
                    if not id_property or id_property == "hs_object_id":
                        raise validation("Upsert needs an idProperty with unique values")
                    props = _properties_of(item)
                    existing = state.find(name, key, id_property)
                    if existing is not None:
                        record = state.update(name, existing.id, props)
                        is_new = False
                    else:
                        record = state.create(name, {**props, id_property: key})
                        is_new = True
                except HubSpotError as exc:
                    errors.append(exc.standard_error(key))
                    continue
                results.append({**_written(record), "new": is_new})
        return _batch_response(results, errors, started, state.now_ms(), 200)

    @router.post(base + "/batch/archive")
    async def batch_archive(object_type: str, request: Request) -> Response:
        state, name = _state(request), resolve_type(object_type)
        body = await json_object(request)
        for item in inputs_of(body):
            state.archive(name, str(item.get("id", "")))
        return Response(status_code=204)


def _reject_duplicates(ids: list[str]) -> None:
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise validation(
            f"Duplicate IDs found in batch input: {dupes}. IDs must be unique",
            sub_category="crm.objects.DUPLICATE_IDS",
        )


def _totals_once(state: SandboxState, object_type: str) -> AbstractContextManager[None]:
    """A batch of lines or payments: each invoice's totals once, after the batch (the
    results are the lines or payments themselves, so none of them is stale)."""
    if object_type in ("line_items", "commerce_payments"):
        return commerce.totals_once(state)
    return nullcontext()


def _batch_response(
    results: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    started: int,
    done: int,
    ok_status: int,
) -> JSONResponse:
    status = 207 if errors else ok_status
    return JSONResponse(batch_envelope(results, errors, started, done), status_code=status)


# ------------------------------------------------------------------ properties

PROPERTY_TYPES = {"string", "number", "date", "datetime", "enumeration", "bool"}


def _properties_routes(router: APIRouter) -> None:
    """Property definitions (`/crm/v3/properties`)."""
    _property_read_routes(router)
    _property_write_routes(router)


def _property_read_routes(router: APIRouter) -> None:
    """Reading property definitions and groups."""
    base = "/crm/v3/properties/{object_type}"

    @router.get(base)
    async def list_properties(object_type: str, request: Request) -> dict[str, Any]:
        defs = _state(request).prop_defs(resolve_type(object_type))
        return {"results": [p.to_api() for p in defs.values()]}

    @router.get(base + "/groups")
    async def list_groups(object_type: str, request: Request) -> dict[str, Any]:
        defs = _state(request).prop_defs(resolve_type(object_type))
        groups = sorted({p.group_name for p in defs.values()})
        return {
            "results": [
                {
                    "name": g,
                    "label": g.replace("_", " ").title(),
                    "displayOrder": i,
                    "archived": False,
                }
                for i, g in enumerate(groups)
            ]
        }

    @router.get(base + "/{property_name}")
    async def read_property(
        object_type: str, property_name: str, request: Request
    ) -> dict[str, Any]:
        defs = _state(request).prop_defs(resolve_type(object_type))
        if property_name not in defs:
            raise not_found(f"Unable to find property {property_name}")
        return defs[property_name].to_api()


def _property_write_routes(router: APIRouter) -> None:
    """Creating, changing and deleting property definitions."""
    base = "/crm/v3/properties/{object_type}"

    @router.post(base)
    async def create_property(object_type: str, request: Request) -> JSONResponse:
        state, name = _state(request), resolve_type(object_type)
        body = await json_object(request)
        defs = state.prop_defs(name)
        missing = [
            k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)
        ]
        if missing:
            raise validation(f"Missing required fields: {', '.join(missing)}")
        prop_name = str(body["name"])
        if prop_name in defs:
            raise conflict(f"Property named '{prop_name}' already exists.")
        if body["type"] not in PROPERTY_TYPES:
            raise validation(f"Unknown property type {body['type']}")
        unique = bool(body.get("hasUniqueValue", False))
        if unique and sum(p.has_unique_value for p in defs.values()) >= MAX_UNIQUE_PROPERTIES:
            raise validation(
                f"Only {MAX_UNIQUE_PROPERTIES} properties with unique values are allowed per object"
            )
        stamp = iso_ms(state.now_ms())
        definition = PropertyDef(
            name=prop_name,
            label=str(body["label"]),
            type=str(body["type"]),
            field_type=str(body["fieldType"]),
            group_name=str(body["groupName"]),
            description=str(body.get("description", "")),
            options=list(body.get("options") or []),
            has_unique_value=unique,
            hubspot_defined=False,
            created_at=stamp,
            updated_at=stamp,
            display_order=int(body.get("displayOrder", -1)),
        )
        defs[prop_name] = definition
        return JSONResponse(definition.to_api(), status_code=201)

    @router.patch(base + "/{property_name}")
    async def update_property(
        object_type: str, property_name: str, request: Request
    ) -> dict[str, Any]:
        state = _state(request)
        defs = state.prop_defs(resolve_type(object_type))
        definition = defs.get(property_name)
        if definition is None:
            raise not_found(f"Unable to find property {property_name}")
        if definition.hubspot_defined:
            raise validation(f"{property_name} is a HubSpot-defined property and cannot be changed")
        body = await json_object(request)
        for key, attr in (
            ("label", "label"),
            ("description", "description"),
            ("groupName", "group_name"),
        ):
            if key in body:
                setattr(definition, attr, str(body[key]))
        if "options" in body:
            definition.options = list(body["options"] or [])
        definition.updated_at = iso_ms(state.now_ms())
        return definition.to_api()

    @router.delete(base + "/{property_name}")
    async def delete_property(object_type: str, property_name: str, request: Request) -> Response:
        defs = _state(request).prop_defs(resolve_type(object_type))
        definition = defs.get(property_name)
        if definition is None:
            raise not_found(f"Unable to find property {property_name}")
        if definition.hubspot_defined:
            raise validation(f"{property_name} is a HubSpot-defined property and cannot be deleted")
        del defs[property_name]
        return Response(status_code=204)
