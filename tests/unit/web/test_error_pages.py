"""A bad link in the dashboard answers the dashboard's error page (status, a sentence, a link
back), the API keeps its JSON, and a visitor who is not signed in is still sent to sign in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from ledgerbridge.domain import System
from ledgerbridge.store import RecordStatus, Store, TokenCipher, generate_key
from ledgerbridge.store.repository import RecordStatusEntry
from ledgerbridge.web.errors import validation_message
from tests.support.dashboard import dashboard_client, shown
from tests.support.signin import api_token, sign_in

INVOICES = "invoices_invoices"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        cid = tx.create_connection(
            name="Acme", hubspot_base_url="h", qbo_base_url="q", options={"sandbox": True}
        )
        tx.set_record_statuses(
            cid,
            [RecordStatusEntry(INVOICES, System.HUBSPOT, "i2", RecordStatus.EXCLUDED, "INV-2")],
        )
    yield store
    store.close()


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with dashboard_client(store) as client:
        yield client


@pytest.mark.parametrize("headers", [{}, BROWSER], ids=["no-accept", "browser"])
@pytest.mark.parametrize(
    ("url", "status", "sentence"),
    [
        ("/invoices/hubspot/999999", 404, "There is no HubSpot invoice 999999 in this connection."),
        ("/invoices/hubspot/i2/pdf", 404, "HubSpot invoice i2 has no PDF"),
        ("/records/activity", 400, "The link is missing “object”, “side” and “id”."),
        ("/no/such/page", 404, "There is no page at /no/such/page."),
        ("/invoices?side=xyz", 400, "The link’s “side” is not one of 'hubspot', 'quickbooks'"),
        ("/invoices/xero/1", 400, "The link’s “side” is not one of 'hubspot', 'quickbooks'"),
        ("/records?side=xero", 400, "There is no side “xero”: the side is hubspot or quickbooks."),
    ],
)
async def test_a_bad_link_in_the_dashboard_answers_the_error_page(
    client: httpx.AsyncClient,
    store: Store,
    headers: dict[str, str],
    url: str,
    status: int,
    sentence: str,
) -> None:
    await sign_in(client, store)
    answer = await client.get(url, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    text = shown(answer.text)
    assert f"Error {status}" in text
    assert sentence in text
    assert '<a href="/">Back to the overview</a>' in answer.text
    assert "detail" not in text


async def test_the_api_and_scripts_asking_for_json_keep_json(
    client: httpx.AsyncClient, store: Store
) -> None:
    token = {"Authorization": f"Bearer {api_token(store)}"}
    for headers in ({}, BROWSER):
        missing = await client.get("/api/no-such-thing", headers={**token, **headers})
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Not Found"}
    json = {**token, "Accept": "application/json"}
    invalid = await client.get("/records/activity", headers=json)
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["query", "object"]
    page = await client.get("/invoices/hubspot/999999", headers=json)
    assert page.status_code == 404
    assert page.json() == {"detail": "There is no HubSpot invoice 999999 in this connection."}


@pytest.mark.parametrize("url", ["/invoices/hubspot/999999", "/no/such/page", "/records/activity"])
async def test_a_visitor_not_signed_in_is_sent_to_sign_in_not_shown_an_error(
    client: httpx.AsyncClient, url: str
) -> None:
    answer = await client.get(url, headers=BROWSER)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


def test_validation_errors_read_as_a_sentence() -> None:
    errors = [
        {"type": "missing", "loc": ("query", "object")},
        {"type": "int_parsing", "loc": ("body", "connection_id")},
        {"type": "greater_than_equal", "loc": ("path", "n")},
        {"type": "literal_error", "loc": ("query", "side"), "ctx": {"expected": "'a' or 'b'"}},
    ]
    assert validation_message(errors) == (
        "The link is missing “object”. The link’s “side” is not one of 'a' or 'b'. "
        "The form’s “connection_id” is not valid. The link’s “n” is not valid."
    )
