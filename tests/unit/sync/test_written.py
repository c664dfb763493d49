"""What a link takes from a write's answer (`sync.written`), and how a create retried
after a crash is keyed and linked: the planner/recorder side of the two bugs the
process chaos suite found (tests/chaos/test_found_by_chaos.py)."""

from __future__ import annotations

import dataclasses

from ledgerbridge.domain import System
from ledgerbridge.sync.actions import Create, LinkRecords, Update
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import RefIndex, SideRecord, snapshot_hash
from ledgerbridge.sync.plan import plan
from ledgerbridge.sync.ports import WriteResult
from ledgerbridge.sync.record import Recorded, record_pass
from ledgerbridge.sync.report import PairReport
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.sync.written import UNSEEN

from .factories import H, Q, contact, ctx, customer, link_for

PAIR = ObjectPair.CONTACTS_CUSTOMERS
CONTACTS = wizard_defaults(PAIR)


def _hash(record: SideRecord) -> str:
    return snapshot_hash(snapshot(CONTACTS, record, RefIndex()))


def _qbo_change_written_to_hubspot(answered: SideRecord) -> tuple[Update, Recorded]:
    """QBO's first name changes; the pass writes it into the HubSpot contact, whose
    answer is `answered`."""
    hs = contact("1", "ann@x.io", "Ann", "Lee")
    qb = customer("9", "ann@x.io", "Ann", "Lee")
    link = link_for(PAIR, hs, qb, dict(snapshot(CONTACTS, hs, RefIndex())), rule=CONTACTS)
    changed = customer("9", "ann@x.io", "Anna", "Lee", version="1")
    (update,) = plan(CONTACTS, [link], [hs], [changed], ctx())
    assert isinstance(update, Update)
    assert (update.target, update.fields) == (H, {"first_name": "Anna"})
    seen = {hs.ref: hs, changed.ref: changed}
    results = {id(update): WriteResult(update, answered)}
    recorded = record_pass(CONTACTS, [link], [update], results, seen, RefIndex(), PairReport(PAIR))
    return update, recorded


def test_an_update_answered_as_written_links_the_answer() -> None:
    answered = contact("1", "ann@x.io", "Anna", "Lee", version="2")
    _update, recorded = _qbo_change_written_to_hubspot(answered)
    (link,) = recorded.commit_links
    assert (link.hubspot_version, link.hubspot_hash) == ("2", _hash(answered))
    assert not recorded.held


def test_an_update_answered_with_someone_elses_edit_does_not_take_it_as_seen() -> None:
    # A HubSpot user changed the last name between the pass's read and its write.
    answered = contact("1", "ann@x.io", "Anna", "Edited", version="2")
    update, recorded = _qbo_change_written_to_hubspot(answered)
    (link,) = recorded.commit_links
    assert link.hubspot_version == "2"
    assert link.hubspot_hash == update.link_after.hubspot_hash != _hash(answered)
    assert answered.ref in recorded.held

    # The next pass reads the contact again: it is changed, and the edit goes to QBO.
    qb = customer("9", "ann@x.io", "Anna", "Lee", version="1")
    actions = plan(CONTACTS, [link], [answered], [qb], ctx())
    (carried,) = [a for a in actions if isinstance(a, Update)]
    assert (carried.target, carried.fields) == (Q, {"last_name": "Edited"})


def _create_answered(answered: SideRecord, *, replayed: bool) -> tuple[Create, Recorded]:
    hs = contact("1", "ann@x.io", "Ann", "Second", version="2")
    (create,) = plan(CONTACTS, [], [hs], [], ctx())
    assert isinstance(create, Create)
    results = {id(create): WriteResult(create, answered, replayed=replayed)}
    seen = {hs.ref: hs}
    recorded = record_pass(CONTACTS, [], [create], results, seen, RefIndex(), PairReport(PAIR))
    return create, recorded


def test_a_create_is_keyed_by_its_source_record_whatever_its_version() -> None:
    first = plan(CONTACTS, [], [contact("1", "ann@x.io", "Ann", "First")], [], ctx())
    (create,) = first
    again, _ = _create_answered(customer("9", "ann@x.io", "Ann", "Second"), replayed=False)
    assert isinstance(create, Create)
    assert create.idempotency_key == again.idempotency_key


def test_a_fresh_create_links_the_planned_base() -> None:
    written = customer("9", "ann@x.io", "Ann", "Second")
    create, recorded = _create_answered(written, replayed=False)
    (link,) = recorded.commit_links
    assert link.base == dict(create.link_after.base)
    assert link.hubspot_hash == create.link_after.hubspot_hash
    assert link.qbo_hash == _hash(written)
    assert not recorded.held


def test_a_replayed_create_links_what_was_written_and_the_next_pass_updates_it() -> None:
    # QBO replays the first try's answer: the customer as created before the edit.
    old = customer("9", "ann@x.io", "Ann", "First")
    create, recorded = _create_answered(old, replayed=True)
    (link,) = recorded.commit_links
    assert link.base["last_name"] == "First"
    assert (link.hubspot_hash, link.qbo_hash) == (UNSEEN, _hash(old))
    assert create.source_ref in recorded.held

    hs = contact("1", "ann@x.io", "Ann", "Second", version="2")
    actions = plan(CONTACTS, [link], [hs], [old], ctx())
    (update,) = [a for a in actions if isinstance(a, Update)]
    assert (update.target, update.fields) == (Q, {"last_name": "Second"})


def test_a_copy_made_before_a_crash_takes_the_originals_later_change() -> None:
    # A pass created HubSpot contact 1 from QBO customer 9, then died before its link
    # was saved; a QBO user then edited the customer. HubSpot wins conflicts, but the
    # copy holds only what the engine wrote: the original's change goes over it.
    copy = dataclasses.replace(contact("1", None, "Bo", "First"), counterpart_id="9")
    original = customer("9", None, "Bo", "Second", version="1")
    actions = plan(CONTACTS, [], [copy], [original], ctx())
    (linked,) = [a for a in actions if isinstance(a, LinkRecords)]
    (update,) = [a for a in actions if isinstance(a, Update)]
    assert (linked.hubspot_ref, linked.qbo_ref) == (copy.ref, original.ref)
    assert (update.target, update.fields) == (H, {"last_name": "Second"})
    assert System.QUICKBOOKS not in {a.target for a in actions if isinstance(a, Update)}
