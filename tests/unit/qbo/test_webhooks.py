from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from ledgerbridge.qbo.webhooks import (
    EntityChange,
    WebhookPayloadError,
    parse_notifications,
    sign,
    verify_intuit_signature,
)

TOKEN = "verifier-token"
LEGACY = json.dumps(
    {
        "eventNotifications": [
            {
                "realmId": "123",
                "dataChangeEvent": {
                    "entities": [
                        {
                            "name": "Invoice",
                            "id": "5",
                            "operation": "Create",
                            "lastUpdated": "2026-01-01T00:00:00.000Z",
                        },
                        {"name": "Customer", "id": "9", "operation": "Merge"},
                    ]
                },
            },
            {
                "realmId": "456",
                "dataChangeEvent": {
                    "entities": [{"name": "payment", "id": "2", "operation": "Void"}]
                },
            },
        ]
    }
).encode()

CLOUD = json.dumps(
    [
        {
            "specversion": "1.0",
            "id": "e1",
            "source": "intuit.x",
            "type": "qbo.invoice.created.v1",
            "time": "2026-01-01T00:00:00Z",
            "intuitentityid": "5",
            "intuitaccountid": "123",
        },
        {
            "specversion": "1.0",
            "id": "e2",
            "source": "intuit.x",
            "type": "qbo.customer.merged.v1",
            "intuitentityid": "9",
            "intuitaccountid": "123",
            "data": {"deletedid": "27"},
        },
        {
            "specversion": "1.0",
            "id": "e3",
            "source": "intuit.x",
            "type": "qbo.salesreceipt.voided.v1",
            "intuitentityid": "3",
            "intuitaccountid": "456",
        },
    ]
).encode()


def test_signature_matches_the_documented_construction() -> None:
    expected = base64.b64encode(hmac.new(TOKEN.encode(), LEGACY, hashlib.sha256).digest()).decode()
    assert sign(LEGACY, TOKEN) == expected
    assert verify_intuit_signature(LEGACY, expected, TOKEN)


@pytest.mark.parametrize(
    "signature", [None, "", "not base64!!", base64.b64encode(b"x" * 32).decode()]
)
def test_bad_signatures_are_refused(signature: str | None) -> None:
    assert not verify_intuit_signature(LEGACY, signature, TOKEN)


def test_a_changed_body_or_token_fails() -> None:
    good = sign(LEGACY, TOKEN)
    assert not verify_intuit_signature(LEGACY + b" ", good, TOKEN)
    assert not verify_intuit_signature(LEGACY, good, "other")
    assert not verify_intuit_signature(LEGACY, good, "")


def test_legacy_format() -> None:
    assert parse_notifications(LEGACY) == [
        EntityChange("123", "Invoice", "5", "Create"),
        EntityChange("123", "Customer", "9", "Merge"),
        EntityChange("456", "Payment", "2", "Void"),
    ]


def test_cloudevents_format() -> None:
    assert parse_notifications(CLOUD) == [
        EntityChange("123", "Invoice", "5", "Create"),
        EntityChange("123", "Customer", "9", "Merge"),
        EntityChange("456", "SalesReceipt", "3", "Void"),
    ]
    single = json.loads(CLOUD)[0]
    assert parse_notifications(json.dumps(single)) == [
        EntityChange("123", "Invoice", "5", "Create")
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"eventNotifications": {}}',
        b'{"eventNotifications": [{"dataChangeEvent": {"entities": []}}]}',
        b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": {}}]}',
        b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": '
        b'{"entities": [{"id": "1", "operation": "Create"}]}}]}',
        b'[{"type": "qbo.invoice.created.v1", "intuitaccountid": "1"}]',
        b'[{"type": "other.thing", "intuitaccountid": "1", "intuitentityid": "2"}]',
        b"[1]",
        b"42",
    ],
)
def test_malformed_bodies_raise_a_clear_error(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_notifications(body)
    assert issubclass(WebhookPayloadError, ValueError)
