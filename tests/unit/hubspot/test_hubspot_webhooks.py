"""Webhook signature v3 and event parsing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hubspot.utils.signature import Signature
from hypothesis import given
from hypothesis import strategies as st

from ledgerbridge.hubspot.webhooks import (
    InvalidWebhookPayload,
    parse_events,
    sign_v3,
    verify_signature_v3,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URI = "https://example.com/webhooks/hubspot?connection=7"
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
NOW_MS = str(int(NOW.timestamp() * 1000))


@given(
    body=st.text(max_size=200),
    method=st.sampled_from(["POST", "GET", "PUT"]),
    path=st.text(alphabet="abcdefghijklmnopqrstuvwxyz/-_", max_size=30),
    secret=st.text(min_size=1, max_size=40),
)
def test_same_signature_as_the_official_client(
    body: str, method: str, path: str, secret: str
) -> None:
    uri = f"https://example.com/{path}"
    official = Signature.get_signature(secret, body, "v3", uri, method, NOW_MS)
    assert sign_v3(method, uri, body.encode(), NOW_MS, secret) == official
    assert verify_signature_v3(method, uri, body.encode(), NOW_MS, official, secret, NOW)


def test_verification_refuses_tampering_and_stale_or_missing_headers() -> None:
    body = b'[{"eventId":1}]'
    good = sign_v3("POST", URI, body, NOW_MS, SECRET)
    assert verify_signature_v3("POST", URI, body, NOW_MS, good, SECRET, NOW)
    assert not verify_signature_v3("POST", URI, body + b" ", NOW_MS, good, SECRET, NOW)
    assert not verify_signature_v3("POST", URI + "x", body, NOW_MS, good, SECRET, NOW)
    assert not verify_signature_v3("POST", URI, body, NOW_MS, good, "other", NOW)
    assert not verify_signature_v3("POST", URI, body, None, good, SECRET, NOW)
    assert not verify_signature_v3("POST", URI, body, NOW_MS, None, SECRET, NOW)
    assert not verify_signature_v3("POST", URI, body, "abc", good, SECRET, NOW)
    later = NOW + dt.timedelta(minutes=5, seconds=1)
    assert not verify_signature_v3("POST", URI, body, NOW_MS, good, SECRET, later)
    almost = NOW + dt.timedelta(minutes=4, seconds=59)
    assert verify_signature_v3("POST", URI, body, NOW_MS, good, SECRET, almost)


def test_uri_signed_with_decoded_characters_is_accepted() -> None:
    encoded = "https://example.com/hook?email=a%40b.com&t=1%3A2"
    decoded = "https://example.com/hook?email=a@b.com&t=1:2"
    signature = sign_v3("POST", decoded, b"[]", NOW_MS, SECRET)
    assert verify_signature_v3("POST", encoded, b"[]", NOW_MS, signature, SECRET, NOW)


def test_parse_classic_and_generic_events() -> None:
    body = json.dumps(
        [
            {
                "eventId": 100,
                "subscriptionId": 7,
                "portalId": 62515,
                "appId": 1,
                "occurredAt": 1714564800000,
                "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0,
                "objectId": 123,
                "changeSource": "CRM",
                "propertyName": "email",
                "propertyValue": "a@b.com",
            },
            {
                "eventId": 101,
                "subscriptionId": 8,
                "portalId": 62515,
                "occurredAt": 1714564800001,
                "subscriptionType": "object.deletion",
                "objectTypeId": "0-53",
                "objectId": 456,
                "changeFlag": "DELETED",
            },
            {
                "eventId": 102,
                "portalId": 62515,
                "occurredAt": 1714564800002,
                "subscriptionType": "object.associationChange",
                "objectTypeId": "0-53",
                "fromObjectTypeId": "0-53",
                "fromObjectId": 456,
                "toObjectTypeId": "0-8",
                "toObjectId": 9,
                "associationRemoved": True,
            },
            {
                "eventId": 103,
                "portalId": 62515,
                "occurredAt": 1714564800003,
                "subscriptionType": "ticket.creation",
                "objectId": 1,
            },
        ]
    ).encode()
    contact, invoice, link, ticket = parse_events(body)
    assert contact.object_type == "contacts"
    assert contact.action == "propertyChange"
    assert contact.object_id == "123"
    assert contact.property_name == "email"
    assert contact.occurred_at == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert invoice.object_type == "invoices"
    assert invoice.is_deletion
    assert link.object_id == "456"
    assert link.to_object_id == "9"
    assert link.association_removed is True
    assert ticket.object_type is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"eventId": 1}',
        b"[1]",
        b'[{"eventId": 1, "portalId": 1, "occurredAt": 1}]',
        b'[{"eventId": 1, "portalId": 1, "occurredAt": 1, "subscriptionType": "object.creation"}]',
        b'[{"eventId": "x", "portalId": 1, "occurredAt": 1, "subscriptionType": "deal.creation"}]',
        b'[{"eventId": 1, "portalId": 1, "subscriptionType": "deal.creation"}]',
    ],
)
def test_malformed_deliveries_raise_a_value_error(body: bytes) -> None:
    with pytest.raises(InvalidWebhookPayload):
        parse_events(body)
    assert issubclass(InvalidWebhookPayload, ValueError)
