"""Signed webhook delivery (legacy `eventNotifications` or CloudEvents), with delay, batching
and retries. Deliveries run as background asyncio tasks on an injectable httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import httpx

from ledgerbridge.sandbox.qbo.config import WebhookSettings
from ledgerbridge.sandbox.qbo.operations import Event
from ledgerbridge.sandbox.qbo.util import qbo_time

_VERBS = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Void": "voided",
    "Merge": "merged",
    "Emailed": "emailed",
}


def sign(body: bytes, verifier_token: str) -> str:
    """The `intuit-signature` header: base64(HMAC-SHA256(body, verifier token))."""
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def legacy_payload(events: list[Event]) -> dict[str, Any]:
    by_realm: dict[str, list[dict[str, str]]] = {}
    for event in events:
        by_realm.setdefault(event.realm_id, []).append(
            {
                "name": event.entity,
                "id": event.entity_id,
                "operation": event.operation,
                "lastUpdated": event.when,
            }
        )
    return {
        "eventNotifications": [
            {"realmId": realm_id, "dataChangeEvent": {"entities": entities}}
            for realm_id, entities in by_realm.items()
        ]
    }


def cloudevents_payload(events: list[Event]) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": uuid.uuid4().hex,
            "source": "intuit.sandbox.ledgerbridge",
            "type": f"qbo.{event.entity.lower()}.{_VERBS.get(event.operation, 'updated')}.v1",
            "datacontenttype": "application/json",
            "time": event.when,
            "intuitentityid": event.entity_id,
            "intuitaccountid": event.realm_id,
            "data": {},
        }
        for event in events
    ]


@dataclass
class Delivery:
    """One POST attempt (what `GET /_sandbox/webhooks/deliveries` lists)."""

    id: int
    attempt: int
    url: str
    status: int | None
    error: str | None
    body: str
    signature: str
    events: int
    time: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class WebhookDispatcher:
    def __init__(
        self,
        settings: WebhookSettings,
        now: Callable[[], datetime],
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self._now = now
        self._client = client
        self._owns_client = client is None
        self._pending: list[Event] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_id = 0
        self.deliveries: list[Delivery] = []

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    def publish(self, events: list[Event]) -> None:
        """Queue events; they go out after the delay, batched within the batch window."""
        if not events or not self.settings.url:
            return
        self._pending.extend(events)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            wait = max(self.settings.delay_seconds, self.settings.batch_window_seconds)
            self._spawn(self._flush_later(wait))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush_later(self, wait: float) -> None:
        if wait > 0:
            await asyncio.sleep(wait)
        events, self._pending = self._pending, []
        self._flush_scheduled = False
        if events:
            await self._deliver(events)

    def body_for(self, events: list[Event]) -> bytes:
        payload: Any = (
            cloudevents_payload(events)
            if self.settings.format == "cloudevents"
            else legacy_payload(events)
        )
        return json.dumps(payload, separators=(",", ":")).encode()

    async def _deliver(self, events: list[Event]) -> None:
        url = self.settings.url
        if not url:
            return
        body = self.body_for(events)
        signature = sign(body, self.settings.verifier_token)
        self._next_id += 1
        delivery_id = self._next_id
        headers = {"Content-Type": "application/json", "intuit-signature": signature}
        waits = [0.0, *self.settings.retry_schedule]
        for attempt, wait in enumerate(waits, start=1):
            if wait > 0:
                await asyncio.sleep(wait)
            status: int | None = None
            error: str | None = None
            try:
                response = await self.client.post(
                    url, content=body, headers=headers, timeout=self.settings.timeout_seconds
                )
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.deliveries.append(
                Delivery(
                    delivery_id,
                    attempt,
                    url,
                    status,
                    error,
                    body.decode(),
                    signature,
                    len(events),
                    qbo_time(self._now()),
                )
            )
            if status is not None and 200 <= status < 300:
                return

    async def drain(self) -> None:
        """Wait until every queued and retrying delivery is finished (tests use this)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
