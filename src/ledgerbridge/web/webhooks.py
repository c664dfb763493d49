"""Webhooks in: `POST /webhooks/hubspot` and `POST /webhooks/qbo`.

A webhook only wakes a connection's sync pass up; it never carries truth (the pass reads
the changes from the APIs). So an endpoint does no work in the request, which keeps it
far inside the senders' deadlines (QBO: 3 s, HubSpot: 5 s):

1. verify the signature (HubSpot v3 with the app's client secret, 5-minute freshness;
   QBO `intuit-signature` with the verifier token). Forged, altered or stale → 401,
   nothing else happens (no parse, no lookup, no wake);
2. parse the body; malformed → 400 (HubSpot and Intuit do not retry a 400);
3. map the portal / realm ids in it to connection ids (one store read) and call
   `wake(connection_id, pairs, known)` for each; answer 200. A delivery for an unknown
   portal or realm is acknowledged (200) and ignored, so the sender stops retrying it.

`pairs` are the object pairs whose rules the events concern; `known` names, for contacts
and products, the HubSpot records the events say were created or changed, so the woken
pass reads those records by id (one batch read: fresher than the search index, which lags
HubSpot's writes by seconds, and outside the search API's 4 a second) instead of searching
(issue 18). The ids are only which records to read, never their contents.

Secrets are never logged, and neither are bodies.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool

from ledgerbridge.hubspot.objects import ObjectType
from ledgerbridge.hubspot.webhooks import (
    InvalidWebhookPayload,
    WebhookEvent,
    parse_events,
    verify_signature_v3,
)
from ledgerbridge.qbo.webhooks import (
    WebhookPayloadError,
    parse_notifications,
    verify_intuit_signature,
)
from ledgerbridge.runtime.embedded import Known
from ledgerbridge.sync.rules import ObjectPair

__all__ = ["MAX_BODY_BYTES", "WebhookDirectory", "WebhookSecrets", "webhook_router"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 2_000_000
HUBSPOT_PATH = "/webhooks/hubspot"
QBO_PATH = "/webhooks/qbo"


class Wake(Protocol):
    """`wake(connection_id, pairs, known)`: pairs None means every rule; `known` (when given)
    says, for some of those pairs, which HubSpot records changed (`hubspot_known`)."""

    def __call__(
        self, connection_id: int, pairs: set[ObjectPair] | None, known: Known | None = None
    ) -> None: ...


class WebhookDirectory(Protocol):
    """Which connections a portal or realm belongs to (`store.directory.StoreDirectory`)."""

    def by_portal(self, portal_id: str) -> list[int]: ...

    def by_realm(self, realm_id: str) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class WebhookSecrets:
    """HubSpot: the app's client secret. QBO: the webhook verifier token.
    An endpoint whose secret is not configured refuses every delivery (401)."""

    hubspot_client_secret: SecretStr | None = None
    qbo_verifier_token: SecretStr | None = None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _answer(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse(
        {"status": "ok" if status == 200 else "error", "message": message, **extra},
        status_code=status,
    )


async def _body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = await request.body()
    return body if len(body) <= MAX_BODY_BYTES else None


HUBSPOT_PAIRS: dict[str, ObjectPair | None] = {
    "contacts": ObjectPair.CONTACTS_CUSTOMERS,
    "products": ObjectPair.PRODUCTS_ITEMS,
    "invoices": ObjectPair.INVOICES_INVOICES,
    "line_items": ObjectPair.INVOICES_INVOICES,
    "commerce_payments": ObjectPair.INVOICES_INVOICES,
    "deals": None,  # deals are written by the invoice roll-up, never read as changes
}
QBO_PAIRS: dict[str, ObjectPair | None] = {
    "Customer": ObjectPair.CONTACTS_CUSTOMERS,
    "Item": ObjectPair.PRODUCTS_ITEMS,
    "Invoice": ObjectPair.INVOICES_INVOICES,
    "Payment": ObjectPair.INVOICES_INVOICES,
    "CreditMemo": ObjectPair.INVOICES_INVOICES,
    "RefundReceipt": ObjectPair.INVOICES_INVOICES,
}


def pairs_of(
    names: Iterable[str | None], table: dict[str, ObjectPair | None]
) -> set[ObjectPair] | None:
    """The object pairs whose rules a webhook's changes concern; None (every rule) when
    an object is not known here, so an unexpected event never goes unsynced."""
    pairs: set[ObjectPair] = set()
    for name in names:
        if name is None or name not in table:
            return None
        pair = table[name]
        if pair is not None:
            pairs.add(pair)
    return pairs


HUBSPOT_BY_ID: dict[ObjectType, ObjectPair] = {
    "contacts": ObjectPair.CONTACTS_CUSTOMERS,
    "products": ObjectPair.PRODUCTS_ITEMS,
}
"""The objects whose changes a scoped pass can read by id (a batch read) when the webhooks
name every changed record. Invoices are always searched: a line item or payment changes
an invoice without an invoice event."""
BY_ID_ACTIONS = frozenset({"creation", "propertyChange"})


def hubspot_known(events: Iterable[WebhookEvent]) -> dict[ObjectPair, frozenset[str]]:
    """The pairs whose every HubSpot event here is the creation or change of a record it
    names, with those records' ids. A pair with any other event (a deletion, a merge, an
    association change, an event without an id) is left out: its pass searches."""
    ids: dict[ObjectPair, set[str]] = {}
    searched: set[ObjectPair] = set()
    for event in events:
        pair = HUBSPOT_BY_ID.get(event.object_type) if event.object_type else None
        if pair is None:
            continue
        if event.action in BY_ID_ACTIONS and event.object_id:
            ids.setdefault(pair, set()).add(event.object_id)
        else:
            searched.add(pair)
    return {pair: frozenset(found) for pair, found in ids.items() if pair not in searched}


def qbo_known(pairs: set[ObjectPair] | None) -> dict[ObjectPair, frozenset[str]]:
    """A QBO notification says nothing changed in HubSpot: for the pairs HubSpot reads by
    id, no HubSpot record to read (a HubSpot change has its own webhook, and the poll's
    full pass reads whatever a lost webhook did not say)."""
    by_id = set(HUBSPOT_BY_ID.values())
    return {pair: frozenset() for pair in pairs or () if pair in by_id}


def _wake_all(
    wake: Wake, connection_ids: Iterable[int], pairs: set[ObjectPair] | None, known: Known
) -> list[int]:
    woken = sorted(set(connection_ids))
    for connection_id in woken:
        wake(connection_id, pairs, known)
    return woken


def webhook_router(
    *,
    directory: WebhookDirectory,
    wake: Wake,
    secrets: WebhookSecrets,
    now: Callable[[], dt.datetime] = _utc_now,
) -> APIRouter:
    """The two webhook endpoints; add them with `create_web_app(store, routers=[…])`."""
    router = APIRouter()

    @router.post(HUBSPOT_PATH, include_in_schema=False)
    async def hubspot_webhook(request: Request) -> JSONResponse:
        body = await _body(request)
        if body is None:
            return _answer(413, "body too large")
        secret = secrets.hubspot_client_secret
        if secret is None or not verify_signature_v3(
            request.method,
            str(request.url),
            body,
            request.headers.get("x-hubspot-request-timestamp"),
            request.headers.get("x-hubspot-signature-v3"),
            secret.get_secret_value(),
            now(),
        ):
            log.warning("HubSpot webhook refused: missing, invalid or stale signature")
            return _answer(401, "invalid signature")
        try:
            events = parse_events(body)
        except InvalidWebhookPayload as exc:
            log.warning("HubSpot webhook refused: %s", exc)
            return _answer(400, "malformed webhook body")
        portals = {str(event.portal_id) for event in events}
        ids = [
            cid
            for portal in portals
            for cid in await run_in_threadpool(directory.by_portal, portal)
        ]
        pairs = pairs_of((event.object_type for event in events), HUBSPOT_PAIRS)
        woken = _wake_all(wake, ids, pairs, hubspot_known(events))
        if portals and not woken:
            log.info("HubSpot webhook for a portal with no connection; ignored")
        return _answer(200, "accepted", woken=woken)

    @router.post(QBO_PATH, include_in_schema=False)
    async def qbo_webhook(request: Request) -> JSONResponse:
        body = await _body(request)
        if body is None:
            return _answer(413, "body too large")
        token = secrets.qbo_verifier_token
        if token is None or not verify_intuit_signature(
            body, request.headers.get("intuit-signature"), token.get_secret_value()
        ):
            log.warning("QBO webhook refused: missing or invalid intuit-signature")
            return _answer(401, "invalid signature")
        try:
            changes = parse_notifications(body)
        except WebhookPayloadError as exc:
            log.warning("QBO webhook refused: %s", exc)
            return _answer(400, "malformed webhook body")
        realms = {change.realm_id for change in changes}
        ids = [
            cid for realm in realms for cid in await run_in_threadpool(directory.by_realm, realm)
        ]
        pairs = pairs_of((change.entity for change in changes), QBO_PAIRS)
        woken = _wake_all(wake, ids, pairs, qbo_known(pairs))
        if realms and not woken:
            log.info("QBO webhook for a company with no connection; ignored")
        return _answer(200, "accepted", woken=woken)

    return router
