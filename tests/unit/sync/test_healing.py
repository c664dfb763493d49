"""Which failures a pass clears (sync.healing.healed_outcomes), pure."""

from __future__ import annotations

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.actions import Skip, SkipReason
from ledgerbridge.sync.healing import healed_outcomes, new_links
from ledgerbridge.sync.model import Link
from ledgerbridge.sync.ports import RecordOutcome
from ledgerbridge.sync.rules import ObjectPair

H, Q = System.HUBSPOT, System.QUICKBOOKS


def ref(side: System, rid: str) -> RecordRef:
    return RecordRef(side, rid)


def test_a_failed_record_the_plan_skips_as_unchanged_or_equal_is_synced() -> None:
    reverted, equal, again, untouched = ref(Q, "1"), ref(H, "2"), ref(H, "3"), ref(H, "4")
    actions = [Skip(reverted, SkipReason.UNCHANGED), Skip(equal, SkipReason.IN_SYNC)]
    failed_again = [RecordOutcome(again, "failed")]
    found = {reverted, equal, again, untouched}
    healed = healed_outcomes({reverted, equal, again, untouched}, found, actions, failed_again)
    assert healed == [RecordOutcome(equal, "synced"), RecordOutcome(reverted, "synced")]


def test_other_skips_exclude_with_their_reason_and_vanished_records_are_excluded() -> None:
    archived, gone = ref(H, "5"), ref(Q, "6")
    actions = [Skip(archived, SkipReason.ARCHIVED)]
    healed = healed_outcomes({archived, gone}, {archived}, actions, [])
    assert healed == [
        RecordOutcome(archived, "excluded", excluded_by=SkipReason.ARCHIVED),
        RecordOutcome(gone, "excluded", excluded_by="the record no longer exists"),
    ]


def test_new_links_are_those_not_linked_before() -> None:
    def link(h: str, q: str) -> Link:
        return Link(ObjectPair.CONTACTS_CUSTOMERS, h, q, None, None, "", "", {})

    assert new_links([link("1", "7")], [link("1", "7"), link("2", "8")])
    assert not new_links([link("1", "7")], [link("1", "7")])
