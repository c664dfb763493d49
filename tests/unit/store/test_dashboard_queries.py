"""The dashboard's queries (`store.dashboard`, `store.accounts`, `store.retries`) on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from ledgerbridge.commands._progress import show_initial_sync, summary_table
from ledgerbridge.domain import System
from ledgerbridge.store import LinkRow, RecordStatus, Store, TokenCipher, generate_key
from ledgerbridge.store.accounts import (
    TokenKind,
    create_token,
    list_audit,
    record_audit,
    use_token,
)
from ledgerbridge.store.dashboard import (
    RecordFilter,
    count_units,
    dismiss,
    dismissed_history,
    failure_groups,
    invoice_payments,
    merge_pairs,
    page_records,
)
from ledgerbridge.store.repository import RecordStatusEntry
from ledgerbridge.store.retries import DUE_NOW, request_retry, schedules_for

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS, INVOICES = "contacts_customers", "invoices_invoices"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = Store.open(url, TokenCipher(generate_key().encode()))
    yield store
    store.close()


def _link(cid: int, object_type: str, hs: str, qbo: str, **base: str) -> LinkRow:
    return LinkRow(cid, object_type, hs, qbo, None, None, None, None, dict(base))


@pytest.fixture
def cid(store: Store) -> int:
    """Contacts: 3 linked pairs (one whose QBO side failed), 1 unlinked failure on each
    side, 1 excluded; an invoice pair with two payments."""
    with store.begin() as tx:
        cid = tx.create_connection(name="c", hubspot_base_url="h", qbo_base_url="q")
        entries = []
        for n in ("1", "2", "3"):
            entries.append(RecordStatusEntry(CONTACTS, H, f"h{n}", RecordStatus.SYNCED))
            entries.append(RecordStatusEntry(CONTACTS, Q, f"q{n}", RecordStatus.SYNCED))
        entries[-1] = RecordStatusEntry(
            CONTACTS, Q, "q3", RecordStatus.FAILED, error_category="stale_object"
        )
        entries += [
            RecordStatusEntry(
                CONTACTS, H, "h4", RecordStatus.FAILED, "Ada", "duplicate_display_name", "6240"
            ),
            RecordStatusEntry(
                CONTACTS, Q, "q5", RecordStatus.FAILED, "Bob", "duplicate_display_name"
            ),
            RecordStatusEntry(CONTACTS, H, "h6", RecordStatus.EXCLUDED, excluded_by="no email"),
            RecordStatusEntry(INVOICES, H, "i1", RecordStatus.SYNCED, "INV-1"),
            RecordStatusEntry(INVOICES, Q, "1001", RecordStatus.SYNCED, "1001"),
        ]
        tx.set_record_statuses(cid, entries)
        tx.save_links(
            [_link(cid, CONTACTS, f"h{n}", f"q{n}") for n in ("1", "2", "3")]
            + [
                _link(cid, INVOICES, "i1", "1001"),
                _link(cid, "payments", "p1", "77", invoice="i1", amount="10.00", date="2026-12-01"),
                _link(cid, "payments", "p2", "78", invoice="other", amount="5.00"),
            ]
        )
        tx.set_cursor(cid, Q, CONTACTS, "2026-12-01T00:00:00+00:00")
        tx.set_cursor(cid, H, CONTACTS, "2026-12-01T00:00:00+00:00")
    return cid


def test_a_linked_pair_counts_once_with_its_worse_status(store: Store, cid: int) -> None:
    with store.begin() as tx:
        counts = count_units(tx, cid)
    assert counts[CONTACTS] == {"synced": 2, "failed": 3, "excluded": 1}
    assert counts[INVOICES] == {"synced": 1}


async def test_the_demo_summary_says_what_the_overview_says(store: Store, cid: int) -> None:
    """The terminal's table after the demo's initial sync counts as the dashboard does:
    3 contact pairs and 2 unlinked failures and 1 exclusion are 2 synced, 3 failed and 1
    excluded (counting records, it said 5 synced and 3 failed)."""
    done = asyncio.Event()
    done.set()
    console = Console(file=io.StringIO(), width=120, no_color=True)
    counts = await show_initial_sync(store, cid, done, console, refresh_seconds=0)
    console.print(summary_table(counts))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert re.search(r"Contacts ↔ Customers\s*│\s*2\s*│\s*3\s*│\s*1\s*│\s*0", text), text
    assert re.search(r"Invoices ↔ Invoices\s*│\s*1\s*│\s*0\s*│", text), text
    assert "Contacts ↔ Customers: 2 synced, 3 failed, 1 excluded" in text


def test_records_filter_search_and_page(store: Store, cid: int) -> None:
    with store.begin() as tx:
        failed = page_records(tx, cid, RecordFilter(object_type=CONTACTS, status="failed"))
        assert failed.total == 3
        assert {r.record_id for r in failed.records} == {"q3", "h4", "q5"}
        assert failed.counterparts[(CONTACTS, "quickbooks", "q3")] == "h3"
        by_text = page_records(tx, cid, RecordFilter(text="ada"))
        assert [r.record_id for r in by_text.records] == ["h4"]
        by_detail = page_records(tx, cid, RecordFilter(text="6240"))
        assert [r.record_id for r in by_detail.records] == ["h4"]
        wildcard = page_records(tx, cid, RecordFilter(text="%"))
        assert wildcard.total == 0  # LIKE wildcards are matched literally
        quickbooks = page_records(tx, cid, RecordFilter(side="quickbooks", object_type=CONTACTS))
        assert quickbooks.total == 4
        pages = [page_records(tx, cid, RecordFilter(), offset=o, limit=5) for o in (0, 5, 10)]
    assert [p.total for p in pages] == [11, 11, 11]
    assert [len(p.records) for p in pages] == [5, 5, 1]
    assert [p.has_next for p in pages] == [True, True, False]
    assert len({(r.side, r.record_id) for p in pages for r in p.records}) == 11


def test_dismissed_failures_leave_the_groups_and_stay_in_history(store: Store, cid: int) -> None:
    with store.begin() as tx:
        assert failure_groups(tx, cid) == [("duplicate_display_name", 2), ("stale_object", 1)]
        assert (
            dismiss(tx, cid, [(CONTACTS, "hubspot", "h4"), (CONTACTS, "hubspot", "h1")], "ann") == 1
        )
        assert failure_groups(tx, cid) == [("duplicate_display_name", 1), ("stale_object", 1)]
        (entry,) = dismissed_history(tx, cid)
        assert (entry.record_id, entry.error_category, entry.dismissed_by) == (
            "h4",
            "duplicate_display_name",
            "ann",
        )
        # Failing for another reason brings it back.
        tx.set_record_status(
            cid, CONTACTS, H, "h4", RecordStatus.FAILED, error_category="validation"
        )
        assert ("validation", 1) in failure_groups(tx, cid)


def test_invoice_payments_are_the_links_applied_to_the_invoice(store: Store, cid: int) -> None:
    with store.begin() as tx:
        (payment,) = invoice_payments(tx, cid, "i1")
    assert (payment.hubspot_id, payment.qbo_id, payment.amount, payment.date) == (
        "p1",
        "77",
        "10.00",
        "2026-12-01",
    )


def test_a_retry_makes_the_matching_failed_records_due(store: Store, cid: int) -> None:
    keys = [
        (CONTACTS, "hubspot", "h4"),
        (CONTACTS, "quickbooks", "q5"),
        (CONTACTS, "hubspot", "h1"),
    ]
    with store.begin() as tx:
        assert request_retry(tx, cid, object_type=CONTACTS, record_keys=[("hubspot", "h4")]) == 1
        assert request_retry(tx, cid, record_keys=[("hubspot", "h1")]) == 0  # synced: no retry
        due = schedules_for(tx, cid, keys)
        assert due[(CONTACTS, "hubspot", "h4")].next_attempt_at == DUE_NOW
        assert (CONTACTS, "hubspot", "h1") not in due
        assert request_retry(tx, cid, error_category="duplicate_display_name") == 2
        assert schedules_for(tx, cid, keys)[(CONTACTS, "quickbooks", "q5")].next_attempt_at == (
            DUE_NOW
        )


def test_tokens_are_found_by_hash_and_a_sign_in_link_is_spent_once(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    with store.begin() as tx:
        create_token(tx, TokenKind.API, "ci", "a" * 64)
        with pytest.raises(ValueError, match="exists already"):
            create_token(tx, TokenKind.API, "ci", "b" * 64)
        create_token(
            tx, TokenKind.SIGNIN, "link", "c" * 64, expires_at=now + dt.timedelta(minutes=5)
        )
        assert use_token(tx, TokenKind.API, "a" * 64) is not None
        assert use_token(tx, TokenKind.API, "a" * 64) is not None
        assert use_token(tx, TokenKind.SIGNIN, "a" * 64) is None  # the kind must match
        late = now + dt.timedelta(minutes=6)
        assert use_token(tx, TokenKind.SIGNIN, "c" * 64, now=late) is None  # expired
        assert use_token(tx, TokenKind.SIGNIN, "c" * 64) is not None
        assert use_token(tx, TokenKind.SIGNIN, "c" * 64) is None  # spent
        record_audit(tx, "admin", "retry", connection_id=1, details={"matched": 2})
        (entry,) = list_audit(tx)
    assert (entry.actor, entry.action, entry.details) == ("admin", "retry", {"matched": 2})


def test_one_record_per_pair_matches_the_overview_counts(store: Store, cid: int) -> None:
    with store.begin() as tx:
        counts = count_units(tx, cid)[CONTACTS]
        for status in ("synced", "failed", "excluded"):
            f = RecordFilter(object_type=CONTACTS, status=status, one_per_pair=True)
            page = page_records(tx, cid, f)
            assert page.total == counts[status], status
        synced = page_records(tx, cid, RecordFilter(status="synced", one_per_pair=True))
    # h1 ↔ q1 and h2 ↔ q2 show once, as their HubSpot records; the invoice pair too.
    assert sorted(r.record_id for r in synced.records) == ["h1", "h2", "i1"]


def test_pairs_read_after_their_records_were_counted_do_not_fail_the_count() -> None:
    """The record counts and the linked pairs are two reads; a pass that commits between
    them adds pairs whose records were not counted (the demo's first-pass progress failed
    with KeyError: 'synced'). The count comes back short for a moment, never below zero."""
    counts = {CONTACTS: {"failed": 1}}
    merged = merge_pairs(
        counts, [(CONTACTS, "synced", "synced", 3), (INVOICES, "synced", "synced", 1)]
    )
    assert merged == {CONTACTS: {"failed": 1}, INVOICES: {}}
    consistent = merge_pairs(
        {CONTACTS: {"synced": 4, "failed": 1}}, [(CONTACTS, "synced", "failed", 1)]
    )
    assert consistent == {CONTACTS: {"synced": 3, "failed": 1}}
