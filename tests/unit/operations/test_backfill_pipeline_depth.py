"""Which backfills run two turns at once (issue 18): the invoice rule when one side
alone is read, so its writes go to the other; one turn otherwise (matched records are
found by key, a dry run is one pass)."""

from __future__ import annotations

import pytest

from ledgerbridge.domain import System
from ledgerbridge.operations.backfill.run import PIPELINE_DEPTH, pipeline_depth
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import Direction, ObjectPair

H, Q = System.HUBSPOT, System.QUICKBOOKS


@pytest.mark.parametrize(
    ("pair", "direction", "empty", "dry_run", "depth"),
    [
        (ObjectPair.INVOICES_INVOICES, Direction.QBO_TO_HUBSPOT, None, False, PIPELINE_DEPTH),
        (ObjectPair.INVOICES_INVOICES, Direction.TWO_WAY, H, False, PIPELINE_DEPTH),
        (ObjectPair.INVOICES_INVOICES, Direction.QBO_TO_HUBSPOT, None, True, 1),
        (ObjectPair.INVOICES_INVOICES, Direction.HUBSPOT_TO_QBO, None, False, PIPELINE_DEPTH),
        (ObjectPair.INVOICES_INVOICES, Direction.TWO_WAY, Q, False, PIPELINE_DEPTH),
        (ObjectPair.INVOICES_INVOICES, Direction.HUBSPOT_TO_QBO, None, True, 1),
        (ObjectPair.INVOICES_INVOICES, Direction.TWO_WAY, None, False, 1),
        (ObjectPair.CONTACTS_CUSTOMERS, Direction.QBO_TO_HUBSPOT, None, False, 1),
        (ObjectPair.PRODUCTS_ITEMS, Direction.TWO_WAY, H, False, 1),
    ],
)
def test_two_turns_only_for_invoices_read_from_one_side_alone(
    pair: ObjectPair, direction: Direction, empty: System | None, dry_run: bool, depth: int
) -> None:
    rule = wizard_defaults(pair).model_copy(update={"direction": direction})

    assert pipeline_depth(rule, empty, dry_run) == depth
    assert PIPELINE_DEPTH == 2
