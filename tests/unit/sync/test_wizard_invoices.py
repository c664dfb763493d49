"""The invoice wizard: outbound flows carry the fixed filters, inbound ones "created after
today" as an ordinary filter the user may remove (R-INV-2, R-INV-3)."""

from __future__ import annotations

import datetime as dt

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.defaults import wizard_invoice_rule
from ledgerbridge.sync.filters import first_failing
from ledgerbridge.sync.model import SideRecord
from ledgerbridge.sync.rules import Direction

TODAY = dt.date(2026, 11, 22)


def _qbo_invoice(created: str) -> SideRecord:
    raw = {"Id": "7", "MetaData": {"CreateTime": created, "LastUpdatedTime": created}}
    ref = RecordRef(System.QUICKBOOKS, "7")
    return SideRecord(ref, "0", dt.datetime.fromisoformat(created), None, raw)


def test_R_INV_3_inbound_wizard_proposes_created_after_today() -> None:
    rule = wizard_invoice_rule(Direction.QBO_TO_HUBSPOT, TODAY)
    (inbound,) = rule.filters_for(System.QUICKBOOKS)
    assert not inbound.fixed and inbound.value == "2026-11-22"
    assert rule.filters_for(System.HUBSPOT) == ()
    started = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    old = _qbo_invoice("2026-10-01T09:00:00+00:00")
    new = _qbo_invoice("2026-11-23T09:00:00+00:00")
    assert first_failing(rule.filters_for(System.QUICKBOOKS), old, None, started) == inbound
    assert first_failing(rule.filters_for(System.QUICKBOOKS), new, None, started) is None


def test_R_INV_2_two_way_wizard_has_both_kinds_of_filter() -> None:
    rule = wizard_invoice_rule(Direction.TWO_WAY, TODAY)
    assert len([f for f in rule.filters_for(System.HUBSPOT) if f.fixed]) == 3
    assert [f.fixed for f in rule.filters_for(System.QUICKBOOKS)] == [False]
