"""Webhooks in: signatures verified (forged, altered, stale → 401), malformed → 400,
and a valid delivery only wakes the connection's pass (nothing is written anywhere)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from ledgerbridge.hubspot.webhooks import WebhookEvent, parse_events, sign_v3
from ledgerbridge.qbo.webhooks import sign as qbo_sign
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.store.directory import StoreDirectory
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.auth import WebSecurity, allowed_host_names
from ledgerbridge.web.pages.common import DashboardContext
from ledgerbridge.web.status import status_summary
from ledgerbridge.web.webhooks import (
    HUBSPOT_PAIRS,
    MAX_BODY_BYTES,
    QBO_PAIRS,
    WebhookSecrets,
    hubspot_known,
    pairs_of,
    qbo_known,
    webhook_router,
)

BASE = "http://engine.test"
HUBSPOT_URL = f"{BASE}/webhooks/hubspot"
APP_SECRET = "hubspot-app-secret"
VERIFIER = "qbo-verifier-token"
PORTAL, REALM = 62515, "1000000001"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        for name, portal, realm in (
            ("A", str(PORTAL), REALM),
            ("B", str(PORTAL), "999"),
            ("C", "777", "888"),
        ):
            tx.create_connection(
                name=name,
                hubspot_base_url="http://127.0.0.1:8701",
                qbo_base_url="http://127.0.0.1:8702",
                hubspot_portal_id=portal,
                qbo_realm_id=realm,
            )
    yield store
    store.close()


class Woken(list[int]):
    """The `wake` callback: the connection ids woken, and the pairs (and the HubSpot
    records known to have changed) named each time."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[set[ObjectPair] | None] = []
        self.known: list[Mapping[ObjectPair, frozenset[str]] | None] = []

    def __call__(
        self,
        connection_id: int,
        pairs: set[ObjectPair] | None,
        known: Mapping[ObjectPair, frozenset[str]] | None = None,
    ) -> None:
        self.append(connection_id)
        self.pairs.append(pairs)
        self.known.append(known)


@pytest.fixture
def woken() -> Woken:
    return Woken()


def _client(store: Store, woken: Woken, secrets: WebhookSecrets) -> httpx.AsyncClient:
    router = webhook_router(directory=StoreDirectory(store), wake=woken, secrets=secrets)
    # The engine's public name, as a deployment lists it in `allowed_hosts`.
    security = WebSecurity(allowed_hosts=allowed_host_names("127.0.0.1", ["engine.test"]))
    app = create_web_app(
        store, routers=[router], dashboard=DashboardContext(store, security=security)
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


@pytest.fixture
async def client(store: Store, woken: Woken) -> AsyncIterator[httpx.AsyncClient]:
    secrets = WebhookSecrets(SecretStr(APP_SECRET), SecretStr(VERIFIER))
    async with _client(store, woken, secrets) as client:
        yield client


def snapshot(store: Store) -> Any:
    """Everything a webhook could have changed in the store."""
    with store.begin() as tx:
        connections = tx.list_connections()
        activity = [tx.list_activity(c.id) for c in connections]
        links = [tx.list_links(c.id) for c in connections]
    return connections, activity, links, status_summary(store)


def hubspot_events(portal: int = PORTAL, **extra: Any) -> bytes:
    event = {
        "eventId": 1,
        "subscriptionId": 2,
        "portalId": portal,
        "appId": 100001,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": 51,
        "changeSource": "CRM_UI",
        "propertyName": "email",
        "propertyValue": "a@b.test",
        **extra,
    }
    return json.dumps([event]).encode()


def hubspot_headers(
    body: bytes, *, secret: str = APP_SECRET, age_ms: int = 0, uri: str = HUBSPOT_URL
) -> dict[str, str]:
    timestamp = str(int(time.time() * 1000) - age_ms)
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": sign_v3("POST", uri, body, timestamp, secret),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


def qbo_body(realm: str = REALM) -> bytes:
    entity = {"name": "Customer", "id": "58", "operation": "Update", "lastUpdated": "2026-01-01"}
    notification = {"realmId": realm, "dataChangeEvent": {"entities": [entity]}}
    return json.dumps({"eventNotifications": [notification]}).encode()


def qbo_headers(body: bytes, token: str = VERIFIER) -> dict[str, str]:
    return {"Content-Type": "application/json", "intuit-signature": qbo_sign(body, token)}


# -- HubSpot ---------------------------------------------------------------------------------


async def test_a_signed_hubspot_delivery_wakes_every_connection_of_the_portal(
    client: httpx.AsyncClient, store: Store, woken: Woken
) -> None:
    before = snapshot(store)
    body = hubspot_events()
    response = await client.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body))
    assert response.status_code == 200
    assert response.json()["woken"] == [1, 2]
    assert woken == [1, 2]
    assert snapshot(store) == before  # a webhook only wakes a pass; it writes nothing


async def test_hubspot_signature_over_the_decoded_uri_is_accepted(
    client: httpx.AsyncClient, woken: Woken
) -> None:
    body = hubspot_events()
    uri = f"{HUBSPOT_URL}?note=a%3Ab"
    headers = hubspot_headers(body, uri=f"{HUBSPOT_URL}?note=a:b")
    response = await client.post(uri, content=body, headers=headers)
    assert response.status_code == 200 and woken == [1, 2]


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("forged", lambda body: hubspot_headers(body, secret="not-the-secret")),
        ("stale", lambda body: hubspot_headers(body, age_ms=6 * 60 * 1000)),
        ("from the future", lambda body: hubspot_headers(body, age_ms=-6 * 60 * 1000)),
        ("other url", lambda body: hubspot_headers(body, uri="https://evil.test/webhooks/hubspot")),
        (
            "no signature",
            lambda body: {"X-HubSpot-Request-Timestamp": str(int(time.time() * 1000))},
        ),
        ("no timestamp", lambda body: {"X-HubSpot-Signature-v3": "c2lnbmF0dXJl"}),
        ("nothing", lambda body: {}),
    ],
)
async def test_hubspot_deliveries_without_a_valid_fresh_signature_get_401(
    client: httpx.AsyncClient, store: Store, woken: Woken, case: str, make: Any
) -> None:
    before = snapshot(store)
    body = hubspot_events()
    response = await client.post("/webhooks/hubspot", content=body, headers=make(body))
    assert response.status_code == 401, case
    assert woken == []
    assert snapshot(store) == before


async def test_an_altered_hubspot_body_gets_401(
    client: httpx.AsyncClient, store: Store, woken: Woken
) -> None:
    before = snapshot(store)
    signed = hubspot_events(portal=777)
    altered = hubspot_events(portal=PORTAL)
    response = await client.post(
        "/webhooks/hubspot", content=altered, headers=hubspot_headers(signed)
    )
    assert response.status_code == 401
    assert woken == [] and snapshot(store) == before


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"portalId": 62515}',
        json.dumps([{"portalId": PORTAL, "occurredAt": 1}]).encode(),  # no subscriptionType
        json.dumps([{"subscriptionType": "contact.creation", "eventId": 1}]).encode(),
        json.dumps(["nope"]).encode(),
    ],
)
async def test_signed_but_malformed_hubspot_bodies_get_400(
    client: httpx.AsyncClient, store: Store, woken: Woken, body: bytes
) -> None:
    before = snapshot(store)
    response = await client.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body))
    assert response.status_code == 400
    assert woken == [] and snapshot(store) == before


async def test_a_delivery_for_an_unknown_portal_is_acknowledged_and_ignored(
    client: httpx.AsyncClient, woken: Woken
) -> None:
    body = hubspot_events(portal=424242)
    response = await client.post("/webhooks/hubspot", content=body, headers=hubspot_headers(body))
    assert response.status_code == 200 and response.json()["woken"] == []
    assert woken == []


async def test_without_configured_secrets_every_delivery_is_refused(
    store: Store, woken: Woken
) -> None:
    async with _client(store, woken, WebhookSecrets()) as client:
        body = hubspot_events()
        hubspot = await client.post(
            "/webhooks/hubspot", content=body, headers=hubspot_headers(body)
        )
        body = qbo_body()
        qbo = await client.post("/webhooks/qbo", content=body, headers=qbo_headers(body))
    assert (hubspot.status_code, qbo.status_code) == (401, 401)
    assert woken == []


async def test_an_oversized_body_is_refused(client: httpx.AsyncClient, woken: Woken) -> None:
    body = b"[" + b" " * MAX_BODY_BYTES + b"]"
    response = await client.post("/webhooks/qbo", content=body, headers=qbo_headers(body))
    assert response.status_code == 413 and woken == []


# -- QBO -------------------------------------------------------------------------------------


async def test_a_signed_qbo_notification_wakes_the_connection_of_the_realm(
    client: httpx.AsyncClient, store: Store, woken: Woken
) -> None:
    before = snapshot(store)
    body = qbo_body()
    response = await client.post("/webhooks/qbo", content=body, headers=qbo_headers(body))
    assert response.status_code == 200 and woken == [1]
    assert snapshot(store) == before


async def test_a_cloudevents_delivery_spanning_realms_wakes_each(
    client: httpx.AsyncClient, woken: Woken
) -> None:
    events = [
        {
            "specversion": "1.0",
            "id": str(i),
            "source": "intuit.qbo",
            "type": "qbo.customer.updated.v1",
            "intuitentityid": "58",
            "intuitaccountid": realm,
        }
        for i, realm in enumerate((REALM, "888", "not-ours"))
    ]
    body = json.dumps(events).encode()
    response = await client.post("/webhooks/qbo", content=body, headers=qbo_headers(body))
    assert response.status_code == 200 and woken == [1, 3]


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("forged", lambda body: qbo_headers(body, token="wrong-token")),
        ("altered", lambda body: qbo_headers(qbo_body("888"))),
        ("not base64", lambda body: {"intuit-signature": "***"}),
        ("no signature", lambda body: {}),
    ],
)
async def test_qbo_notifications_without_a_valid_signature_get_401(
    client: httpx.AsyncClient, store: Store, woken: Woken, case: str, make: Any
) -> None:
    before = snapshot(store)
    body = qbo_body()
    response = await client.post("/webhooks/qbo", content=body, headers=make(body))
    assert response.status_code == 401, case
    assert woken == [] and snapshot(store) == before


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"eventNotifications": "x"}',
        b'{"eventNotifications": [{"dataChangeEvent": {"entities": []}}]}',  # no realmId
        b'[{"specversion": "1.0", "type": "nonsense"}]',
        b"42",
    ],
)
async def test_signed_but_malformed_qbo_bodies_get_400(
    client: httpx.AsyncClient, store: Store, woken: Woken, body: bytes
) -> None:
    before = snapshot(store)
    response = await client.post("/webhooks/qbo", content=body, headers=qbo_headers(body))
    assert response.status_code == 400
    assert woken == [] and snapshot(store) == before


async def test_a_webhook_wakes_only_the_rules_of_the_objects_it_names(
    client: httpx.AsyncClient, woken: Woken
) -> None:
    contacts = hubspot_events()  # contact.propertyChange
    await client.post("/webhooks/hubspot", content=contacts, headers=hubspot_headers(contacts))
    generic = hubspot_events(subscriptionType="object.creation", objectTypeId="0-8")  # line item
    await client.post("/webhooks/hubspot", content=generic, headers=hubspot_headers(generic))
    customer = qbo_body()  # a Customer update
    await client.post("/webhooks/qbo", content=customer, headers=qbo_headers(customer))
    assert woken.pairs == [
        {ObjectPair.CONTACTS_CUSTOMERS},
        {ObjectPair.CONTACTS_CUSTOMERS},
        {ObjectPair.INVOICES_INVOICES},
        {ObjectPair.INVOICES_INVOICES},
        {ObjectPair.CONTACTS_CUSTOMERS},
    ]
    # The contact event names its record (read by id); a line item's event does not make
    # the invoices readable by id; a QBO change says no HubSpot contact changed.
    contacts_known = {ObjectPair.CONTACTS_CUSTOMERS: frozenset({"51"})}
    nothing_in_hubspot = {ObjectPair.CONTACTS_CUSTOMERS: frozenset[str]()}
    assert woken.known == [contacts_known, contacts_known, {}, {}, nothing_in_hubspot]


def _event(subscription: str, object_id: object, **extra: Any) -> WebhookEvent:
    body = json.loads(hubspot_events(subscriptionType=subscription, objectId=object_id, **extra))
    return parse_events(json.dumps(body).encode())[0]


def test_only_creations_and_changes_that_name_their_record_are_read_by_id() -> None:
    contacts, products = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS
    created, changed = _event("contact.creation", 7), _event("contact.propertyChange", 8)
    product = _event("object.propertyChange", 9, objectTypeId="0-7")
    assert hubspot_known([created, changed, product]) == {
        contacts: frozenset({"7", "8"}),
        products: frozenset({"9"}),
    }
    # A deletion, a merge or an association change of a contact: its pass searches
    # (a deleted record is not found by id; a merge names other records).
    for other in ("contact.deletion", "contact.merge", "contact.associationChange"):
        assert hubspot_known([created, _event(other, 10), product]) == {products: frozenset({"9"})}
    invoice = _event("object.creation", 11, objectTypeId="0-53")
    assert hubspot_known([invoice]) == {}  # invoices are always searched
    assert qbo_known({contacts, ObjectPair.INVOICES_INVOICES}) == {contacts: frozenset()}
    assert qbo_known(None) == {}


def test_objects_no_rule_syncs_wake_nothing_and_unknown_ones_wake_every_rule() -> None:
    assert pairs_of(["deals"], HUBSPOT_PAIRS) == set()
    assert pairs_of(["contacts", "companies"], HUBSPOT_PAIRS) is None
    assert pairs_of([None], HUBSPOT_PAIRS) is None
    assert pairs_of(["Invoice", "Payment"], QBO_PAIRS) == {ObjectPair.INVOICES_INVOICES}


# -- Nesting depth (issue 19, finding 5) ------------------------------------------------------


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
@pytest.mark.parametrize("endpoint", ["/webhooks/hubspot", "/webhooks/qbo"])
async def test_a_signed_deeply_nested_body_gets_400_and_changes_nothing(
    client: httpx.AsyncClient, store: Store, woken: Woken, endpoint: str, opening: bytes
) -> None:
    """100,000 nested brackets used to overflow the JSON parser's recursion: a 500."""
    before = snapshot(store)
    body = opening * 100_000
    headers = hubspot_headers(body) if endpoint.endswith("hubspot") else qbo_headers(body)
    response = await client.post(endpoint, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["message"] == "malformed webhook body"
    assert woken == [] and snapshot(store) == before
