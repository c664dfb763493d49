"""Fuzzing the workflow-action endpoint `POST /actions/hubspot/{action}` (issue 19) of the
web app exactly as `ledgerbridge run` composes it (`commands._compose.compose`): whatever
the body, the action name and the headers, never a 5xx; a request that is not signed
with the app secret, or signed with a stale timestamp, is a 401 and changes nothing in
the store (no execution recorded, no activity, no link).

The endpoint is not in the OpenAPI schema (`include_in_schema=False`), so the schema
fuzzing does not reach it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from ledgerbridge.commands._compose import compose
from ledgerbridge.hubspot.actions import ActionKind
from ledgerbridge.hubspot.webhooks import sign_v3
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.web.webhooks import WebhookSecrets

SECRET = "fuzz-app-secret"
BASE = "http://testserver"
PORTAL = 62515

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# Shaped like HubSpot's execution request, with any value in any field.
EXECUTION = st.fixed_dictionaries(
    {},
    optional={
        "callbackId": st.one_of(st.text(max_size=12), JSON),
        "origin": st.one_of(
            st.fixed_dictionaries(
                {"portalId": st.one_of(st.just(PORTAL), JSON)},
                optional={"actionDefinitionId": JSON},
            ),
            JSON,
        ),
        "object": st.one_of(
            st.fixed_dictionaries(
                {
                    "objectId": st.one_of(st.integers(), JSON),
                    "objectType": st.one_of(st.sampled_from(["DEAL", "QUOTE"]), JSON),
                },
                optional={"properties": JSON},
            ),
            JSON,
        ),
        "context": JSON,
        "inputFields": JSON,
    },
)


class Raw(bytes):
    """A body whose repr stays short in a failure report."""

    def __repr__(self) -> str:
        head = bytes(self[:60])
        return f"Raw({head!r}{'…' if len(self) > 60 else ''}, {len(self)} bytes)"


BODY = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda v: json.dumps(v).encode()),
    EXECUTION.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n),
    st.just(b"[" * 100_000),  # deeper than the JSON parser's recursion limit
).map(Raw)
ACTION = st.one_of(
    st.sampled_from([k.value for k in ActionKind]), st.text("abcxyz-_09", min_size=1, max_size=8)
)
SIGNING = st.sampled_from(["signed", "unsigned", "forged", "stale", "garbage"])


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[FastAPI, Path]]:
    db = tmp_path / "state.db"
    store = Store.open(f"sqlite:///{db}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        tx.create_connection(
            name="A",
            hubspot_base_url="http://127.0.0.1:9",
            qbo_base_url="http://127.0.0.1:9",
            hubspot_portal_id=str(PORTAL),
            qbo_realm_id="1000000001",
        )
    secrets = WebhookSecrets(SecretStr(SECRET), SecretStr("fuzz-verifier"))
    stack = compose(store, Settings(), secrets, public_url=BASE)
    try:
        yield stack.web, db
    finally:
        store.close()


def dump(db: Path) -> dict[str, list[Any]]:
    """Every row of every table (what a request could have changed)."""
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        return {t: sorted(map(repr, conn.execute(f'select * from "{t}"'))) for t in tables}


def headers_for(signing: str, url: str, body: bytes, data: st.DataObject) -> dict[str, str]:
    now = int(time.time() * 1000)
    if signing == "unsigned":
        return {}
    if signing == "garbage":
        text = st.text(max_size=30).filter(lambda s: s.isascii() and s.isprintable())
        return {
            "X-HubSpot-Signature-v3": data.draw(text),
            "X-HubSpot-Request-Timestamp": data.draw(text),
        }
    stamp = now - 10 * 60 * 1000 if signing == "stale" else now
    secret = "not-the-secret" if signing == "forged" else SECRET
    return {
        "X-HubSpot-Signature-v3": sign_v3("POST", url, body, str(stamp), secret),
        "X-HubSpot-Request-Timestamp": str(stamp),
    }


async def post(web: FastAPI, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=web, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        return await client.post(url, content=body, headers=headers)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=BODY, action=ACTION, signing=SIGNING, data=st.data())
def test_action_endpoint_never_5xx_and_refuses_unsigned_or_stale_without_a_change(
    app: tuple[FastAPI, Path], body: bytes, action: str, signing: str, data: st.DataObject
) -> None:
    web, db = app
    url = f"{BASE}/actions/hubspot/{action}"
    before = dump(db)
    response = asyncio.run(post(web, url, body, headers_for(signing, url, body, data)))
    assert response.status_code < 500, (signing, action, body[:80], response.text[:300])
    if signing != "signed":
        assert response.status_code == 401, (signing, response.status_code, response.text)
        assert dump(db) == before


def test_a_signed_request_nested_deeper_than_the_parser_goes_is_a_400_not_a_500(
    app: tuple[FastAPI, Path],
) -> None:
    web, db = app
    url = f"{BASE}/actions/hubspot/invoice"
    body = b"[" * 100_000
    stamp = str(int(time.time() * 1000))
    headers = {
        "X-HubSpot-Signature-v3": sign_v3("POST", url, body, stamp, SECRET),
        "X-HubSpot-Request-Timestamp": stamp,
    }
    before = dump(db)
    response = asyncio.run(post(web, url, body, headers))
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "malformed execution request"
    assert dump(db) == before
