"""Payments on synced invoices (R-PAY-1…3), planned purely like records are.

Payments ride in the invoice rule's pass, after the invoices, and only when the
rule syncs invoices outbound or two-way (`SyncRule.payments_enabled`, R-PAY-1).
Both sides' payments are read as `PaymentRecord`s:

- HubSpot: one commerce payment, applied in full to its one associated invoice;
- QBO: one *application* of a Payment to one invoice, id `<payment id>@<invoice id>`
  (a QBO payment spread over two invoices is two HubSpot payments, because a
  HubSpot payment counts in full on every invoice it is associated with).

A payment is linked to its counterpart by a `Link` (store object type
`payments`). Planning, per changed payment:

- unlinked, on a linked invoice, live, not made by ledgerbridge → `PaymentWrite`
  "create" on the other side, applied to the linked invoice; idempotency keys do
  not depend on the record's version, so a payment is never posted twice;
- linked, changed on the side that made it (its *origin*): a QBO payment voided,
  deleted or changed in QBO updates its HubSpot payment (a voided one becomes
  `failed`, so the invoice's balance follows); a HubSpot payment refunded or
  deleted is NOT propagated by default (R-PAY-3); with the rule's
  `propagate_refunds` it becomes a QBO RefundReceipt, with
  `propagate_payment_deletes` a QBO payment void (both audited);
- anything else (a change on the side that did not make it, or on an invoice that
  is not synced) is skipped with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync import canonical as canon
from ledgerbridge.sync.actions import idempotency_key
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.sync.model import PAYMENTS, Link, Snapshot, snapshot_hash

__all__ = ["PAYMENTS"]  # re-exported: payments code names it from here
from ledgerbridge.sync.rules import ObjectPair, SyncRule

H, Q = System.HUBSPOT, System.QUICKBOOKS


def qbo_application_id(payment_id: str, invoice_id: str) -> str:
    return f"{payment_id}@{invoice_id}"


def qbo_payment_id(application_id: str) -> str:
    return application_id.split("@", 1)[0]


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """One payment on one side, applied to (at most) one invoice of that side."""

    ref: RecordRef
    version: str | None
    updated_at: dt.datetime
    invoice_id: str | None
    amount: Decimal
    currency: str
    date: dt.date | None
    voided: bool = False
    refunded: Decimal = Decimal(0)
    ours: bool = False
    """Made by ledgerbridge (its counterpart makes the link)."""
    source: str = "quickbooks"
    reference: str | None = None
    deleted: bool = False


def payment_link(
    hubspot_id: str,
    qbo_id: str,
    hubspot_version: str | None,
    qbo_version: str | None,
    hubspot_hash: str,
    qbo_hash: str,
    base: Snapshot,
    origin: System,
) -> Link:
    """The link of a payment and its counterpart (`origin`: the side that made it)."""
    return Link(
        PAYMENTS,
        hubspot_id,
        qbo_id,
        hubspot_version,
        qbo_version,
        hubspot_hash,
        qbo_hash,
        base,
        origin,
    )


def made_on(link: Link) -> System:
    """The side a payment link's payment was first made on (QBO when not recorded)."""
    return link.origin or Q


@dataclass(frozen=True, slots=True)
class PaymentWrite:
    """A payment write on `target`: create, update, void, or refund (R-PAY-3)."""

    kind: str  # create | update | void | refund
    target: System
    source: PaymentRecord
    invoice_id: str
    """The invoice on `target` the payment applies to."""
    key: str
    target_id: str | None = None
    amount: Decimal = Decimal(0)
    link: Link | None = None


@dataclass(frozen=True, slots=True)
class PaymentSkip:
    ref: RecordRef
    reason: str
    link_after: Link | None = None


PaymentAction = PaymentWrite | PaymentSkip


@dataclass(frozen=True, slots=True)
class PaymentResult:
    action: PaymentWrite
    record: PaymentRecord | None = None
    error: SyncError | None = None


@dataclass(frozen=True, slots=True)
class PaymentChanges:
    records: Sequence[PaymentRecord]
    next_cursor: dt.datetime | None


class PaymentPort(Protocol):
    """A side that reads and writes payments."""

    async def read_payment_changes(self, since: dt.datetime | None) -> PaymentChanges: ...

    async def read_payments(self, ids: Sequence[str]) -> list[PaymentRecord]: ...

    async def apply_payments(
        self, rule: SyncRule, writes: Sequence[PaymentWrite]
    ) -> list[PaymentResult]: ...


class PaymentsVia:
    """`PaymentPort` handed on to `self.payments` (how the connector sides serve it)."""

    payments: PaymentPort

    async def read_payment_changes(self, since: dt.datetime | None) -> PaymentChanges:
        return await self.payments.read_payment_changes(since)

    async def read_payments(self, ids: Sequence[str]) -> list[PaymentRecord]:
        return await self.payments.read_payments(ids)

    async def apply_payments(
        self, rule: SyncRule, writes: Sequence[PaymentWrite]
    ) -> list[PaymentResult]:
        return await self.payments.apply_payments(rule, writes)


class PaymentState(Protocol):
    """The payment links and cursors of a connection (`StatePort.payments`)."""

    async def load_payment_links(self) -> list[Link]: ...

    async def get_payment_cursor(self, side: System) -> dt.datetime | None: ...


class SkipReasons:
    NOT_SYNCED_INVOICE = "its invoice is not synced"
    OURS = "made by ledgerbridge (linked through its counterpart)"
    NOT_LIVE = "not a live payment (failed, voided or deleted)"
    UNCHANGED = "unchanged (echo of our own write)"
    OTHER_SIDE = "changed on the side that did not make it; not propagated"
    REFUNDS_OFF = "refunded in HubSpot; refunds are not synced (R-PAY-3)"
    DELETES_OFF = "deleted in HubSpot; deletes are not propagated (R-PAY-3)"
    IN_SYNC = "already the same on both sides"


def invoice_maps(links: Sequence[Link]) -> tuple[dict[str, str], dict[str, str]]:
    """(HubSpot invoice → QBO invoice, QBO invoice → HubSpot invoice)."""
    pairs = [x for x in links if x.object_type is ObjectPair.INVOICES_INVOICES]
    return {x.hubspot_id: x.qbo_id for x in pairs}, {x.qbo_id: x.hubspot_id for x in pairs}


def payment_snapshot(record: PaymentRecord, to_hubspot: Mapping[str, str]) -> dict[str, str | None]:
    """The fields both sides must agree on; invoices are named by their HubSpot id."""
    invoice = record.invoice_id
    if record.ref.system is Q and invoice is not None:
        invoice = to_hubspot.get(invoice, f"?{invoice}")
    return {
        "invoice": invoice,
        "amount": canon.decimal_text(record.amount),
        "date": record.date.isoformat() if record.date else None,
        "voided": "true" if record.voided or record.deleted else "false",
        "refunded": canon.decimal_text(record.refunded),
    }


class _Planner:
    def __init__(
        self, rule: SyncRule, links: Sequence[Link], invoice_links: Sequence[Link]
    ) -> None:
        self.rule = rule
        self.settings = rule.invoice
        self.to_qbo, self.to_hubspot = invoice_maps(invoice_links)
        self.by_id: dict[System, dict[str, Link]] = {
            H: {x.hubspot_id: x for x in links},
            Q: {x.qbo_id: x for x in links},
        }
        self.actions: list[PaymentAction] = []

    def snap(self, record: PaymentRecord) -> dict[str, str | None]:
        return payment_snapshot(record, self.to_hubspot)

    def key(self, record: PaymentRecord, operation: str) -> str:
        return idempotency_key(ObjectPair.INVOICES_INVOICES, record.ref, None, operation)

    def run(
        self, hubspot: Sequence[PaymentRecord], qbo: Sequence[PaymentRecord]
    ) -> list[PaymentAction]:
        pairs: dict[tuple[str, str], dict[System, PaymentRecord]] = {}
        unlinked: list[PaymentRecord] = []
        for record in sorted([*hubspot, *qbo], key=lambda r: (r.ref.system.value, r.ref.id)):
            for link in self._links_of(record):
                pairs.setdefault((link.hubspot_id, link.qbo_id), {})[record.ref.system] = record
            if not self._links_of(record):
                unlinked.append(record)
        for key in sorted(pairs):
            self._linked(self.by_id[H][key[0]], pairs[key])
        for record in unlinked:
            self._unlinked(record)
        return self.actions

    def _links_of(self, record: PaymentRecord) -> list[Link]:
        side = record.ref.system
        found = self.by_id[side].get(record.ref.id)
        if found is not None:
            return [found]
        if side is Q and record.deleted:  # a deleted QBO payment: every application
            prefix = qbo_payment_id(record.ref.id) + "@"
            return [x for x in self.by_id[Q].values() if x.qbo_id.startswith(prefix)]
        return []

    # ---- unlinked ----

    def _unlinked(self, record: PaymentRecord) -> None:
        side = record.ref.system
        if record.ours:
            self.actions.append(PaymentSkip(record.ref, SkipReasons.OURS))
            return
        if record.voided or record.deleted:
            self.actions.append(PaymentSkip(record.ref, SkipReasons.NOT_LIVE))
            return
        invoice = record.invoice_id
        target_invoice = (self.to_qbo if side is H else self.to_hubspot).get(invoice or "")
        if target_invoice is None:
            self.actions.append(PaymentSkip(record.ref, SkipReasons.NOT_SYNCED_INVOICE))
            return
        self.actions.append(
            PaymentWrite(
                "create",
                side.other,
                record,
                target_invoice,
                self.key(record, "create-payment"),
                amount=record.amount,
            )
        )

    # ---- linked ----

    def _linked(self, link: Link, records: Mapping[System, PaymentRecord]) -> None:
        snaps = {s: self.snap(r) for s, r in records.items()}
        changed = {s: snapshot_hash(snaps[s]) != link.hash_on(s) for s in snaps}
        made = records.get(made_on(link))
        origin_reason = SkipReasons.UNCHANGED
        if made is not None and changed[made_on(link)]:
            skipped = self._origin_changed(link, made)
            if skipped is None:
                return
            origin_reason = skipped
        refreshed = refreshed_link(link, records, snaps)
        for side, record in sorted(records.items()):
            if side is made_on(link):
                reason = origin_reason
            else:
                reason = SkipReasons.OTHER_SIDE if changed[side] else SkipReasons.UNCHANGED
            self.actions.append(PaymentSkip(record.ref, reason, refreshed))

    def _origin_changed(self, link: Link, made: PaymentRecord) -> str | None:
        """Plan the write a change on the payment's own side calls for; else why not."""
        target_id = link.id_on(made.ref.system.other)
        hs_invoice = str(link.base.get("invoice") or "")
        if made.ref.system is Q:
            # QBO owns the payment: its HubSpot copy follows (amount, date, void).
            key = self.key(made, f"update:{made.version}")
            self.actions.append(
                PaymentWrite("update", H, made, hs_invoice, key, target_id, made.amount, link)
            )
            return None
        settings = self.settings
        invoice = self.to_qbo.get(hs_invoice, "")
        if made.deleted or made.voided:
            if settings is None or not settings.propagate_payment_deletes:
                return SkipReasons.DELETES_OFF
            key = self.key(made, "void-payment")
            self.actions.append(PaymentWrite("void", Q, made, invoice, key, target_id, link=link))
            return None
        base_refunded = Decimal(str(link.base.get("refunded") or "0"))
        if made.refunded > base_refunded:
            if settings is None or not settings.propagate_refunds:
                return SkipReasons.REFUNDS_OFF
            key = self.key(made, f"refund:{made.refunded}")
            delta = made.refunded - base_refunded
            self.actions.append(
                PaymentWrite("refund", Q, made, invoice, key, target_id, delta, link)
            )
            return None
        return SkipReasons.OTHER_SIDE


def refreshed_link(
    link: Link,
    records: Mapping[System, PaymentRecord],
    snaps: Mapping[System, Snapshot],
) -> Link:
    """`link` holding the current versions and hashes of `records` (nothing written)."""
    versions = {s: r.version for s, r in records.items()}
    hashes = {s: snapshot_hash(v) for s, v in snaps.items()}
    return payment_link(
        link.hubspot_id,
        link.qbo_id,
        versions.get(H, link.hubspot_version),
        versions.get(Q, link.qbo_version),
        hashes.get(H, link.hubspot_hash),
        hashes.get(Q, link.qbo_hash),
        link.base,
        made_on(link),
    )


def plan_payments(
    rule: SyncRule,
    links: Sequence[Link],
    invoice_links: Sequence[Link],
    hubspot: Sequence[PaymentRecord],
    qbo: Sequence[PaymentRecord],
) -> list[PaymentAction]:
    """The payment actions of one pass (deterministic)."""
    if not rule.payments_enabled:
        return []
    return _Planner(rule, links, invoice_links).run(hubspot, qbo)
