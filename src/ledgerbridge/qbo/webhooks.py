"""QBO webhooks (pure): `intuit-signature` verification and notification parsing.

The signature is base64(HMAC-SHA256(raw body, verifier token)), the same for the legacy
and the CloudEvents formats; it is compared in constant time. Notifications only wake a
sync pass up (they never carry truth), so parsing keeps just (realm, entity, id,
operation).

Formats:
* legacy: `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities":
  [{"name", "id", "operation", "lastUpdated"}]}}]}`;
* CloudEvents: `[{"specversion": "1.0", "type": "qbo.invoice.created.v1",
  "intuitentityid", "intuitaccountid", "data"?}]` (a single object is accepted too).
  The operation comes from the type's verb (created → Create, updated → Update, …).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from ledgerbridge.qbo.changes import LIST_ENTITIES
from ledgerbridge.transport.jsonsafe import loads_limited

_ENTITY_NAMES = {
    name.lower(): name
    for name in {
        *LIST_ENTITIES,
        "Invoice",
        "Payment",
        "Estimate",
        "SalesReceipt",
        "RefundReceipt",
        "CreditMemo",
        "Purchase",
        "Bill",
        "BillPayment",
        "Deposit",
        "JournalEntry",
        "PurchaseOrder",
        "Transfer",
        "VendorCredit",
        "TimeActivity",
        "Class",
        "Department",
        "Preferences",
        "Budget",
        "Currency",
    }
}
_VERBS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "merged": "Merge",
    "voided": "Void",
    "emailed": "Emailed",
}
_OPERATIONS = set(_VERBS.values())


class WebhookPayloadError(ValueError):
    """The notification body is not a QBO webhook we understand."""


@dataclass(frozen=True, slots=True)
class EntityChange:
    realm_id: str
    entity: str
    id: str
    operation: str


def verify_intuit_signature(body: bytes, signature: str | None, verifier_token: str) -> bool:
    """True when `signature` is base64(HMAC-SHA256(body, verifier_token)); constant time."""
    if not signature or not verifier_token:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def sign(body: bytes, verifier_token: str) -> str:
    """The `intuit-signature` value for `body` (for tests and the sandbox's peers)."""
    digest = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _entity_name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise WebhookPayloadError("an event has no entity name")
    return _ENTITY_NAMES.get(raw.strip().lower(), raw.strip())


def _required(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if value in (None, ""):
        raise WebhookPayloadError(f"an event has no {key}")
    return str(value)


def _legacy(payload: dict[str, Any]) -> list[EntityChange]:
    notifications = payload.get("eventNotifications")
    if not isinstance(notifications, list):
        raise WebhookPayloadError("eventNotifications must be a list")
    changes = []
    for notification in notifications:
        if not isinstance(notification, dict):
            raise WebhookPayloadError("a notification must be an object")
        realm = _required(notification, "realmId")
        event = notification.get("dataChangeEvent") or {}
        entities = event.get("entities") if isinstance(event, dict) else None
        if not isinstance(entities, list):
            raise WebhookPayloadError("dataChangeEvent.entities must be a list")
        for entity in entities:
            if not isinstance(entity, dict):
                raise WebhookPayloadError("an entity event must be an object")
            operation = _required(entity, "operation")
            changes.append(
                EntityChange(
                    realm, _entity_name(entity.get("name")), _required(entity, "id"), operation
                )
            )
    return changes


def _cloud_event(event: Any) -> EntityChange:
    if not isinstance(event, dict):
        raise WebhookPayloadError("a CloudEvent must be an object")
    event_type = _required(event, "type")
    parts = event_type.split(".")
    # qbo.<entity>.<verb>.v<n>
    if len(parts) < 3 or parts[0].lower() != "qbo":
        raise WebhookPayloadError(f"unknown CloudEvent type {event_type!r}")
    verb = parts[2].lower()
    operation = _VERBS.get(verb, verb.capitalize())
    return EntityChange(
        realm_id=_required(event, "intuitaccountid"),
        entity=_entity_name(parts[1]),
        id=_required(event, "intuitentityid"),
        operation=operation,
    )


def parse_notifications(body: bytes | str) -> list[EntityChange]:
    """Every (realm, entity, id, operation) in a webhook body, legacy or CloudEvents."""
    try:
        payload = loads_limited(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError(f"the webhook body is not JSON: {exc}") from exc
    if isinstance(payload, dict) and "eventNotifications" in payload:
        return _legacy(payload)
    if isinstance(payload, dict) and "specversion" in payload:
        return [_cloud_event(payload)]
    if isinstance(payload, list):
        return [_cloud_event(event) for event in payload]
    raise WebhookPayloadError("neither the legacy nor the CloudEvents webhook format")
