"""A pass loads only the links it needs, never every link of the connection.

Its cost must not grow with the number of records already synced (a backfill runs
the engine once per batch): the links of the changed records, of the records they
name as their counterpart, of the match candidates, and of the linked records whose
base holds a key of an unlinked record; the cross-pair references as ids only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ledgerbridge.domain import System
from ledgerbridge.sync import engine as engine_module
from ledgerbridge.sync.actions import Fail
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.model import Link
from ledgerbridge.sync.rules import Direction, ObjectPair, SyncRule
from tests.unit.engine.fakes import BACK_REFERENCE, Clock, FakeSide, FakeState
from tests.unit.sync.test_deals import FakeDeals

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS = ObjectPair.CONTACTS_CUSTOMERS
INVOICES = ObjectPair.INVOICES_INVOICES
MANY = 300
SOME = 3
"""Links a one-record pass may read: its own, and those of the newest record of each
side (the fake's cursors are inclusive: that record is read again every pass)."""


@dataclass
class TargetedState(FakeState):
    """A state whose full link load is refused: a pass must never need it."""

    async def load_links(self) -> list[Link]:
        raise AssertionError("a pass loaded every link of the connection")


def setup(rule: SyncRule | None = None) -> tuple[SyncEngine, FakeSide, FakeSide, TargetedState]:
    clock = Clock()
    hubspot, qbo = FakeSide(H, clock), FakeSide(Q, clock)
    state = TargetedState([rule or wizard_defaults(CONTACTS)])
    return SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now), hubspot, qbo, state


async def settle(engine: SyncEngine) -> None:
    for _ in range(5):
        if (await engine.run_pass()).writes == 0:
            return
    raise AssertionError("the passes did not settle")


async def many_linked(engine: SyncEngine, hubspot: FakeSide, state: FakeState) -> list[str]:
    ids = [hubspot.put({"email": f"c{n}@x.io", "firstname": f"C{n}"}) for n in range(MANY)]
    await settle(engine)
    assert len(state.links) == MANY
    state.links_read = 0
    return ids


async def test_a_pass_over_many_links_loads_only_those_of_its_changes() -> None:
    engine, hubspot, qbo, state = setup()
    ids = await many_linked(engine, hubspot, state)

    hubspot.put({"firstname": "Changed"}, ids[7])
    report = await engine.run_pass()

    assert report.pairs[CONTACTS].updated == 1, report.as_dict()
    assert state.links_read <= SOME  # the changed contact's link, not the other 299
    (link,) = [x for x in state.links.values() if x.hubspot_id == ids[7]]
    assert qbo.records[link.qbo_id].raw["GivenName"] == "Changed"
    await settle(engine)  # the echo of the update: its link only
    assert state.links_read <= 2 * SOME


async def test_a_new_record_with_a_linked_records_key_still_fails_to_match() -> None:
    # QBO → HubSpot only: the HubSpot contact's new email is not read, so the key
    # a@x.io is known only from the link's base; a new QBO customer must not take it.
    rule = wizard_defaults(CONTACTS).model_copy(update={"direction": Direction.QBO_TO_HUBSPOT})
    engine, hubspot, qbo, state = setup(rule)
    qbo.put({"DisplayName": "Ann", "PrimaryEmailAddr": {"Address": "a@x.io"}})
    for n in range(MANY):
        qbo.put({"DisplayName": f"C{n}", "PrimaryEmailAddr": {"Address": f"c{n}@x.io"}})
    await settle(engine)
    (linked,) = [x for x in state.links.values() if x.base.get("email") == "a@x.io"]
    hubspot.put({"email": "moved@x.io"}, linked.hubspot_id)
    state.links_read = 0

    new = qbo.put({"DisplayName": "Ann Two", "PrimaryEmailAddr": {"Address": " A@x.io "}})
    report = await engine.run_pass()

    (fail,) = [a for a in report.pairs[CONTACTS].actions if isinstance(a, Fail)]
    assert fail.ref.id == new and fail.category is ErrorCategory.AMBIGUOUS_MATCH
    assert "already belongs to a linked record" in fail.detail
    assert state.links_read <= SOME  # with the link whose base holds the key


async def test_a_record_naming_an_already_linked_counterpart_is_not_linked_again() -> None:
    engine, hubspot, _, state = setup()
    ids = await many_linked(engine, hubspot, state)
    (link,) = [x for x in state.links.values() if x.hubspot_id == ids[3]]

    copy = hubspot.put({"email": "copy@x.io", BACK_REFERENCE: link.qbo_id})
    report = await engine.run_pass()

    (fail,) = [a for a in report.pairs[CONTACTS].actions if isinstance(a, Fail)]
    assert fail.ref.id == copy and "probably a duplicate" in fail.detail
    assert state.links_read <= SOME
    assert not any(x.hubspot_id == copy for x in state.links.values())


async def test_a_candidate_linked_elsewhere_is_loaded_and_not_matched() -> None:
    # HubSpot → QBO only: a new contact whose email a linked QBO customer now has.
    rule = wizard_defaults(CONTACTS).model_copy(update={"direction": Direction.HUBSPOT_TO_QBO})
    engine, hubspot, qbo, state = setup(rule)
    ids = await many_linked(engine, hubspot, state)
    (link,) = [x for x in state.links.values() if x.hubspot_id == ids[5]]
    qbo.put({"PrimaryEmailAddr": {"Address": "taken@x.io"}}, link.qbo_id)

    new = hubspot.put({"email": "taken@x.io"})
    report = await engine.run_pass()

    (fail,) = [a for a in report.pairs[CONTACTS].actions if isinstance(a, Fail)]
    assert fail.ref.id == new and fail.category is ErrorCategory.AMBIGUOUS_MATCH
    assert report.pairs[CONTACTS].created == 0
    assert state.links_read <= SOME  # with the candidate's link


async def test_a_full_deal_roll_up_walks_invoice_ids_in_chunks_never_every_link(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # R-INV-6: the full roll-up (an engine's first pass) reads the invoice link ids, then
    # the deals and links of one chunk of invoices at a time: never `load_links`.
    monkeypatch.setattr(engine_module, "DEALS_FULL_CHUNK", 2)
    clock = Clock()
    hubspot, qbo = FakeSide(H, clock), FakeSide(Q, clock)
    state = TargetedState([wizard_defaults(INVOICES)])
    for n in range(1, 6):
        link = Link(INVOICES, f"h{n}", f"{n}", None, None, "", "", {})
        state.links[(INVOICES.value, link.hubspot_id, link.qbo_id)] = link
    deals = FakeDeals({"h1": ["d1"], "h2": ["d1"], "h3": [], "h4": [], "h5": []})
    engine = SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now, deals=deals)

    report = await engine.run_pass()

    assert report.pairs[INVOICES].deal_error is None
    assert deals.asked_invoices == [["h1", "h2"], ["h3", "h4"], ["h5"]]
    assert state.links_read == 2  # the links of d1's two invoices, nothing else
