"""Fuzzing the webhook endpoints (issue 19): whatever the body and headers, never a 5xx;
an unsigned, forged or stale delivery never wakes anything or changes the store; a
signed one answers 200 or 400 (or 413), never more."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from ledgerbridge.hubspot.webhooks import sign_v3
from ledgerbridge.qbo.webhooks import sign as qbo_sign
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.store.directory import StoreDirectory
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.auth import WebSecurity, allowed_host_names
from ledgerbridge.web.pages.common import DashboardContext
from ledgerbridge.web.webhooks import WebhookSecrets, webhook_router

from .test_webhooks import APP_SECRET, BASE, HUBSPOT_URL, PORTAL, REALM, VERIFIER, snapshot

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)
HUBSPOT_EVENT = st.fixed_dictionaries(
    {
        "portalId": st.one_of(st.just(PORTAL), st.integers(), st.text(max_size=5)),
        "occurredAt": st.one_of(st.integers(), st.text(max_size=5)),
        "subscriptionType": st.sampled_from(
            ["contact.creation", "object.propertyChange", "deal.deletion", "x", "contact.merge"]
        ),
        "objectId": st.one_of(st.integers(), st.text(max_size=5)),
    },
    optional={"objectTypeId": st.sampled_from(["0-1", "0-53", "9-9"]), "extra": JSON},
)
QBO_BODY = st.one_of(
    st.builds(
        lambda realm, entities: {
            "eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": entities}}]
        },
        st.one_of(st.just(REALM), st.text(max_size=6)),
        st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.sampled_from(["Customer", "Invoice", "Nope", ""]),
                    "id": st.text(max_size=4),
                    "operation": st.sampled_from(["Create", "Update", "Void", ""]),
                }
            ),
            max_size=3,
        ),
    ),
    st.lists(
        st.fixed_dictionaries(
            {"specversion": st.just("1.0"), "type": st.text(max_size=24)},
            optional={"intuitentityid": st.text(max_size=4), "intuitaccountid": st.text()},
        ),
        max_size=3,
    ),
    JSON,
)
BODY = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.lists(HUBSPOT_EVENT, max_size=3).map(lambda v: json.dumps(v).encode()),
    QBO_BODY.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n),
)
SIGNING = st.sampled_from(["signed", "unsigned", "forged", "stale", "garbage"])


class Woken(list[int]):
    def __call__(
        self, connection_id: int, pairs: set[ObjectPair] | None, known: object = None
    ) -> None:
        self.append(connection_id)


def _headers(endpoint: str, body: bytes, signing: str) -> dict[str, str]:
    if signing == "unsigned":
        return {}
    if signing == "garbage":
        return {
            "X-HubSpot-Signature-v3": "!!",
            "X-HubSpot-Request-Timestamp": "soon",
            "intuit-signature": "not base64 ***",
        }
    if endpoint.endswith("qbo"):
        token = VERIFIER if signing == "signed" else "wrong"
        return {"intuit-signature": qbo_sign(body, token)} if signing != "stale" else {}
    age = 6 * 60 * 1000 if signing == "stale" else 0
    secret = "wrong" if signing == "forged" else APP_SECRET
    stamp = str(int(time.time() * 1000) - age)
    return {
        "X-HubSpot-Signature-v3": sign_v3("POST", HUBSPOT_URL, body, stamp, secret),
        "X-HubSpot-Request-Timestamp": stamp,
    }


def _store(path: Path) -> Store:
    store = Store.open(f"sqlite:///{path}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        tx.create_connection(
            name="A",
            hubspot_base_url="http://127.0.0.1:8701",
            qbo_base_url="http://127.0.0.1:8702",
            hubspot_portal_id=str(PORTAL),
            qbo_realm_id=REALM,
        )
    return store


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=st.sampled_from(["/webhooks/hubspot", "/webhooks/qbo"]),
    body=BODY,
    signing=SIGNING,
)
def test_webhooks_never_answer_5xx_and_only_signed_fresh_deliveries_act(
    tmp_path_factory: Any, endpoint: str, body: bytes, signing: str
) -> None:
    store = _store(tmp_path_factory.mktemp("fuzz") / "state.db")
    woken = Woken()
    router = webhook_router(
        directory=StoreDirectory(store),
        wake=woken,
        secrets=WebhookSecrets(SecretStr(APP_SECRET), SecretStr(VERIFIER)),
    )
    # The engine's public name, as a deployment lists it in `allowed_hosts`.
    security = WebSecurity(
        allowed_hosts=allowed_host_names("127.0.0.1", [urlsplit(BASE).hostname or ""])
    )
    app = create_web_app(
        store, routers=[router], dashboard=DashboardContext(store, security=security)
    )
    before = snapshot(store)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return await client.post(
                endpoint, content=body, headers=_headers(endpoint, body, signing)
            )

    try:
        response = asyncio.run(post())
        assert response.status_code < 500, (response.status_code, response.text)
        if signing != "signed":
            assert response.status_code == 401
            assert woken == []
        else:
            assert response.status_code in (200, 400, 413)
            if response.status_code != 200:
                assert woken == []
        assert snapshot(store) == before  # a webhook only wakes; it never writes
    finally:
        store.close()
