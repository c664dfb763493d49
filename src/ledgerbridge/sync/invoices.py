"""Per-object hooks for the generic planner, and the invoice rules (R-INV-7, R-INV-11).

The planner calls an `ObjectHooks` at two points:

- `check_pair`: a linked pair with changes, before merging. It may fail the pair
  (nothing is written). Invoices: ownership (R-INV-7).
- `check_write`: before a create or update, with the canonical fields to write.
  Invoices: the customer must be linked on the other side (R-INV-11).

Extension points for the later invoice work (payments, voids, backfill) go here:
for example a hook that turns a status change to `voided` into a Void action.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledgerbridge.domain import Invoice, RecordRef, System
from ledgerbridge.sync.actions import Fail
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.mapping import is_unlinked
from ledgerbridge.sync.model import CanonicalValue, Link, SideRecord, Snapshot
from ledgerbridge.sync.rules import ObjectPair, SyncRule


class ObjectHooks:
    """No extra rules (contacts, products)."""

    def check_pair(
        self,
        rule: SyncRule,
        link: Link,
        records: Mapping[System, SideRecord | None],
        snapshots: Mapping[System, Snapshot | None],
        changed: Mapping[System, bool],
    ) -> Fail | None:
        return None

    def check_write(
        self,
        rule: SyncRule,
        target: System,
        source_ref: RecordRef,
        fields: Mapping[str, CanonicalValue],
    ) -> Fail | None:
        return None


AMOUNT_FIELDS = ("lines", "order_discount", "currency")
"""Fields a HubSpot-made invoice may not have changed in QBO (R-INV-7)."""


def hubspot_made(link: Link, hubspot: SideRecord | None) -> bool:
    if link.origin is not None:
        return link.origin is System.HUBSPOT
    domain = hubspot.domain if hubspot else None
    return isinstance(domain, Invoice) and domain.source is System.HUBSPOT


class InvoiceHooks(ObjectHooks):
    def check_pair(
        self,
        rule: SyncRule,
        link: Link,
        records: Mapping[System, SideRecord | None],
        snapshots: Mapping[System, Snapshot | None],
        changed: Mapping[System, bool],
    ) -> Fail | None:
        qbo = snapshots[System.QUICKBOOKS]
        qbo_record = records[System.QUICKBOOKS]
        if not changed[System.QUICKBOOKS] or qbo is None or qbo_record is None:
            return None
        if not hubspot_made(link, records[System.HUBSPOT]):
            return None
        edited = [f for f in AMOUNT_FIELDS if f in qbo and qbo[f] != link.base.get(f)]
        if not edited:
            return None  # header-only edits are allowed
        return Fail(
            qbo_record.ref,
            ErrorCategory.HUBSPOT_INVOICE_EDITED_IN_QBO,
            f"changed in QuickBooks: {', '.join(edited)}; revert the change in QuickBooks "
            "and make it in HubSpot",
        )

    def check_write(
        self,
        rule: SyncRule,
        target: System,
        source_ref: RecordRef,
        fields: Mapping[str, CanonicalValue],
    ) -> Fail | None:
        if "customer" in fields and is_unlinked(fields["customer"]):
            return Fail(
                source_ref,
                ErrorCategory.MISSING_CUSTOMER,
                f"the invoice's customer ({fields['customer'] or 'none'}) is not linked to "
                f"a record in {'QuickBooks' if target is System.QUICKBOOKS else 'HubSpot'}",
            )
        return None


HOOKS: dict[ObjectPair, ObjectHooks] = {
    ObjectPair.CONTACTS_CUSTOMERS: ObjectHooks(),
    ObjectPair.PRODUCTS_ITEMS: ObjectHooks(),
    ObjectPair.INVOICES_INVOICES: InvoiceHooks(),
}
