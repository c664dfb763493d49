"""Failures that heal (issue 19): a failed record is planned again when its cause may
have gone, and a failure whose cause has gone is cleared.

A failed record is re-evaluated:
- when either of its records changes (it is among the pass's changes anyway);
- when it is due on its retry schedule (`RetryState.due_failures`: backoff per record
  with a cap, kept by the store): the pass re-reads it by id from its side, and the
  engine reads its linked counterpart as for any changed record;
- when a record it depends on gets linked: after a pass of the contact (product) rule
  links new records, the invoices that failed for a missing customer (product) are
  made due (`RetryState.retry_dependents`), and the invoice rule of the same pass plans
  them again.

`healed_outcomes` clears what the planner no longer fails: a failed record that the
plan skips as unchanged or already equal (e.g. an R-INV-7 edit reverted in QBO) becomes
synced; one skipped for another reason (archived, voided) is excluded with that
reason; a due record that no longer exists is excluded.

A state port without these methods (an in-memory fake, the backfill's) simply has no
retry schedule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from ledgerbridge.domain import RecordRef
from ledgerbridge.sync.actions import Action, Skip, SkipReason
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.model import Link
from ledgerbridge.sync.ports import RecordOutcome
from ledgerbridge.sync.rules import ObjectPair

__all__ = ["DEPENDENTS", "RetryState", "healed_outcomes", "new_links"]

DEPENDENTS: Mapping[ObjectPair, tuple[ObjectPair, ErrorCategory]] = {
    ObjectPair.CONTACTS_CUSTOMERS: (ObjectPair.INVOICES_INVOICES, ErrorCategory.MISSING_CUSTOMER),
    ObjectPair.PRODUCTS_ITEMS: (ObjectPair.INVOICES_INVOICES, ErrorCategory.MISSING_PRODUCT),
}
"""Which failures of another pair a new link of this pair may cure."""

_CLEARED = (SkipReason.UNCHANGED, SkipReason.IN_SYNC, SkipReason.ONE_WAY_TARGET)


@runtime_checkable
class RetryState(Protocol):
    """The retry schedule of failed records (the store's `StoreState` has it)."""

    async def due_failures(self, object_type: ObjectPair, now: dt.datetime) -> list[RecordRef]:
        """Failed records of `object_type` whose next attempt is due."""
        ...

    async def failed_among(
        self, object_type: ObjectPair, refs: Collection[RecordRef]
    ) -> set[RecordRef]:
        """Which of `refs` are failed records now."""
        ...

    async def retry_dependents(self, object_type: ObjectPair, category: ErrorCategory) -> int:
        """Make the failed records of `object_type` with `category` due now; how many."""
        ...


def healed_outcomes(
    failed: Collection[RecordRef],
    found: Collection[RecordRef],
    actions: Sequence[Action],
    outcomes: Iterable[RecordOutcome],
) -> list[RecordOutcome]:
    """New outcomes for the `failed` records this pass re-evaluated without recording one:
    cleared when the plan no longer fails them (see the module doc). `found`: the records
    the pass read."""
    recorded = {o.ref for o in outcomes}
    skips = {a.ref: a.reason for a in actions if isinstance(a, Skip)}
    healed: list[RecordOutcome] = []
    for ref in sorted(failed, key=lambda r: (r.system.value, r.id)):
        if ref in recorded:
            continue
        if ref not in found:
            healed.append(RecordOutcome(ref, "excluded", excluded_by="the record no longer exists"))
            continue
        reason = skips.get(ref)
        if reason in _CLEARED:
            healed.append(RecordOutcome(ref, "synced"))
        elif reason is not None:
            healed.append(RecordOutcome(ref, "excluded", excluded_by=reason))
    return healed


def new_links(before: Iterable[Link], after: Iterable[Link]) -> bool:
    """Whether `after` links a pair that `before` did not."""
    known = {(x.hubspot_id, x.qbo_id) for x in before}
    return any((x.hubspot_id, x.qbo_id) not in known for x in after)
