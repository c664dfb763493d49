"""store.workflow_runs: the callbackId guard and the sync record of each execution."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ledgerbridge.store import RecordStatus, Store, TokenCipher, generate_key
from ledgerbridge.store import workflow_runs as runs

T0 = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def store() -> Iterator[Store]:
    opened = Store.open("sqlite://", TokenCipher(generate_key().encode()), clock=lambda: T0)
    yield opened
    opened.close()


def _connection(store: Store) -> int:
    with store.begin() as tx:
        return tx.create_connection(
            name="c", hubspot_base_url="h", qbo_base_url="q", hubspot_portal_id="1"
        )


def _claim(store: Store, cid: int, callback: str = "ap-1") -> tuple[runs.WorkflowRun, bool]:
    with store.begin() as tx:
        return runs.claim_run(
            tx,
            cid,
            callback_id=callback,
            action="invoice",
            object_type="deal",
            object_id="7",
            now=T0,
        )


def test_first_delivery_claims_a_redelivery_finds_the_run(store: Store) -> None:
    cid = _connection(store)
    run, first = _claim(store, cid)
    assert first and run.status is runs.RunStatus.RUNNING and run.deliveries == 1
    again, first_again = _claim(store, cid)
    assert not first_again and again.deliveries == 2
    other, other_first = _claim(store, cid, "ap-2")
    assert other_first and other.callback_id == "ap-2"


def test_finish_records_a_sync_record_and_activity(store: Store) -> None:
    cid = _connection(store)
    _claim(store, cid)
    _claim(store, cid, "ap-2")
    done = runs.RunOutcome(
        runs.RunStatus.SUCCEEDED, qbo_entity="Invoice", qbo_id="70", doc_number="1001"
    )
    failed = runs.RunOutcome(
        runs.RunStatus.FAILED, error_category="missing_product", detail="line 'X'"
    )
    with store.begin() as tx:
        runs.finish_run(tx, cid, "ap-1", done, label="Create QuickBooks invoice for deal 7")
        runs.finish_run(tx, cid, "ap-2", failed)
    with store.begin() as tx:
        records = {r.record_id: r for r in tx.list_records(cid, object_type=runs.OBJECT_TYPE)}
        activity = tx.list_activity(cid, object_type=runs.OBJECT_TYPE)
        stored = runs.get_run(tx, cid, "ap-1")
    assert records["ap-1"].status is RecordStatus.SYNCED
    assert records["ap-1"].label == "Create QuickBooks invoice for deal 7"
    assert (records["ap-2"].status, records["ap-2"].error_category) == (
        RecordStatus.FAILED,
        "missing_product",
    )
    assert records["ap-2"].detail == "line 'X'"
    assert sorted(a.outcome for a in activity) == ["failed", "succeeded"]
    assert stored is not None and (stored.qbo_id, stored.doc_number) == ("70", "1001")
    assert stored.status is runs.RunStatus.SUCCEEDED


def test_finish_of_an_unknown_callback_is_an_error(store: Store) -> None:
    cid = _connection(store)
    with store.begin() as tx, pytest.raises(LookupError):
        runs.finish_run(tx, cid, "nope", runs.RunOutcome(runs.RunStatus.FAILED))


def test_long_callback_ids_get_a_short_record_id() -> None:
    assert runs.record_id_of("ap-1") == "ap-1"
    long_id = "x" * 200
    assert len(runs.record_id_of(long_id)) == 64
    assert runs.record_id_of(long_id) != runs.record_id_of(long_id + "y")
