"""The dashboard's pages over the real store (in-process ASGI): what each action does."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from ledgerbridge.domain import System
from ledgerbridge.store import (
    ConnectionRow,
    ConnectionStatus,
    LinkRow,
    RecordStatus,
    Store,
    TokenCipher,
    generate_key,
)
from ledgerbridge.store.accounts import list_audit, record_audit
from ledgerbridge.store.dashboard import RecordFilter, page_records
from ledgerbridge.store.repository import RecordStatusEntry
from ledgerbridge.store.retries import DUE_NOW, schedules_for
from ledgerbridge.web.pages.common import record_url
from tests.support.dashboard import dashboard_client
from tests.support.signin import sign_in

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS, INVOICES = "contacts_customers", "invoices_invoices"


class Wakes(list[int]):
    def __call__(self, connection_id: int) -> None:
        self.append(connection_id)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        cid = tx.create_connection(
            name="Acme", hubspot_base_url="h", qbo_base_url="q", options={"sandbox": True}
        )
        tx.set_record_statuses(
            cid,
            [
                RecordStatusEntry(CONTACTS, H, "h1", RecordStatus.SYNCED, "ann@acme.test"),
                RecordStatusEntry(CONTACTS, Q, "q1", RecordStatus.SYNCED, "ann@acme.test"),
                RecordStatusEntry(
                    CONTACTS, H, "h2", RecordStatus.FAILED, "bob@acme.test", "ambiguous_match"
                ),
                RecordStatusEntry(
                    CONTACTS, H, "h3", RecordStatus.FAILED, "cy@acme.test", "ambiguous_match"
                ),
                RecordStatusEntry(
                    INVOICES, H, "i1", RecordStatus.FAILED, "INV-1", "missing_customer", "no one"
                ),
            ],
        )
        tx.save_links([LinkRow(cid, CONTACTS, "h1", "q1", None, None, None, None, {})])
        tx.set_cursor(cid, H, CONTACTS, "2026-12-01T00:00:00+00:00")
    yield store
    store.close()


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
async def client(store: Store, wakes: Wakes) -> AsyncIterator[httpx.AsyncClient]:
    async with dashboard_client(store, wake=wakes) as client:
        yield client


async def test_the_overview_counts_a_linked_pair_once(
    client: httpx.AsyncClient, store: Store
) -> None:
    await sign_in(client, store)
    page = (await client.get("/")).text
    assert "Contacts ↔ Customers" in page
    assert 'data-count="synced">1</a>' in page  # h1 ↔ q1: one pair
    assert 'data-count="failed">2</a>' in page


async def test_retrying_one_record_marks_it_audits_and_wakes_the_runtime(
    client: httpx.AsyncClient, store: Store, wakes: Wakes
) -> None:
    csrf = await sign_in(client, store)
    answer = await client.post(
        "/failures/retry",
        data={"csrf_token": csrf, "connection_id": "1", "one": f"{CONTACTS}|hubspot|h2"},
    )
    assert answer.status_code == 303
    assert "retried=1" in answer.headers["location"]
    assert wakes == [1]
    with store.begin() as tx:
        (plan,) = schedules_for(tx, 1, [(CONTACTS, "hubspot", "h2")]).values()
        (entry,) = [e for e in list_audit(tx) if e.action == "retry"]
    assert plan.next_attempt_at == DUE_NOW  # tried at the next pass
    assert entry.details == {"records": [f"{CONTACTS}|hubspot|h2"], "matched": 1}


async def test_retry_all_of_a_category_and_dismiss(
    client: httpx.AsyncClient, store: Store, wakes: Wakes
) -> None:
    csrf = await sign_in(client, store)
    answer = await client.post(
        "/failures/retry",
        data={"csrf_token": csrf, "connection_id": "1", "category": "ambiguous_match"},
    )
    assert "retried=2" in answer.headers["location"]
    dismissed = await client.post(
        "/failures/dismiss",
        data={"csrf_token": csrf, "connection_id": "1", "key": f"{INVOICES}|hubspot|i1"},
    )
    assert "dismissed=1" in dismissed.headers["location"]
    page = (await client.get("/failures")).text
    assert 'data-category="missing_customer"' not in page  # dismissed: kept as history only
    assert "Dismissed" in page and "INV-1" not in page.split("Dismissed")[0]
    invoices = (await client.get("/invoices")).text
    assert 'id="invoice-banner"' not in invoices  # a dismissed failure raises no banner
    with store.begin() as tx:
        # Dismissing hides; the record is still failed in the store.
        failed = page_records(tx, 1, RecordFilter(status="failed", object_type=INVOICES))
    assert [r.record_id for r in failed.records] == ["i1"]


async def test_the_invoice_banner_links_to_the_invoice_failures(
    client: httpx.AsyncClient, store: Store
) -> None:
    await sign_in(client, store)
    page = (await client.get("/invoices")).text
    assert "1 invoice(s) failed to sync" in page
    assert 'href="/failures?object=invoices_invoices"' in page
    card = (await client.get("/invoices/hubspot/i1")).text
    assert "An invoice should have an associated customer" in card
    assert "<h1>Invoice INV-1</h1>" in card  # its number, then its id beside the number
    assert 'HubSpot invoice INV-1</strong> <span class="muted">(id i1)</span>' in card
    assert "Download PDF" not in card  # not in QuickBooks: no PDF
    missing = await client.get("/invoices/hubspot/i1/pdf", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    assert "has no PDF: it is not linked to a QuickBooks invoice" in missing.text


async def test_the_csv_exports_follow_the_filters(client: httpx.AsyncClient, store: Store) -> None:
    await sign_in(client, store)
    answer = await client.get("/export/records.csv", params={"object": CONTACTS})
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(r["record_id"] for r in rows) == ["h1", "h2", "h3", "q1"]
    failures = list(csv.DictReader(io.StringIO((await client.get("/export/failures.csv")).text)))
    assert sorted((r["record_id"], r["error_category"]) for r in failures) == [
        ("h2", "ambiguous_match"),
        ("h3", "ambiguous_match"),
        ("i1", "missing_customer"),
    ]


async def test_records_filter_page_and_expand(client: httpx.AsyncClient, store: Store) -> None:
    await sign_in(client, store)
    page = (await client.get("/records", params={"q": "bob"})).text
    assert "1 record(s)" in page and "bob@acme.test" in page and "cy@acme.test" not in page
    with store.begin() as tx:
        tx.append_activity(
            1,
            object_type=CONTACTS,
            side=Q,
            record_id="q1",
            direction="qbo_to_hubspot",
            operation="update",
            outcome="ok",
            details={"fields": {"phone": "1"}},
        )
    # The HubSpot record's activity shows its linked QuickBooks record's too.
    activity = await client.get(
        "/records/activity", params={"object": CONTACTS, "side": "hubspot", "id": "h1"}
    )
    assert "QuickBooks → HubSpot" in activity.text and "phone" in activity.text


async def test_disconnect_and_resume_are_audited(
    client: httpx.AsyncClient, store: Store, wakes: Wakes
) -> None:
    csrf = await sign_in(client, store)
    await client.post("/connections/1/disconnect", data={"csrf_token": csrf})
    assert "Disconnected" in (await client.get("/connections")).text
    await client.post("/connections/1/resume", data={"csrf_token": csrf})
    with store.begin() as tx:
        row = tx.get_connection(1)
        actions = [e.action for e in list_audit(tx)]
    assert row is not None and row.status.value == "active"
    assert actions[:2] == ["connect", "disconnect"]
    assert wakes == [1]


def test_records_link_to_the_services_own_apps_except_for_sandboxes() -> None:
    def row(**options: object) -> ConnectionRow:
        now = dt.datetime.now(dt.UTC)
        return ConnectionRow(
            1,
            "c",
            "62515",
            "1000",
            "h",
            "q",
            ConnectionStatus.ACTIVE,
            None,
            dict(options),
            now,
            now,
        )

    real = row()
    assert record_url(real, CONTACTS, "hubspot", "7") == (
        "https://app.hubspot.com/contacts/62515/record/0-1/7"
    )
    assert record_url(real, INVOICES, "quickbooks", "9") == (
        "https://app.qbo.intuit.com/app/invoice?txnId=9"
    )
    assert record_url(row(sandbox=True), CONTACTS, "hubspot", "7") is None


async def test_the_failures_page_shows_each_records_retry_schedule(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerbridge.store.retries import ScheduledRecord

    at = dt.datetime(2026, 12, 5, 9, 30, tzinfo=dt.UTC)
    plans = {
        (CONTACTS, "hubspot", "h2"): ScheduledRecord(CONTACTS, "hubspot", "h2", 8, None),
        (CONTACTS, "hubspot", "h3"): ScheduledRecord(CONTACTS, "hubspot", "h3", 2, at),
    }
    # The schedule is kept by the retry mechanism (store.retries); here, its answer.
    monkeypatch.setattr(
        "ledgerbridge.web.pages.failures.schedules_for", lambda tx, cid, keys: plans
    )
    await sign_in(client, store)
    page = (await client.get("/failures")).text
    assert "Needs attention</strong> (8 scheduled tries failed)" in page
    assert "Next automatic retry 2026-12-05 09:30:00 UTC (scheduled try 3 of 8)" in page
    assert "Tried again when either side of it changes" in page  # i1: no schedule known


async def test_the_audit_log_lists_changes_as_text(client: httpx.AsyncClient, store: Store) -> None:
    await sign_in(client, store)
    changes = [
        "mapping phone: off",
        "mapping added: lifecycle_notes (HubSpot lifecyclestage ↔ QuickBooks Notes)",
    ]
    with store.begin() as tx:
        record_audit(
            tx,
            "admin",
            "rule_change",
            connection_id=1,
            target=CONTACTS,
            details={"changes": changes, "matched": 2},
        )
    text = (await client.get("/audit")).text
    assert "Contacts ↔ Customers" in text and "matched: 2" in text
    assert "\\u2194" not in text and "[&#34;" not in text and '["' not in text
    assert "<li>mapping phone: off</li>" in text
    assert (
        "<li>mapping added: lifecycle_notes (HubSpot lifecyclestage ↔ QuickBooks Notes)</li>"
        in text
    )
