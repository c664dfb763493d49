"""Per-object hooks for the generic planner, and the invoice rules (R-INV-7, R-INV-11).

The planner calls an `ObjectHooks` at two points:

- `check_pair`: a linked pair with changes, before merging. It may fail the pair
  (nothing is written). Invoices: ownership (R-INV-7).
- `check_write`: before a create or update, with the canonical fields to write.
  Invoices: the customer must be linked on the other side (R-INV-11).
- `adjust_write`: the fields actually written on a side (invoices: with payment
  sync on, HubSpot's open / paid status is left to HubSpot, which derives it from
  the payments).
- `skip_create`: an unlinked record that should not be created (invoices voided
  before they were ever synced).
- `void_targets`: the sides on which a linked pair must be voided (R-INV-4): an
  invoice voided in HubSpot is voided in QBO with QBO's own void operation (QBO
  has no writable status). A void made in QBO reaches HubSpot as an ordinary
  status update (`hs_invoice_status` is writable there).
"""

from __future__ import annotations

from collections.abc import Mapping

from ledgerbridge.domain import Invoice, InvoiceStatus, RecordRef, System
from ledgerbridge.sync.actions import Fail
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.mapping import UNLINKED_PREFIX, is_unlinked
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

    def skip_create(self, rule: SyncRule, record: SideRecord) -> str | None:
        return None

    def adjust_write(
        self,
        rule: SyncRule,
        target: System,
        fields: Mapping[str, CanonicalValue],
        current: Snapshot | None,
    ) -> dict[str, CanonicalValue]:
        """The fields actually to write on `target` (default: all of them)."""
        return dict(fields)

    def void_targets(
        self,
        rule: SyncRule,
        snapshots: Mapping[System, Snapshot | None],
        changed: Mapping[System, bool],
        sources: frozenset[System],
        base: Snapshot,
    ) -> frozenset[System]:
        return frozenset()


VOIDED = InvoiceStatus.VOIDED.value
PAYMENT_STATUSES = (InvoiceStatus.OPEN.value, InvoiceStatus.PAID.value)

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
            return Fail(source_ref, ErrorCategory.MISSING_CUSTOMER, _unlinked_customer(fields))
        return None

    def adjust_write(
        self,
        rule: SyncRule,
        target: System,
        fields: Mapping[str, CanonicalValue],
        current: Snapshot | None,
    ) -> dict[str, CanonicalValue]:
        """With payment sync on, HubSpot computes open / paid from the invoice's
        payments (which the payment pass writes): only a void is written there."""
        out = dict(fields)
        now = current.get("status") if current is not None else None
        if (
            target is System.HUBSPOT
            and rule.payments_enabled
            and out.get("status") in PAYMENT_STATUSES
            and now in PAYMENT_STATUSES
        ):
            del out["status"]
        return out

    def skip_create(self, rule: SyncRule, record: SideRecord) -> str | None:
        domain = record.domain
        if isinstance(domain, Invoice) and domain.status is InvoiceStatus.VOIDED:
            from ledgerbridge.sync.actions import SkipReason

            return SkipReason.VOIDED
        return None

    def void_targets(
        self,
        rule: SyncRule,
        snapshots: Mapping[System, Snapshot | None],
        changed: Mapping[System, bool],
        sources: frozenset[System],
        base: Snapshot,
    ) -> frozenset[System]:
        """QBO, when the HubSpot side (a source) was voided and QBO's is not."""
        hubspot, qbo = snapshots[System.HUBSPOT], snapshots[System.QUICKBOOKS] or base
        if System.HUBSPOT not in sources or not changed[System.HUBSPOT] or hubspot is None:
            return frozenset()
        if hubspot.get("status") == VOIDED and qbo.get("status") != VOIDED:
            return frozenset({System.QUICKBOOKS})
        return frozenset()


HOOKS: dict[ObjectPair, ObjectHooks] = {
    ObjectPair.CONTACTS_CUSTOMERS: ObjectHooks(),
    ObjectPair.PRODUCTS_ITEMS: ObjectHooks(),
    ObjectPair.INVOICES_INVOICES: InvoiceHooks(),
}


CUSTOMER_OF = {System.HUBSPOT: "HubSpot contact", System.QUICKBOOKS: "QuickBooks customer"}


def _unlinked_customer(fields: Mapping[str, CanonicalValue]) -> str:
    """What is missing, and which way the customer has to sync for it: "the invoice's
    customer, QuickBooks customer 38, has no contact in HubSpot: …"."""
    value = fields.get("customer")
    text = value if isinstance(value, str) else ""
    system_name, _, record_id = text.removeprefix(UNLINKED_PREFIX).partition(":")
    try:
        source: System | None = System(system_name)
    except ValueError:
        source = None
    if source is None or not record_id:
        return "the invoice has no customer: associate a contact that has an email address"
    other = "QuickBooks" if source is System.HUBSPOT else "HubSpot"
    flow = "HubSpot → QuickBooks" if source is System.HUBSPOT else "QuickBooks → HubSpot"
    return (
        f"the invoice's customer, {CUSTOMER_OF[source]} {record_id}, is not linked to a "
        f"{'customer' if other == 'QuickBooks' else 'contact'} in {other}: the contact rule "
        f"must sync {flow} (or two-way) and its filters must let it through"
    )
