"""The retry schedule of failed records (store.retries): backoff with a cap, then "needs
attention"; due records; on-demand retries by record, object type or error category.
On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ledgerbridge.domain import System
from ledgerbridge.store import RecordStatus, Store, TokenCipher, generate_key, retries
from ledgerbridge.store.repository import RecordStatusEntry

from .test_store import database_url

__all__ = ["database_url"]

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
H, Q = System.HUBSPOT, System.QUICKBOOKS
INVOICES, CONTACTS = "invoices_invoices", "contacts_customers"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.open(database_url, TokenCipher(generate_key().encode()), clock=lambda: T0)
    yield store
    store.close()


def record(
    store: Store,
    cid: int,
    kind: str,
    side: System,
    rid: str,
    status: str,
    category: str | None,
    at: dt.datetime = T0,
) -> None:
    with store.begin() as tx:
        entry = RecordStatusEntry(kind, side, rid, RecordStatus(status), error_category=category)
        tx.set_record_statuses(cid, [entry])
        retries.schedule(tx, cid, [(kind, side, rid, status)], at)


def next_attempt(store: Store, cid: int, rid: str) -> dt.datetime | None:
    with store.begin() as tx:
        (entry,) = [s for s in retries.schedule_of(tx, cid) if s.record_id == rid]
    return entry.next_attempt_at


@pytest.fixture
def cid(store: Store) -> int:
    with store.begin() as tx:
        return tx.create_connection(name="c", hubspot_base_url="h", qbo_base_url="q")


def test_the_delay_doubles_from_a_minute_is_capped_then_stops() -> None:
    delays = [retries.retry_delay(n) for n in range(1, retries.ATTENTION_AFTER + 1)]
    assert delays[:3] == [dt.timedelta(minutes=m) for m in (1, 2, 4)]
    assert delays[-2] == retries.RETRY_CAP and delays[-1] is None


def test_failures_are_scheduled_due_and_cleared(store: Store, cid: int) -> None:
    record(store, cid, INVOICES, H, "1", "failed", "missing_customer")
    record(store, cid, INVOICES, Q, "2", "failed", "hubspot_invoice_edited_in_qbo")
    due = T0 + dt.timedelta(minutes=1)
    record(store, cid, INVOICES, H, "1", "failed", "missing_customer", due)  # again: 2 min
    with store.begin() as tx:
        schedule = retries.schedule_of(tx, cid)
        assert [(s.record_id, s.retries, s.next_attempt_at) for s in schedule] == [
            ("2", 1, T0 + dt.timedelta(minutes=1)),
            ("1", 2, due + dt.timedelta(minutes=2)),
        ]
        assert retries.due_failures(tx, cid, INVOICES, T0) == []
        later = T0 + dt.timedelta(minutes=1)
        assert retries.due_failures(tx, cid, INVOICES, later) == [(Q, "2")]
        assert retries.failed_records(tx, cid, INVOICES, [(H, "1"), (H, "9"), (Q, "2")]) == {
            (H, "1"),
            (Q, "2"),
        }
    record(store, cid, INVOICES, Q, "2", "synced", None)
    with store.begin() as tx:
        assert [s.record_id for s in retries.schedule_of(tx, cid)] == ["1"]


def test_after_n_failures_a_record_needs_attention(store: Store, cid: int) -> None:
    at: dt.datetime | None = T0
    for _ in range(retries.ATTENTION_AFTER):
        assert at is not None
        record(store, cid, CONTACTS, H, "7", "failed", "ambiguous_match", at)
        at = next_attempt(store, cid, "7")
    assert at is None
    with store.begin() as tx:
        (entry,) = retries.schedule_of(tx, cid)
        assert entry.needs_attention and entry.retries == retries.ATTENTION_AFTER
        far = T0 + dt.timedelta(days=30)
        assert retries.due_failures(tx, cid, CONTACTS, far) == []


def test_failing_again_before_it_is_due_keeps_the_schedule(store: Store, cid: int) -> None:
    """The change reads re-read the last minutes every pass (QBO: 5 min), so a record
    that fails on its change is planned, and fails, again in every pass for minutes: that
    is not a retry. Counted, it burnt the whole schedule (hours) in a minute."""
    record(store, cid, CONTACTS, Q, "5", "failed", "ambiguous_match")
    for seconds in (1, 10, 30, 59):
        at = T0 + dt.timedelta(seconds=seconds)
        record(store, cid, CONTACTS, Q, "5", "failed", "ambiguous_match", at)
    with store.begin() as tx:
        (entry,) = retries.schedule_of(tx, cid)
    assert (entry.retries, entry.next_attempt_at) == (1, T0 + dt.timedelta(minutes=1))

    due = T0 + dt.timedelta(minutes=1)  # the retry when due counts
    record(store, cid, CONTACTS, Q, "5", "failed", "ambiguous_match", due)
    assert next_attempt(store, cid, "5") == due + dt.timedelta(minutes=2)
    with store.begin() as tx:  # and one asked for counts at once
        assert retries.request_retry(tx, cid, record_keys=[("quickbooks", "5")]) == 1
    record(store, cid, CONTACTS, Q, "5", "failed", "ambiguous_match", due)
    with store.begin() as tx:
        (entry,) = retries.schedule_of(tx, cid)
    assert (entry.retries, entry.next_attempt_at) == (3, due + dt.timedelta(minutes=4))


def test_request_retry_makes_the_matching_failed_records_due(store: Store, cid: int) -> None:
    record(store, cid, INVOICES, H, "1", "failed", "missing_customer")
    record(store, cid, INVOICES, H, "2", "failed", "tax_required")
    record(store, cid, CONTACTS, Q, "3", "failed", "ambiguous_match")
    record(store, cid, CONTACTS, Q, "4", "synced", None)
    with store.begin() as tx:
        assert retries.request_retry(tx, cid, error_category="missing_customer") == 1
        assert retries.due_failures(tx, cid, INVOICES, T0) == [(H, "1")]
        assert retries.request_retry(tx, cid, object_type=CONTACTS) == 1  # not the synced one
        assert retries.request_retry(tx, cid, record_keys=[("hubspot", "2")]) == 1
        assert retries.request_retry(tx, cid, record_keys=[]) == 0
        assert sorted(retries.due_failures(tx, cid, INVOICES, T0)) == [(H, "1"), (H, "2")]
        assert retries.due_failures(tx, cid, CONTACTS, T0) == [(Q, "3")]
        assert retries.request_retry(tx, cid) == 3  # every failed record
