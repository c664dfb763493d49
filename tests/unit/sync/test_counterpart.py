"""R-BEY-1: a record that names its counterpart is linked to it, never created again."""

from __future__ import annotations

import datetime as dt

from ledgerbridge.domain import Party, RecordRef, System
from ledgerbridge.sync.actions import Create, Fail, LinkRecords, Skip
from ledgerbridge.sync.model import Link, PlanContext, SideRecord
from ledgerbridge.sync.plan import plan
from ledgerbridge.sync.rules import Direction, ObjectPair, SyncRule

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _rule() -> SyncRule:
    return SyncRule(object_pair=ObjectPair.CONTACTS_CUSTOMERS, direction=Direction.TWO_WAY)


def _hubspot(id_: str, counterpart: str | None) -> SideRecord:
    party = Party(given_name="No", family_name="Email")
    raw = {"firstname": "No", "lastname": "Email"}
    return SideRecord(
        RecordRef(System.HUBSPOT, id_), "v1", T0, party, raw, counterpart_id=counterpart
    )


def _qbo(id_: str) -> SideRecord:
    party = Party(given_name="No", family_name="Email", display_name="No Email")
    raw = {"Id": id_, "GivenName": "No", "FamilyName": "Email", "DisplayName": "No Email"}
    return SideRecord(RecordRef(System.QUICKBOOKS, id_), "0", T0, party, raw)


def test_a_record_created_before_a_crash_is_linked_not_created_again() -> None:
    # A pass created HubSpot contact 1097 from QBO customer 22 (no email) and died
    # before saving the link: both are unlinked and changed.
    actions = plan(_rule(), [], [_hubspot("1097", "22")], [_qbo("22")], PlanContext(T0))
    assert not [a for a in actions if isinstance(a, Create)]
    (link,) = [a for a in actions if isinstance(a, LinkRecords)]
    assert (link.hubspot_ref.id, link.qbo_ref.id) == ("1097", "22")
    assert "created from quickbooks:22" in link.matched_on


def test_without_the_counterpart_in_view_nothing_is_created() -> None:
    actions = plan(_rule(), [], [_hubspot("1097", "22")], [], PlanContext(T0))
    assert [type(a) for a in actions] == [Skip]


def test_a_second_record_naming_a_linked_counterpart_fails_instead_of_duplicating() -> None:
    link = Link(ObjectPair.CONTACTS_CUSTOMERS, "1001", "22", "v0", "0", "h", "q", {})
    actions = plan(_rule(), [link], [_hubspot("1097", "22")], [], PlanContext(T0))
    (failed,) = actions
    assert isinstance(failed, Fail)
    assert "already linked" in failed.detail
