"""Webhooks: the subscription-management API and signed, batched delivery with retries.

Events are queued as the portal changes; after `webhook_delivery_delay` seconds the
queue is sent to the target URL in batches of at most `webhook_batch_size`, each a
JSON array signed with the v3 signature (and the legacy v1 one). A batch that fails
(connection error, timeout, 429, 5xx or any status other than 2xx, 400, 401, 403,
404, 405) is retried after each delay of `webhook_retry_schedule`, with
`attemptNumber` increased. The target URL is `config.webhook_target_url` when set,
otherwise the `targetUrl` of `/webhooks/v3/{appId}/settings`.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .errors import not_found, validation
from .http import batch_envelope, inputs_of, json_object
from .schema import OBJECT_TYPES
from .signing import signed_headers
from .state import ChangeEvent
from .values import iso_ms

if TYPE_CHECKING:
    from .app import Sandbox

NO_RETRY = {400, 401, 403, 404, 405}
GENERIC_KINDS = ("creation", "deletion", "propertyChange", "associationChange", "merge", "restore")


class WebhookDispatcher:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.pending: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._flush: asyncio.Task[None] | None = None
        self._event_id = 1

    # --------------------------------------------------------- event intake

    def _subscriptions(self) -> list[dict[str, Any]]:
        state = self.sandbox.state
        subs = [s for s in state.webhook_subscriptions.values() if s.get("active")]
        if not state.webhook_subscriptions and self.sandbox.config.webhook_target_url:
            # Convenience: a target URL with no subscriptions receives every generic event.
            subs = [
                {"id": "0", "eventType": f"object.{kind}", "active": True} for kind in GENERIC_KINDS
            ]
        return subs

    def on_event(self, event: ChangeEvent) -> None:
        if self.target_url() is None:
            return
        object_type = OBJECT_TYPES[event.object_type]
        for sub in self._subscriptions():
            event_type = str(sub["eventType"])
            prefix, _, kind = event_type.partition(".")
            if kind != event.kind:
                continue
            if prefix == "object":
                wanted = sub.get("objectTypeId")
                if wanted and wanted != object_type.type_id:
                    continue
            elif prefix != object_type.legacy_webhook_prefix:
                continue
            if event.kind == "propertyChange" and sub.get("propertyName") not in (
                None,
                "",
                event.property_name,
            ):
                continue
            self.pending.append(self._payload(sub, event_type, event))
        self.schedule()

    def _payload(self, sub: dict[str, Any], event_type: str, event: ChangeEvent) -> dict[str, Any]:
        cfg = self.sandbox.config
        payload: dict[str, Any] = {
            "eventId": self._event_id,
            "subscriptionId": int(sub["id"]),
            "portalId": cfg.portal_id,
            "appId": cfg.app_id,
            "occurredAt": event.occurred_at,
            "subscriptionType": event_type,
            "attemptNumber": 0,
            "changeSource": event.change_source,
        }
        self._event_id += 1
        if event.change_source == "INTEGRATION":
            payload["sourceId"] = str(cfg.app_id)
        if event_type.startswith("object."):
            payload["objectTypeId"] = OBJECT_TYPES[event.object_type].type_id
        if event.kind == "associationChange" and event.association:
            payload.update(event.association)
            return payload
        payload["objectId"] = int(event.object_id)
        if event.kind == "creation":
            payload["changeFlag"] = "CREATED"
        elif event.kind == "deletion":
            payload["changeFlag"] = "DELETED"
        elif event.kind == "propertyChange":
            payload["propertyName"] = event.property_name
            payload["propertyValue"] = event.property_value
        return payload

    # --------------------------------------------------------- delivery

    def target_url(self) -> str | None:
        if self.sandbox.config.webhook_target_url:
            return self.sandbox.config.webhook_target_url
        settings = self.sandbox.state.webhook_settings
        return str(settings["targetUrl"]) if settings else None

    def schedule(self) -> None:
        if not self.pending or (self._flush is not None and not self._flush.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (direct state use in sync code); `drain()` sends later
        self._flush = loop.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.sandbox.config.webhook_delivery_delay)
        size = max(1, self.sandbox.config.webhook_batch_size)
        while self.pending:
            batch, self.pending = self.pending[:size], self.pending[size:]
            task = asyncio.get_running_loop().create_task(self._deliver(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every queued event has been delivered (or given up on)."""
        self.schedule()
        while True:
            waiting: list[asyncio.Task[None]] = list(self._tasks)
            if self._flush is not None and not self._flush.done():
                waiting.append(self._flush)
            if not waiting:
                if self.pending:
                    self.schedule()
                    continue
                return
            await asyncio.gather(*waiting, return_exceptions=True)

    async def _deliver(self, batch: list[dict[str, Any]]) -> None:
        cfg = self.sandbox.config
        schedule = list(cfg.webhook_retry_schedule)
        attempt = 0
        async with self.sandbox.http_client(cfg.webhook_timeout_seconds) as client:
            while True:
                url = self.target_url()
                if url is None:
                    return
                for event in batch:
                    event["attemptNumber"] = attempt
                body = json.dumps(batch)
                timestamp = int(cfg.clock() * 1000)
                headers = signed_headers(cfg.app_client_secret, "POST", url, body, timestamp)
                record: dict[str, Any] = {
                    "id": len(self.deliveries) + 1,
                    "url": url,
                    "attemptNumber": attempt,
                    "eventCount": len(batch),
                    "events": json.loads(body),
                    "sentAt": iso_ms(timestamp),
                    "status": None,
                    "error": None,
                }
                self.deliveries.append(record)
                retry = True
                try:
                    response = await client.post(url, content=body.encode(), headers=headers)
                    record["status"] = response.status_code
                    if response.is_success or response.status_code in NO_RETRY:
                        retry = False
                except httpx.HTTPError as exc:
                    record["error"] = f"{type(exc).__name__}: {exc}"
                record["delivered"] = (
                    not retry and record["status"] is not None and (200 <= record["status"] < 300)
                )
                if not retry or attempt >= len(schedule):
                    return
                await asyncio.sleep(schedule[attempt])
                attempt += 1


# ------------------------------------------------------------------ management API


def _check_app(sandbox: Sandbox, app_id: str) -> None:
    if app_id != str(sandbox.config.app_id):
        raise not_found(f"App {app_id} not found")


def build_router() -> APIRouter:
    router = APIRouter()
    _settings_routes(router)
    _subscription_routes(router)
    return router


def _settings_routes(router: APIRouter) -> None:
    """The app's webhook settings (target URL, throttling)."""
    base = "/webhooks/v3/{app_id}"

    @router.get(base + "/settings")
    async def get_settings(app_id: str, request: Request) -> dict[str, Any]:
        sandbox: Sandbox = request.app.state.sandbox
        _check_app(sandbox, app_id)
        if sandbox.state.webhook_settings is None:
            raise not_found("No webhook settings found for this app")
        return sandbox.state.webhook_settings

    @router.put(base + "/settings")
    async def put_settings(app_id: str, request: Request) -> dict[str, Any]:
        sandbox: Sandbox = request.app.state.sandbox
        _check_app(sandbox, app_id)
        body = await json_object(request)
        if not body.get("targetUrl"):
            raise validation("targetUrl is required")
        now = iso_ms(sandbox.state.now_ms())
        previous = sandbox.state.webhook_settings or {}
        throttling = body.get("throttling") or {"maxConcurrentRequests": 10}
        sandbox.state.webhook_settings = {
            "targetUrl": str(body["targetUrl"]),
            "throttling": throttling,
            "createdAt": previous.get("createdAt", now),
            "updatedAt": now,
        }
        return sandbox.state.webhook_settings

    @router.delete(base + "/settings")
    async def delete_settings(app_id: str, request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        _check_app(sandbox, app_id)
        sandbox.state.webhook_settings = None
        return Response(status_code=204)


def _subscription_routes(router: APIRouter) -> None:
    """The app's webhook subscriptions."""
    base = "/webhooks/v3/{app_id}"

    @router.get(base + "/subscriptions")
    async def list_subscriptions(app_id: str, request: Request) -> dict[str, Any]:
        sandbox: Sandbox = request.app.state.sandbox
        _check_app(sandbox, app_id)
        return {"results": list(sandbox.state.webhook_subscriptions.values())}

    @router.post(base + "/subscriptions")
    async def create_subscription(app_id: str, request: Request) -> JSONResponse:
        sandbox: Sandbox = request.app.state.sandbox
        _check_app(sandbox, app_id)
        body = await json_object(request)
        event_type = str(body.get("eventType", ""))
        prefix, _, kind = event_type.partition(".")
        known = {o.legacy_webhook_prefix for o in OBJECT_TYPES.values()} | {"object"}
        if prefix not in known or kind not in GENERIC_KINDS:
            raise validation(f"Unsupported eventType {event_type}")
        if kind == "propertyChange" and not body.get("propertyName"):
            raise validation("propertyName is required for propertyChange subscriptions")
        if prefix == "object" and not body.get("objectTypeId"):
            raise validation("objectTypeId is required for generic object.* subscriptions")
        state = sandbox.state
        now = iso_ms(state.now_ms())
        sub: dict[str, Any] = {
            "id": state.new_id(),
            "eventType": event_type,
            "active": bool(body.get("active", False)),
            "createdAt": now,
            "updatedAt": now,
        }
        for key in ("propertyName", "objectTypeId"):
            if body.get(key):
                sub[key] = str(body[key])
        state.webhook_subscriptions[sub["id"]] = sub
        return JSONResponse(sub, status_code=201)

    def _sub(sandbox: Sandbox, app_id: str, sub_id: str) -> dict[str, Any]:
        _check_app(sandbox, app_id)
        sub = sandbox.state.webhook_subscriptions.get(sub_id)
        if sub is None:
            raise not_found(f"Subscription {sub_id} not found")
        return sub

    @router.post(base + "/subscriptions/batch/update")
    async def batch_update(app_id: str, request: Request) -> dict[str, Any]:
        sandbox: Sandbox = request.app.state.sandbox
        started = sandbox.state.now_ms()
        results = []
        for item in inputs_of(await json_object(request)):
            sub = _sub(sandbox, app_id, str(item.get("id")))
            sub["active"] = bool(item.get("active"))
            sub["updatedAt"] = iso_ms(sandbox.state.now_ms())
            results.append(sub)
        return batch_envelope(results, [], started, sandbox.state.now_ms())

    @router.get(base + "/subscriptions/{sub_id}")
    async def get_subscription(app_id: str, sub_id: str, request: Request) -> dict[str, Any]:
        return _sub(request.app.state.sandbox, app_id, sub_id)

    @router.patch(base + "/subscriptions/{sub_id}")
    async def patch_subscription(app_id: str, sub_id: str, request: Request) -> dict[str, Any]:
        sandbox: Sandbox = request.app.state.sandbox
        sub = _sub(sandbox, app_id, sub_id)
        body = await json_object(request)
        if "active" in body:
            sub["active"] = bool(body["active"])
        sub["updatedAt"] = iso_ms(sandbox.state.now_ms())
        return sub

    @router.delete(base + "/subscriptions/{sub_id}")
    async def delete_subscription(app_id: str, sub_id: str, request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        _sub(sandbox, app_id, sub_id)
        del sandbox.state.webhook_subscriptions[sub_id]
        return Response(status_code=204)
