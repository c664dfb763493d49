"""The retry schedule is visible in `/api/status` (issue 19): each failure's failures in a
row and next attempt, and how many records need attention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerbridge.domain import System
from ledgerbridge.store import RecordStatus, Store, TokenCipher, generate_key, retries
from ledgerbridge.store.repository import RecordStatusEntry
from ledgerbridge.web.app import create_web_app
from tests.support.signin import BASE_URL, api_token

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(
        f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()), clock=lambda: T0
    )
    with store.begin() as tx:
        tx.create_connection(name="Demo", hubspot_base_url="h", qbo_base_url="q")
    yield store
    store.close()


def fail(store: Store, record_id: str, times: int) -> None:
    """`times` failures in a row, each a retry asked for (so each counts, at T0)."""
    for _ in range(times):
        with store.begin() as tx:
            retries.request_retry(tx, 1, record_keys=[("hubspot", record_id)])
            entry = RecordStatusEntry(
                "invoices_invoices",
                System.HUBSPOT,
                record_id,
                RecordStatus.FAILED,
                error_category="missing_customer",
            )
            tx.set_record_statuses(1, [entry])
            retries.schedule(
                tx, 1, [("invoices_invoices", System.HUBSPOT, record_id, "failed")], T0
            )


async def status(store: Store) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=create_web_app(store))
    headers = {"Authorization": f"Bearer {api_token(store)}"}  # the API needs a token
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as client:
        response = await client.get("/api/status")
    (connection,) = response.json()["connections"]
    return dict(connection)  # a JSON object


async def test_each_failure_shows_its_next_attempt_and_who_needs_attention(store: Store) -> None:
    fail(store, "1", 2)
    fail(store, "2", retries.ATTENTION_AFTER)
    connection = await status(store)
    failures = {f["record_id"]: f for f in connection["failures"]}
    assert failures["1"]["retries"] == 2
    assert failures["1"]["next_attempt_at"] == (T0 + dt.timedelta(minutes=2)).isoformat()
    assert failures["1"]["needs_attention"] is False
    assert failures["2"]["next_attempt_at"] is None and failures["2"]["needs_attention"] is True
    assert connection["needs_attention"] == 1
    assert failures["1"]["category"]["id"] == "missing_customer"
