from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from ledgerbridge.domain import System
from ledgerbridge.store import RecordStatus, Store, TokenCipher, generate_key
from ledgerbridge.web.app import create_web_app


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        cid = tx.create_connection(
            name="Demo",
            hubspot_base_url="http://127.0.0.1:8701",
            qbo_base_url="http://127.0.0.1:8702",
            hubspot_portal_id="62515",
            qbo_realm_id="1000000001",
            options={"setup_warnings": ["QuickBooks 'close the books' is off: …"]},
        )
        tx.set_record_status(cid, "contact", System.HUBSPOT, "1", RecordStatus.SYNCED)
        tx.set_record_status(cid, "contact", System.HUBSPOT, "2", RecordStatus.SYNCED)
        tx.set_record_status(
            cid,
            "contact",
            System.HUBSPOT,
            "3",
            RecordStatus.FAILED,
            label="jane@acme.test",
            error_category="duplicate_display_name",
            detail="Duplicate Name Exists Error (6240)",
        )
        tx.set_record_status(
            cid,
            "invoice",
            System.HUBSPOT,
            "9",
            RecordStatus.EXCLUDED,
            excluded_by="status is draft",
        )
    yield store
    store.close()


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_web_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as client:
        yield client


async def test_api_status_counts_and_explains_failures(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/status")
    assert response.status_code == 200
    (connection,) = response.json()["connections"]
    assert connection["objects"] == {
        "contact": {"synced": 2, "failed": 1, "excluded": 0},
        "invoice": {"synced": 0, "failed": 0, "excluded": 1},
    }
    assert connection["totals"] == {"synced": 2, "failed": 1, "excluded": 1}
    assert connection["warnings"] == ["QuickBooks 'close the books' is off: …"]
    (failure,) = connection["failures"]
    assert failure["label"] == "jane@acme.test"
    assert failure["category"]["title"] == "Display name is a duplicate"
    assert "disambiguate" in failure["category"]["fix"]
    (excluded,) = connection["excluded"]  # which filter holds the record back (R-CON-7)
    assert (excluded["record_id"], excluded["excluded_by"]) == ("9", "status is draft")


async def test_status_page_shows_counts_and_the_fix(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    page = response.text
    assert "Display name is a duplicate" in page
    assert "jane@acme.test" in page
    assert "close the books" in page  # R-INV-12 set-up warnings are shown
    assert "Duplicate Name Exists Error (6240)" in page
    assert "Excluded by the filter" in page and "status is draft" in page
    assert (await client.get("/healthz")).json()["status"] == "ok"
