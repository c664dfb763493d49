"""What a new user's walkthrough of the signed-in dashboard found: a page past the end, a
side named `qbo`, and dismissed failures that the failures page, the overview and the record
list told differently; "Dismiss selected" with nothing ticked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from ledgerbridge.domain import System
from ledgerbridge.store import RecordStatus, Store, TokenCipher, generate_key
from ledgerbridge.store.repository import RecordStatusEntry
from tests.support.dashboard import dashboard_client, shown
from tests.support.signin import sign_in

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS, INVOICES = "contacts_customers", "invoices_invoices"
FAILED_KEY = f"{INVOICES}|hubspot|i1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        cid = tx.create_connection(
            name="Acme", hubspot_base_url="h", qbo_base_url="q", options={"sandbox": True}
        )
        contacts = [
            RecordStatusEntry(CONTACTS, H, f"h{n}", RecordStatus.SYNCED, f"c{n}@acme.test")
            for n in range(120)
        ]
        invoices = [
            RecordStatusEntry(
                INVOICES, H, "i1", RecordStatus.FAILED, "INV-1", "missing_customer", "no one"
            ),
            RecordStatusEntry(INVOICES, Q, "q7", RecordStatus.SYNCED, "QBO-7"),
        ]
        tx.set_record_statuses(cid, contacts + invoices)
    yield store
    store.close()


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with dashboard_client(store) as client:
        yield client


async def test_a_records_page_past_the_end_says_so(client: httpx.AsyncClient, store: Store) -> None:
    await sign_in(client, store)
    text = shown((await client.get("/records?page=99")).text)
    assert "122 record(s): page 99 is past the end. The last page is page 3." in text
    assert "shown" not in text  # never "4901–4900 shown"
    assert "No records on this page." in text
    last = shown((await client.get("/records?page=3")).text)
    assert "122 record(s), 101–122 shown." in last
    assert "a linked pair is two records here" in last.lower()
    assert "Page 3 of 3" in last


async def test_an_invoices_page_past_the_end_says_so(
    client: httpx.AsyncClient, store: Store
) -> None:
    await sign_in(client, store)
    text = shown((await client.get("/invoices?page=5")).text)
    assert "Page 5 is past the end: the last page is page 1." in text


@pytest.mark.parametrize("side", ["qbo", "quickbooks"])
async def test_the_invoices_of_quickbooks_by_either_name(
    client: httpx.AsyncClient, store: Store, side: str
) -> None:
    await sign_in(client, store)
    page = (await client.get(f"/invoices?side={side}")).text
    assert 'data-record="quickbooks:q7"' in page
    assert 'data-record="hubspot:i1"' not in page
    assert '<option value="quickbooks" selected>' in page


async def test_a_side_that_is_not_one_names_the_valid_ones(
    client: httpx.AsyncClient, store: Store
) -> None:
    await sign_in(client, store)
    invoices = await client.get("/invoices?side=xero")
    assert invoices.status_code == 400
    assert "The link’s “side” is not one of 'hubspot', 'quickbooks' or 'qbo'." in shown(
        invoices.text
    )
    records = await client.get("/records?side=xero")
    assert records.status_code == 400
    assert "There is no side “xero”: the side is hubspot or quickbooks." in shown(records.text)
    assert 'data-record="quickbooks:q7"' in (await client.get("/records?side=qbo")).text


async def test_a_dismissed_failure_is_told_the_same_on_every_page(
    client: httpx.AsyncClient, store: Store
) -> None:
    csrf = await sign_in(client, store)
    answer = await client.post(
        "/failures/dismiss",
        data={"csrf_token": csrf, "connection_id": "1", "key": FAILED_KEY},
    )
    assert answer.status_code == 303
    failures = shown((await client.get(answer.headers["location"])).text)
    assert "1 failure(s) dismissed" in failures
    assert "Everything that can sync has synced" not in failures
    assert "No failures to act on: every failure left is dismissed." in failures
    assert "1 dismissed failure(s) still count as Failed on the overview and in Records" in failures
    overview = await client.get("/")
    assert 'data-count="failed">1</a>' in overview.text
    assert "Failed includes 1 dismissed failure(s)" in shown(overview.text)
    assert 'data-record="hubspot:i1"' in (await client.get("/records?status=failed")).text


@pytest.mark.parametrize(
    ("action", "note"),
    [
        ("/failures/dismiss", "Nothing was dismissed: tick the failures to dismiss first."),
        ("/failures/retry", "Nothing was retried: tick the records to retry first"),
    ],
)
async def test_a_selection_with_nothing_ticked_comes_back_with_a_note(
    client: httpx.AsyncClient, store: Store, action: str, note: str
) -> None:
    csrf = await sign_in(client, store)
    answer = await client.post(action, data={"csrf_token": csrf, "connection_id": "1"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/failures?")
    page = await client.get(answer.headers["location"])
    assert note in shown(page.text)
    assert 'data-record="hubspot:i1"' in page.text  # the failure is still there to tick
