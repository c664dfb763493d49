"""`StoreState`: rules, links and cursors round-trip; a commit is all or nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.store import ConnectionStatus, RecordStatus, Store, TokenCipher, generate_key
from ledgerbridge.store.state import StoreState, save_rule
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.model import Link
from ledgerbridge.sync.ports import ActivityEntry, Commit, RecordOutcome
from ledgerbridge.sync.rules import ObjectPair

PAIR = ObjectPair.CONTACTS_CUSTOMERS
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def state() -> StoreState:
    store = Store.open("sqlite://", TokenCipher(generate_key().encode()), clock=lambda: NOW)
    with store.begin() as tx:
        connection_id = tx.create_connection(name="c", hubspot_base_url="h", qbo_base_url="q")
        save_rule(tx, connection_id, wizard_defaults(PAIR).model_copy(update={"enabled": False}))
    return StoreState(store, connection_id)


async def test_rules_links_cursors_round_trip(state: StoreState) -> None:
    (rule,) = await state.load_rules()
    assert rule.object_pair is PAIR and not rule.enabled and rule.sync_started_at == NOW
    link = Link(PAIR, "1", "2", "v1", "0", "hh", "qh", {"email": "a@x.io"}, System.HUBSPOT)
    commit = Commit(
        PAIR,
        [link],
        [
            RecordOutcome(
                RecordRef(System.HUBSPOT, "9"), "failed", "x", ErrorCategory.VALIDATION, "d"
            )
        ],
        [ActivityEntry(RecordRef(System.HUBSPOT, "1"), "hubspot_to_qbo", "create", "ok")],
        {System.HUBSPOT: NOW},
    )
    await state.commit(commit)
    assert await state.load_links() == [link]
    assert await state.get_cursor(System.HUBSPOT, PAIR) == NOW
    assert await state.get_cursor(System.QUICKBOOKS, PAIR) is None
    with state.store.begin() as tx:
        (record,) = tx.list_records(state.connection_id, status=RecordStatus.FAILED)
        assert (record.record_id, record.error_category) == ("9", "validation")
        assert len(tx.list_activity(state.connection_id)) == 1


async def test_a_failing_commit_records_nothing(state: StoreState) -> None:
    links = [
        Link(PAIR, "1", "2", None, None, "", "", {}),
        Link(PAIR, "3", "2", None, None, "", "", {}),  # QBO id 2 linked twice: refused
    ]
    with pytest.raises(Exception, match="UNIQUE"):
        await state.commit(Commit(PAIR, links, (), (), {System.HUBSPOT: NOW}))
    assert await state.load_links() == []
    assert await state.get_cursor(System.HUBSPOT, PAIR) is None


async def test_needs_reauth(state: StoreState) -> None:
    await state.mark_needs_reauth("revoked")
    with state.store.begin() as tx:
        row = tx.get_connection(state.connection_id)
    assert row is not None and row.status is ConnectionStatus.NEEDS_REAUTH
    assert row.status_detail == "revoked"


async def test_targeted_link_reads(state: StoreState) -> None:
    products = ObjectPair.PRODUCTS_ITEMS
    links = [
        Link(PAIR, f"h{n}", f"q{n}", "1", "1", "hh", "qh", {"email": f" C{n}@X.io "})
        for n in range(1200)
    ]
    links.append(Link(products, "p1", "i1", None, None, "", "", {"sku": "Ab-1 "}))
    links.append(Link(products, "p2", "i2", None, None, "", "", {"sku": None}))
    await state.commit(Commit(PAIR, links))

    # More ids than one IN list holds; either side's id; unknown ids are left out.
    hubspot = [f"h{n}" for n in range(0, 1200, 2)] + ["nope"]
    found = await state.load_links_for(PAIR, hubspot, ["q1", "q2", "i1"])
    assert [x.hubspot_id for x in found] == sorted({*hubspot[:-1], "h1"}, key=lambda h: int(h[1:]))
    assert found[0] == links[0]
    assert await state.load_links_for(PAIR) == []
    # By the match key of the base snapshot (trimmed, case-insensitive emails).
    by_key = await state.load_links_for(PAIR, keys=["c7@x.io", "none@x.io"])
    assert [x.hubspot_id for x in by_key] == ["h7"]
    assert await state.load_links_for(products, keys=["ab-1"]) == []  # SKUs keep their case
    assert [x.qbo_id for x in await state.load_links_for(products, keys=["Ab-1"])] == ["i1"]
    # The cross-pair references: ids only.
    refs = await state.load_refs()
    assert len(refs.contacts) == 1200 and refs.customer_for_contact("h9") == "q9"
    assert dict(refs.products) == {"p1": "i1", "p2": "i2"} and refs.custom_line_item_id is None
