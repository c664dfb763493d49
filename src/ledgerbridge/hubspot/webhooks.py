"""HubSpot webhooks (pure): signature v3 verification and event parsing.

Signature v3 (headers `X-HubSpot-Signature-v3`, `X-HubSpot-Request-Timestamp`):
base64(HMAC-SHA256(client secret, method + URI + raw body + timestamp)), compared
in constant time; requests whose timestamp is more than 5 minutes away from `now`
are refused (replays). HubSpot's docs ask to URL-decode a fixed set of characters
in the URI (`%3A` → `:` …) before signing; a signature over the URI as received or
over the decoded URI is accepted.

A delivery is a JSON array of events. Classic subscriptions say the object in the
subscription type (`contact.propertyChange`); generic ones say `object.*` and carry
`objectTypeId` ("0-53" for invoices). Webhooks only wake a sync pass up; they never
carry truth (ARCHITECTURE.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledgerbridge.hubspot.objects import OBJECT_TYPE_BY_ID, ObjectType, object_type
from ledgerbridge.transport.jsonsafe import loads_limited

__all__ = [
    "MAX_AGE",
    "InvalidWebhookPayload",
    "WebhookEvent",
    "parse_events",
    "sign_v3",
    "verify_signature_v3",
]

MAX_AGE = dt.timedelta(minutes=5)

# Characters HubSpot decodes in the URI before signing (request-validation page).
_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


class InvalidWebhookPayload(ValueError):
    """The body is not a HubSpot webhook delivery (not JSON, not a list, bad event)."""


def _decoded_uri(uri: str) -> str:
    out = uri
    for encoded, plain in _DECODE.items():
        out = out.replace(encoded, plain).replace(encoded.lower(), plain)
    return out


def sign_v3(method: str, uri: str, body: bytes, timestamp: str, client_secret: str) -> str:
    """The v3 signature HubSpot sends for this request."""
    message = method.upper().encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature_v3(
    method: str,
    uri: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    client_secret: str,
    now: dt.datetime,
) -> bool:
    """True when `signature` is HubSpot's v3 signature of this request and is fresh.

    `uri` is the full URL HubSpot called (scheme, host, path and query).
    `timestamp` is the `X-HubSpot-Request-Timestamp` header (milliseconds).
    """
    if not timestamp or not signature or not client_secret:
        return False
    try:
        sent = dt.datetime.fromtimestamp(int(timestamp.strip()) / 1000, tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return False
    if abs(now - sent) > MAX_AGE:
        return False
    given = signature.strip().encode()
    ok = False
    for candidate_uri in dict.fromkeys((uri, _decoded_uri(uri))):
        expected = sign_v3(method, candidate_uri, body, timestamp.strip(), client_secret)
        # compare every candidate, so the time taken does not depend on which matched
        ok = hmac.compare_digest(expected.encode(), given) or ok
    return ok


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event of a delivery. `object_type` is None for types ledgerbridge does not sync."""

    event_id: int
    subscription_id: int | None
    portal_id: int
    app_id: int | None
    occurred_at: dt.datetime
    subscription_type: str
    action: str  # creation | deletion | propertyChange | associationChange | merge | restore …
    object_type_id: str | None
    object_type: ObjectType | None
    object_id: str | None
    attempt_number: int = 0
    change_source: str | None = None
    source_id: str | None = None
    property_name: str | None = None
    property_value: str | None = None
    merged_object_ids: tuple[str, ...] = ()
    primary_object_id: str | None = None
    to_object_type_id: str | None = None
    to_object_id: str | None = None
    association_removed: bool | None = None

    @property
    def is_deletion(self) -> bool:
        return self.action in ("deletion", "privacyDeletion")


def _int(event: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
    value = event.get(key)
    if value is None:
        if required:
            raise InvalidWebhookPayload(f"webhook event lacks {key!r}")
        return None
    if isinstance(value, bool):
        raise InvalidWebhookPayload(f"webhook event {key!r} is not an integer: {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidWebhookPayload(f"webhook event {key!r} is not an integer: {value!r}") from exc


def _str(event: Mapping[str, Any], key: str) -> str | None:
    value = event.get(key)
    return None if value is None else str(value)


def _parse_event(raw: Any) -> WebhookEvent:
    if not isinstance(raw, Mapping):
        raise InvalidWebhookPayload(f"webhook event is not an object: {raw!r}")
    subscription_type = raw.get("subscriptionType")
    if not isinstance(subscription_type, str) or "." not in subscription_type:
        raise InvalidWebhookPayload(f"webhook event has a bad subscriptionType: {raw!r}")
    prefix, _, action = subscription_type.partition(".")
    type_id = _str(raw, "objectTypeId") or _str(raw, "fromObjectTypeId")
    kind: ObjectType | None
    if prefix == "object":
        if type_id is None:
            raise InvalidWebhookPayload("a generic object.* event needs objectTypeId")
        kind = OBJECT_TYPE_BY_ID.get(type_id)
    else:
        try:
            kind = object_type(prefix)
        except ValueError:
            kind = None  # e.g. ticket.* : not synced
    occurred_ms = _int(raw, "occurredAt", required=True)
    assert occurred_ms is not None
    object_id = _str(raw, "objectId") or _str(raw, "fromObjectId")
    removed = raw.get("associationRemoved")
    merged = raw.get("mergedObjectIds") or []
    if not isinstance(merged, list):
        raise InvalidWebhookPayload("mergedObjectIds must be a list")
    try:
        occurred_at = dt.datetime.fromtimestamp(occurred_ms / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidWebhookPayload(f"occurredAt is out of range: {occurred_ms}") from exc
    return WebhookEvent(
        event_id=_int(raw, "eventId", required=True) or 0,
        subscription_id=_int(raw, "subscriptionId"),
        portal_id=_int(raw, "portalId", required=True) or 0,
        app_id=_int(raw, "appId"),
        occurred_at=occurred_at,
        subscription_type=subscription_type,
        action=action,
        object_type_id=type_id,
        object_type=kind,
        object_id=object_id,
        attempt_number=_int(raw, "attemptNumber") or 0,
        change_source=_str(raw, "changeSource"),
        source_id=_str(raw, "sourceId"),
        property_name=_str(raw, "propertyName"),
        property_value=_str(raw, "propertyValue"),
        merged_object_ids=tuple(str(m) for m in merged),
        primary_object_id=_str(raw, "primaryObjectId"),
        to_object_type_id=_str(raw, "toObjectTypeId"),
        to_object_id=_str(raw, "toObjectId"),
        association_removed=removed if isinstance(removed, bool) else None,
    )


def parse_events(body: bytes | str) -> list[WebhookEvent]:
    """The events of one delivery; `InvalidWebhookPayload` when it is malformed."""
    try:
        data = loads_limited(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidWebhookPayload(f"webhook body is not JSON: {exc}") from exc
    if not isinstance(data, list):
        raise InvalidWebhookPayload("a webhook delivery is a JSON array of events")
    return [_parse_event(item) for item in data]
