"""Custom workflow actions: the definition API, callbacks, and a small flow runner.

A flow (defined through `POST /_sandbox/flows`, see docs/sandbox-hubspot.md) is an
object type, an enrollment filter (search `filterGroups`) and ordered actions. A
record is enrolled once, when it starts matching after a change. Each action calls
its definition's `actionUrl` with HubSpot's execution payload, signed with the v2
`X-HubSpot-Signature` (and v3). The response's `outputFields.hs_execution_state`
decides what happens: SUCCESS (default) and FAIL_CONTINUE go on, BLOCK waits for
`POST /automation/v4/actions/callbacks/{callbackId}/complete`. A failed call (after
the retry schedule for 429/5xx/connection errors) fails the execution.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .errors import not_found, validation
from .http import bool_param, inputs_of, json_object
from .schema import OBJECT_TYPES, resolve_type
from .search import matches_filter, validate_filter_groups
from .signing import signed_headers
from .state import ChangeEvent
from .values import iso_ms

if TYPE_CHECKING:
    from .app import Sandbox

RETRY_STATUSES = {429, 500, 502, 503, 504}


class FlowRunner:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.executions: list[dict[str, Any]] = []
        self.enrolled: dict[str, set[str]] = {}
        self.callbacks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: dict[asyncio.Task[None], dict[str, Any]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._next_execution = 1
        self.deliveries: dict[str, tuple[str, dict[str, Any]]] = {}  # callbackId -> (url, payload)
        self._in_flight: set[str] = set()  # callbackIds whose execution request is being sent
        self._early: dict[str, dict[str, Any]] = {}  # completions that beat the BLOCK answer

    # ------------------------------------------------------------ flows

    def define_flow(self, body: dict[str, Any]) -> dict[str, Any]:
        state = self.sandbox.state
        object_type = resolve_type(str(body.get("objectType", "")))
        enrollment = body.get("enrollmentFilter") or {}
        groups = validate_filter_groups(
            enrollment.get("filterGroups"), state.prop_defs(object_type)
        )
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            raise validation("a flow needs a non-empty list of actions")
        for action in actions:
            definition_id = str(action.get("definitionId", ""))
            if definition_id not in state.action_definitions:
                raise validation(f"unknown action definition {definition_id}")
        flow: dict[str, Any] = {
            "id": state.new_id(),
            "name": str(body.get("name", "Flow")),
            "objectType": object_type,
            "enrollmentFilter": {"filterGroups": groups},
            "actions": [
                {
                    "definitionId": str(a["definitionId"]),
                    "inputFields": dict(a.get("inputFields") or {}),
                    "inputFieldProperties": dict(a.get("inputFieldProperties") or {}),
                }
                for a in actions
            ],
            "active": bool(body.get("active", True)),
        }
        state.flows[flow["id"]] = flow
        return flow

    def on_event(self, event: ChangeEvent) -> None:
        if not any(
            f["active"] and f["objectType"] == event.object_type
            for f in self.sandbox.state.flows.values()
        ):
            return
        self._dirty.add((event.object_type, event.object_id))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_soon(self._evaluate)

    def _evaluate(self) -> None:
        dirty, self._dirty = self._dirty, set()
        state = self.sandbox.state
        for object_type, object_id in sorted(dirty):
            record = state.find(object_type, object_id)
            for flow in state.flows.values():
                if not flow["active"] or flow["objectType"] != object_type:
                    continue
                enrolled = self.enrolled.setdefault(flow["id"], set())
                if record is None or object_id in enrolled:
                    continue
                groups = flow["enrollmentFilter"]["filterGroups"]
                defs = state.prop_defs(object_type)
                if not groups or any(
                    all(matches_filter(record, f, defs) for f in g["filters"]) for g in groups
                ):
                    self.enroll(flow, object_id)

    def enroll(self, flow: dict[str, Any], object_id: str) -> dict[str, Any]:
        self.enrolled.setdefault(flow["id"], set()).add(object_id)
        execution: dict[str, Any] = {
            "id": str(self._next_execution),
            "flowId": flow["id"],
            "objectType": flow["objectType"],
            "objectId": object_id,
            "enrolledAt": iso_ms(self.sandbox.state.now_ms()),
            "status": "RUNNING",
            "actions": [],
        }
        self._next_execution += 1
        self.executions.append(execution)
        task = asyncio.get_running_loop().create_task(self._run(flow, execution))
        self._tasks[task] = execution
        task.add_done_callback(lambda done: self._tasks.pop(done, None))
        return execution

    async def drain(self) -> None:
        """Wait for enrollments and executions in progress (blocked ones excepted)."""
        await asyncio.sleep(0)
        if self._dirty:
            self._evaluate()
        while True:
            waiting = [
                t for t, e in self._tasks.items() if not t.done() and e["status"] != "BLOCKED"
            ]
            if not waiting:
                return
            await asyncio.wait(waiting, timeout=0.05)

    # ------------------------------------------------------------ execution

    async def _run(self, flow: dict[str, Any], execution: dict[str, Any]) -> None:
        state = self.sandbox.state
        for index, action in enumerate(flow["actions"]):
            definition = state.action_definitions.get(action["definitionId"])
            callback_id = (
                f"ap-{self.sandbox.config.portal_id}-{execution['objectId']}"
                f"-{execution['id']}-{index}"
            )
            step: dict[str, Any] = {
                "definitionId": action["definitionId"],
                "callbackId": callback_id,
                "state": "PENDING",
                "outputFields": {},
                "error": None,
                "httpStatus": None,
            }
            execution["actions"].append(step)
            if definition is None:
                step.update(state="ERROR", error="action definition no longer exists")
                execution["status"] = "FAILED"
                return
            payload = self._payload(flow, execution, action, definition, callback_id)
            self.deliveries[callback_id] = (definition["actionUrl"], payload)
            self._in_flight.add(callback_id)
            try:
                outcome = await self._call(definition["actionUrl"], payload, step)
            finally:
                self._in_flight.discard(callback_id)
            if outcome is None:
                execution["status"] = "FAILED"
                return
            outputs = outcome.get("outputFields") or {}
            step["outputFields"] = outputs
            exec_state = str(outputs.get("hs_execution_state", "SUCCESS")).upper()
            if exec_state == "BLOCK":
                step["state"] = "BLOCKED"
                execution["status"] = "BLOCKED"
                completion = self._early.pop(callback_id, None)
                if completion is None:
                    loop = asyncio.get_running_loop()
                    future: asyncio.Future[dict[str, Any]] = loop.create_future()
                    self.callbacks[callback_id] = future
                    completion = await future
                    self.callbacks.pop(callback_id, None)
                execution["status"] = "RUNNING"
                outputs = completion.get("outputFields") or {}
                step["outputFields"] = {**step["outputFields"], **outputs}
                exec_state = str(outputs.get("hs_execution_state", "SUCCESS")).upper()
            step["state"] = "FAIL_CONTINUE" if exec_state == "FAIL_CONTINUE" else "SUCCESS"
            step["completedAt"] = iso_ms(state.now_ms())
        execution["status"] = "COMPLETED"

    def _payload(
        self,
        flow: dict[str, Any],
        execution: dict[str, Any],
        action: dict[str, Any],
        definition: dict[str, Any],
        callback_id: str,
    ) -> dict[str, Any]:
        state = self.sandbox.state
        record = state.objects[flow["objectType"]].get(execution["objectId"])
        props = record.properties if record else {}
        inputs = {k: str(v) for k, v in action["inputFields"].items()}
        for field, prop in action["inputFieldProperties"].items():
            inputs[field] = props.get(prop, "")
        wanted = (definition.get("objectRequestOptions") or {}).get("properties") or []
        return {
            "callbackId": callback_id,
            "origin": {
                "portalId": self.sandbox.config.portal_id,
                "actionDefinitionId": int(definition["id"]),
                "actionDefinitionVersion": int(definition["revisionId"]),
                "extensionDefinitionId": int(definition["id"]),
                "extensionDefinitionVersionId": int(definition["revisionId"]),
            },
            "context": {"source": "WORKFLOWS", "workflowId": int(flow["id"])},
            "object": {
                "objectId": int(execution["objectId"]),
                "objectType": OBJECT_TYPES[flow["objectType"]].workflow_name,
                "properties": {p: props.get(p, "") for p in wanted},
            },
            "fields": inputs,
            "inputFields": inputs,
        }

    async def _call(
        self, url: str, payload: dict[str, Any], step: dict[str, Any]
    ) -> dict[str, Any] | None:
        cfg = self.sandbox.config
        body = json.dumps(payload)
        schedule = list(cfg.webhook_retry_schedule)
        attempt = 0
        async with self.sandbox.http_client(cfg.webhook_timeout_seconds) as client:
            while True:
                timestamp = int(cfg.clock() * 1000)
                headers = signed_headers(
                    cfg.app_client_secret, "POST", url, body, timestamp, legacy="v2"
                )
                try:
                    response = await client.post(url, content=body.encode(), headers=headers)
                    step["httpStatus"] = response.status_code
                    if response.is_success:
                        try:
                            parsed = response.json() if response.content else {}
                        except ValueError:
                            parsed = {}
                        return parsed if isinstance(parsed, dict) else {}
                    step["error"] = f"HTTP {response.status_code}: {response.text[:500]}"
                    retry = response.status_code in RETRY_STATUSES
                except httpx.HTTPError as exc:
                    step["error"] = f"{type(exc).__name__}: {exc}"
                    retry = True
                if not retry or attempt >= len(schedule):
                    step["state"] = "ERROR"
                    return None
                await asyncio.sleep(schedule[attempt])
                attempt += 1

    async def redeliver(self, callback_id: str) -> dict[str, Any]:
        """Send an execution request again, with its original callbackId (HubSpot re-sends
        after a time-out); the answer does not change the execution's recorded state."""
        found = self.deliveries.get(callback_id)
        if found is None:
            raise not_found(f"No action execution with callbackId {callback_id}")
        url, payload = found
        attempt: dict[str, Any] = {"callbackId": callback_id, "error": None, "httpStatus": None}
        outcome = await self._call(url, payload, attempt)
        attempt["outputFields"] = (outcome or {}).get("outputFields") or {}
        attempt["delivered"] = outcome is not None
        for execution in self.executions:
            for step in execution["actions"]:
                if step["callbackId"] == callback_id:
                    step.setdefault("redeliveries", []).append(attempt)
        return attempt

    def complete(self, callback_id: str, body: dict[str, Any]) -> None:
        future = self.callbacks.get(callback_id)
        if future is None and callback_id in self._in_flight and callback_id not in self._early:
            self._early[callback_id] = body  # the app completed before its BLOCK answer arrived
            return
        if future is None or future.done():
            raise not_found(f"No blocked action execution with callbackId {callback_id}")
        future.set_result(body)


# ------------------------------------------------------------------ definitions API

REQUIRED_DEFINITION = ("actionUrl", "objectTypes", "inputFields", "labels")


def _definition(state_id: str, revision: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": state_id,
        "revisionId": str(revision),
        "actionUrl": str(body["actionUrl"]),
        "published": bool(body.get("published", False)),
        "objectTypes": list(body["objectTypes"]),
        "inputFields": list(body.get("inputFields") or []),
        "outputFields": list(body.get("outputFields") or []),
        "labels": dict(body.get("labels") or {}),
        "functions": list(body.get("functions") or []),
        "inputFieldDependencies": list(body.get("inputFieldDependencies") or []),
        "executionRules": list(body.get("executionRules") or []),
        "objectRequestOptions": body.get("objectRequestOptions") or {"properties": []},
    }


def build_router() -> APIRouter:
    router = APIRouter()
    base = "/automation/v4/actions"

    def _sandbox(request: Request, app_id: str | None = None) -> Sandbox:
        sandbox: Sandbox = request.app.state.sandbox
        if app_id is not None and app_id != str(sandbox.config.app_id):
            raise not_found(f"App {app_id} not found")
        return sandbox

    @router.post(base + "/callbacks/complete")
    async def complete_batch(request: Request) -> Response:
        sandbox = _sandbox(request)
        for item in inputs_of(await json_object(request)):
            sandbox.workflows.complete(str(item.get("callbackId", "")), item)
        return Response(status_code=204)

    @router.post(base + "/callbacks/{callback_id}/complete")
    async def complete_one(callback_id: str, request: Request) -> Response:
        body = await json_object(request)
        if not isinstance(body.get("outputFields"), dict):
            raise validation("outputFields is required")
        _sandbox(request).workflows.complete(callback_id, body)
        return Response(status_code=204)

    @router.post(base + "/{app_id}")
    async def create_definition(app_id: str, request: Request) -> JSONResponse:
        sandbox = _sandbox(request, app_id)
        body = await json_object(request)
        missing = [k for k in REQUIRED_DEFINITION if k not in body]
        if missing:
            raise validation(f"Missing required fields: {', '.join(missing)}")
        if not (body.get("labels") or {}).get("en", body.get("labels", {})):
            raise validation("labels are required")
        definition = _definition(sandbox.state.new_id(), 1, body)
        sandbox.state.action_definitions[definition["id"]] = definition
        return JSONResponse(definition, status_code=201)

    @router.get(base + "/{app_id}")
    async def list_definitions(app_id: str, request: Request) -> dict[str, Any]:
        sandbox = _sandbox(request, app_id)
        archived = bool_param(request, "archived")
        return {
            "results": [
                d
                for d in sandbox.state.action_definitions.values()
                if bool(d.get("archivedAt")) == archived
            ]
        }

    def _get(sandbox: Sandbox, definition_id: str) -> dict[str, Any]:
        found = sandbox.state.action_definitions.get(definition_id)
        if found is None:
            raise not_found(f"Action definition {definition_id} not found")
        return found

    @router.get(base + "/{app_id}/{definition_id}")
    async def get_definition(app_id: str, definition_id: str, request: Request) -> dict[str, Any]:
        return _get(_sandbox(request, app_id), definition_id)

    @router.patch(base + "/{app_id}/{definition_id}")
    async def patch_definition(app_id: str, definition_id: str, request: Request) -> dict[str, Any]:
        sandbox = _sandbox(request, app_id)
        current = _get(sandbox, definition_id)
        body = await json_object(request)
        merged = {**current, **body}
        updated = _definition(definition_id, int(current["revisionId"]) + 1, merged)
        sandbox.state.action_definitions[definition_id] = updated
        return updated

    @router.delete(base + "/{app_id}/{definition_id}")
    async def archive_definition(app_id: str, definition_id: str, request: Request) -> Response:
        sandbox = _sandbox(request, app_id)
        _get(sandbox, definition_id)["archivedAt"] = sandbox.state.now_ms()
        return Response(status_code=204)

    return router
