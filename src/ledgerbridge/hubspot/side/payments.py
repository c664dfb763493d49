"""HubSpot commerce payments for the payment pass (R-PAY-1, R-PAY-2).

Reads: payments changed since the cursor (`hubspot.changes`, archived ones as
deleted), with their associated invoice (batch association read). A payment is
live when its status is succeeded, partially refunded or refunded (HubSpot still
counts those on the invoice); processing and failed ones are not (yet) posted.

Writes, for payments made in QBO:
- create: an upsert on `ledgerbridge_qbo_id` = `<qbo payment id>@<qbo invoice id>`
  (never twice), status succeeded, processor `manual`, source shown in
  `ledgerbridge_payment_source` ("QuickBooks") and the link to the payment in QBO
  in `ledgerbridge_qbo_url` (R-PAY-2; both properties are created once); then the
  invoice → payment association (541), so HubSpot's balance and status follow;
- update: amount and date; a payment voided or deleted in QBO becomes `failed`
  (HubSpot has no voided payment, and a failed one no longer counts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.hubspot import changes as hs_changes
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.codec import fmt_date, fmt_decimal
from ledgerbridge.hubspot.codec_commerce import PAYMENT_PROPERTIES
from ledgerbridge.hubspot.objects import HubSpotRecord, parse_timestamp
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory, SyncError, TerminalError
from ledgerbridge.sync.payments import (
    PaymentChanges,
    PaymentRecord,
    PaymentResult,
    PaymentWrite,
    qbo_application_id,
    qbo_payment_id,
)
from ledgerbridge.sync.rules import SyncRule

OBJ = "commerce_payments"
SOURCE_PROPERTY = "ledgerbridge_payment_source"
URL_PROPERTY = "ledgerbridge_qbo_url"
LIVE = ("succeeded", "partially_refunded", "refunded")
INVOICE_TO_PAYMENT = 541
QBO_APP_URL = "https://app.qbo.intuit.com/app/recvpayment?txnId="


def _decimal(value: str | None) -> Decimal:
    try:
        return Decimal(value or "0")
    except InvalidOperation:
        return Decimal(0)


class HubSpotPayments:
    """Payment reads and writes on one portal (used by `HubSpotSide`)."""

    def __init__(
        self,
        client: HubSpotClient,
        *,
        overlap: dt.timedelta = dt.timedelta(0),
        qbo_app_url: str = QBO_APP_URL,
    ) -> None:
        self.client = client
        self.overlap = overlap
        self.qbo_app_url = qbo_app_url
        self.unique = client.unique_property
        self._ready = False

    @property
    def properties(self) -> list[str]:
        names = [*PAYMENT_PROPERTIES, "hs_refunds_amount", self.unique]
        return [*names, SOURCE_PROPERTY, URL_PROPERTY]

    def record(self, raw: HubSpotRecord, invoices: Sequence[str]) -> PaymentRecord:
        status = (raw.get("hs_latest_status") or "succeeded").lower()
        moment = parse_timestamp(raw.get("hs_initiated_date")) or raw.created_at
        return PaymentRecord(
            ref=RecordRef(System.HUBSPOT, raw.id),
            version=raw.updated_at.isoformat() if raw.updated_at else None,
            updated_at=raw.updated_at or raw.created_at or dt.datetime.now(dt.UTC),
            invoice_id=invoices[0] if len(invoices) == 1 else None,
            amount=_decimal(raw.get("hs_initial_amount")),
            currency=raw.get("hs_currency_code") or "USD",
            date=moment.date() if moment else None,
            voided=status not in LIVE,
            refunded=_decimal(raw.get("hs_refunds_amount")),
            ours=bool(raw.get(self.unique)),
            source=raw.get("hs_processor_type") or "manual",
            reference=raw.get("hs_reference_number"),
            deleted=raw.archived,
        )

    async def _records(self, raws: Sequence[HubSpotRecord]) -> list[PaymentRecord]:
        live = [r.id for r in raws if not r.archived]
        invoices = await self.client.batch_read_associations(OBJ, "invoices", live) if live else {}
        return [self.record(r, invoices.get(r.id, [])) for r in raws]

    async def read_payment_changes(self, since: dt.datetime | None) -> PaymentChanges:
        found = await hs_changes.read_changes(
            self.client, OBJ, since, self.properties, overlap=self.overlap
        )
        return PaymentChanges(await self._records(found.records), found.next_cursor)

    async def read_payments(self, ids: Sequence[str]) -> list[PaymentRecord]:
        if not ids:
            return []
        result = await self.client.batch_read(OBJ, sorted(set(ids)), self.properties)
        return await self._records(result.records)

    # ---- writing ----

    async def _ensure_properties(self) -> None:
        if not self._ready:
            await self.client.ensure_unique_property(OBJ)
            await self.client.ensure_property(OBJ, SOURCE_PROPERTY, "Payment source (ledgerbridge)")
            await self.client.ensure_property(OBJ, URL_PROPERTY, "Payment in QuickBooks")
            self._ready = True

    def _properties(self, write: PaymentWrite) -> dict[str, str]:
        source = write.source
        if source.voided or source.deleted:
            return {"hs_latest_status": "failed"}
        props = {
            "hs_initial_amount": fmt_decimal(source.amount),
            "hs_currency_code": source.currency,
            "hs_latest_status": "succeeded",
            "hs_initiated_date": fmt_date(source.date),
        }
        if write.kind == "create":
            payment_id = qbo_payment_id(source.ref.id)
            props |= {
                "hs_processor_type": "manual",
                "hs_payment_source": "invoice",
                "hs_reference_number": source.reference or f"QuickBooks payment {payment_id}",
                SOURCE_PROPERTY: "QuickBooks",
                URL_PROPERTY: self.qbo_app_url + payment_id,
            }
        return props

    async def apply_payments(
        self, rule: SyncRule, writes: Sequence[PaymentWrite]
    ) -> list[PaymentResult]:
        del rule
        errors: dict[int, SyncError] = {}
        written: dict[int, str] = {}
        try:
            await self._ensure_properties()
            creates = [w for w in writes if w.kind == "create"]
            if creates:
                inputs = [(w.source.ref.id, self._properties(w)) for w in creates]
                result = await self.client.upsert_by_unique(OBJ, inputs)
                for write, item in zip(creates, result.items, strict=True):
                    if item.record is None:
                        errors[id(write)] = item.error or _missing()
                    else:
                        written[id(write)] = item.record.id
                pairs = [(w.invoice_id, written[id(w)]) for w in creates if id(w) in written]
                outcome = await self.client.batch_associate(
                    "invoices", OBJ, pairs, INVOICE_TO_PAYMENT
                )
                for (invoice_id, payment_id), error in zip(pairs, outcome, strict=True):
                    if error is not None:
                        for write in creates:
                            if written.get(id(write)) == payment_id:
                                errors[id(write)] = error
                                del written[id(write)]
                        del invoice_id
            others = [w for w in writes if w.kind != "create" and w.target_id]
            if others:
                changes = [(w.target_id or "", self._properties(w)) for w in others]
                answer = await self.client.batch_update(OBJ, changes)
                for write, item in zip(others, answer.items, strict=True):
                    if item.error is not None:
                        errors[id(write)] = item.error
                    else:
                        written[id(write)] = write.target_id or ""
        except AuthenticationError:
            raise
        except SyncError as failure:
            for write in writes:
                if id(write) not in written:
                    errors.setdefault(id(write), failure)
        current = {r.ref.id: r for r in await self.read_payments(list(written.values()))}
        results = []
        for write in writes:
            record = current.get(written.get(id(write), ""))
            if record is None:
                results.append(PaymentResult(write, error=errors.get(id(write)) or _missing()))
            else:
                results.append(PaymentResult(write, record))
        return results


def _missing() -> SyncError:
    return TerminalError(ErrorCategory.UNKNOWN, "HubSpot answered without the payment")


__all__ = ["HubSpotPayments", "qbo_application_id"]
