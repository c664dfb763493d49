"""Snapshot hashes kept across passes by (rule, QBO id, SyncToken) (issue 18)."""

from __future__ import annotations

from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.hashes import SnapshotHashes
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import RefIndex, snapshot_hash
from ledgerbridge.sync.rules import ConflictPolicy, ObjectPair
from tests.unit.sync.factories import contact, customer

RULE = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)
REFS = RefIndex()


def test_a_qbo_record_s_hash_is_computed_once_per_sync_token() -> None:
    hashes = SnapshotHashes()
    hashes.begin(RULE)
    ann = customer("7", "ann@x.io", "Ann", version="3")
    expected = snapshot_hash(snapshot(RULE, ann, REFS))
    assert hashes.of(RULE, ann, REFS) == expected
    assert hashes.of(RULE, ann, REFS) == expected
    assert hashes.computed == 1
    hashes.begin(RULE)  # the next pass, the same rule
    assert hashes.of(RULE, ann, REFS) == expected and hashes.computed == 1
    edited = customer("7", "ann@x.io", "Anna", version="4")
    assert hashes.of(RULE, edited, REFS) == snapshot_hash(snapshot(RULE, edited, REFS))
    assert hashes.computed == 2


def test_hubspot_records_and_an_edited_rule_are_computed_again() -> None:
    hashes = SnapshotHashes()
    hashes.begin(RULE)
    hs = contact("1", "ann@x.io", "Ann", version="2026-01-01T00:00:00+00:00")
    hashes.of(RULE, hs, REFS)
    hashes.of(RULE, hs, REFS)
    assert hashes.computed == 2  # a HubSpot version may be shared by two edits
    ann = customer("7", "ann@x.io", "Ann", version="3")
    hashes.of(RULE, ann, REFS)
    edited_rule = RULE.model_copy(update={"conflict_policy": ConflictPolicy.QBO_WINS})
    hashes.begin(edited_rule)
    hashes.of(edited_rule, ann, REFS)
    assert hashes.computed == 4


def test_the_kept_hashes_are_bounded() -> None:
    hashes = SnapshotHashes(limit=2)
    hashes.begin(RULE)
    for n in range(3):
        hashes.of(RULE, customer(str(n), f"p{n}@x.io", version="0"), REFS)
    hashes.of(RULE, customer("0", "p0@x.io", version="0"), REFS)
    assert hashes.computed == 4  # the first was forgotten when the memo was full
