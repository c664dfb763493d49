"""QBO payments for the payment pass (R-PAY-1…3).

Reads: Payments changed since the cursor (CDC, query fallback, deletions), each
expanded into one `PaymentRecord` per invoice it is applied to, id
`<payment id>@<invoice id>`. A voided payment keeps its links with zero amounts;
a deleted one is read as `<payment id>@` (the planner finds its links).

Writes (every one with `requestid` = the write's key: never twice):
- create: a Payment of the HubSpot payment's amount, date and reference, applied
  to the linked invoice, for the invoice's customer; `PrivateNote` says which
  HubSpot payment it came from (and marks it as ours, so it is never sent back);
- void (R-PAY-3, opt-in): `operation=update&include=void`;
- refund (R-PAY-3, opt-in): a RefundReceipt of the refunded amount for the
  invoice's customer, on the "Custom line item" item, paid from the account the
  payment was deposited to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.qbo import changes as qbo_changes
from ledgerbridge.qbo.changes import ql_string
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.codec_values import date_of, datetime_of, dec0, is_voided, ref_value, text
from ledgerbridge.qbo.side.feed import ChangeFeed
from ledgerbridge.qbo.side.invoices import QboInvoices
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory, SyncError, TerminalError
from ledgerbridge.sync.payloads import CUSTOM_LINE_ITEM_NAME
from ledgerbridge.sync.payments import (
    PaymentChanges,
    PaymentRecord,
    PaymentResult,
    PaymentWrite,
    qbo_application_id,
    qbo_payment_id,
)
from ledgerbridge.sync.rules import SyncRule

Obj = dict[str, Any]
MARKER = "ledgerbridge: HubSpot payment "
ID_CHUNK = 100


class QboPayments:
    """Payment reads and writes on one company (used by `QboSide`)."""

    def __init__(
        self,
        client: QboClient,
        invoices: QboInvoices,
        *,
        clock: Callable[[], dt.datetime],
        overlap: dt.timedelta,
        home_currency: str = "USD",
    ) -> None:
        self.client = client
        self.invoices = invoices
        self.clock = clock
        self.overlap = overlap
        self.home_currency = home_currency
        self.feed: ChangeFeed | None = None
        """The pass's prefetched changes (`qbo.side.feed`), shared with the side."""

    def records(self, raw: Obj) -> list[PaymentRecord]:
        payment_id = str(raw.get("Id"))
        updated = datetime_of((raw.get("MetaData") or {}).get("LastUpdatedTime")) or self.clock()
        if raw.get("status") == "Deleted":
            ref = RecordRef(System.QUICKBOOKS, qbo_application_id(payment_id, ""))
            return [PaymentRecord(ref, None, updated, None, Decimal(0), "", None, deleted=True)]
        voided = is_voided(raw)
        out = []
        for line in raw.get("Line") or ():
            for linked in line.get("LinkedTxn") or ():
                if linked.get("TxnType") != "Invoice":
                    continue
                invoice_id = str(linked.get("TxnId"))
                out.append(
                    PaymentRecord(
                        ref=RecordRef(
                            System.QUICKBOOKS, qbo_application_id(payment_id, invoice_id)
                        ),
                        version=str(raw.get("SyncToken")),
                        updated_at=updated,
                        invoice_id=invoice_id,
                        amount=dec0(line.get("Amount")),
                        currency=ref_value(raw.get("CurrencyRef")) or self.home_currency,
                        date=date_of(raw.get("TxnDate")),
                        voided=voided,
                        ours=str(raw.get("PrivateNote") or "").startswith(MARKER),
                        source="quickbooks",
                        reference=text(raw.get("PaymentRefNum")),
                    )
                )
        return out

    async def read_payment_changes(self, since: dt.datetime | None) -> PaymentChanges:
        prefetched = self.feed.take("Payment", since) if self.feed is not None else None
        found = prefetched or await qbo_changes.read_changes(
            self.client, ["Payment"], since, self.clock(), overlap=self.overlap
        )
        records = [r for change in found.records for r in self.records(change.raw)]
        return PaymentChanges(records, found.next_cursor)

    async def read_payments(self, ids: Sequence[str]) -> list[PaymentRecord]:
        payment_ids = sorted({qbo_payment_id(i) for i in ids})
        found: list[PaymentRecord] = []
        for start in range(0, len(payment_ids), ID_CHUNK):
            chunk = ", ".join(ql_string(i) for i in payment_ids[start : start + ID_CHUNK])
            for row in await self.client.query_all(f"SELECT * FROM Payment WHERE Id IN ({chunk})"):
                found.extend(self.records(row))
        have = {r.ref.id for r in found}
        now = self.clock()
        for missing in sorted(set(ids) - have):  # deleted, or no longer applied there
            ref = RecordRef(System.QUICKBOOKS, missing)
            found.append(PaymentRecord(ref, None, now, None, Decimal(0), "", None, deleted=True))
        return [r for r in found if r.ref.id in set(ids)]

    # ---- writing ----

    async def _create(self, write: PaymentWrite) -> str:
        invoice = await self.client.get("Invoice", write.invoice_id)
        source = write.source
        reference = source.reference or f"HS-{source.ref.id}"
        body: Obj = {
            "CustomerRef": {"value": ref_value(invoice.get("CustomerRef"))},
            "TotalAmt": write.amount,
            "CurrencyRef": {"value": source.currency},
            "PaymentRefNum": reference[:21],
            "PrivateNote": f"{MARKER}{source.ref.id} (source: {source.source})",
            "Line": [
                {
                    "Amount": write.amount,
                    "LinkedTxn": [{"TxnId": write.invoice_id, "TxnType": "Invoice"}],
                }
            ],
        }
        if source.date is not None:
            body["TxnDate"] = source.date.isoformat()
        raw = await self.client.create("Payment", body, request_id=write.key)
        return qbo_application_id(str(raw["Id"]), write.invoice_id)

    async def _void(self, write: PaymentWrite) -> str:
        target = write.target_id or ""
        current = await self.client.get("Payment", qbo_payment_id(target))
        token = str(current.get("SyncToken", "0"))
        await self.client.void("Payment", qbo_payment_id(target), token, request_id=write.key)
        return target

    async def _refund(self, rule: SyncRule, write: PaymentWrite) -> str:
        target = write.target_id or ""
        payment = await self.client.get("Payment", qbo_payment_id(target))
        item = await self.invoices.custom_line_item(rule, create=True)
        body: Obj = {
            "CustomerRef": payment.get("CustomerRef"),
            "DepositToAccountRef": payment.get("DepositToAccountRef"),
            "CurrencyRef": payment.get("CurrencyRef"),
            "PrivateNote": f"{MARKER}{write.source.ref.id} refunded",
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": write.amount,
                    "Description": f"Refund of HubSpot payment {write.source.ref.id}",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item, "name": CUSTOM_LINE_ITEM_NAME},
                        "Qty": 1,
                        "UnitPrice": write.amount,
                    },
                }
            ],
        }
        await self.client.create("RefundReceipt", body, request_id=write.key)
        return target

    async def apply_payments(
        self, rule: SyncRule, writes: Sequence[PaymentWrite]
    ) -> list[PaymentResult]:
        written: dict[int, str] = {}
        errors: dict[int, SyncError] = {}
        for write in writes:
            try:
                if write.kind == "create":
                    written[id(write)] = await self._create(write)
                elif write.kind == "void":
                    written[id(write)] = await self._void(write)
                elif write.kind == "refund":
                    written[id(write)] = await self._refund(rule, write)
                else:
                    raise TerminalError(
                        ErrorCategory.UNKNOWN, "QBO payments made in HubSpot are not updated"
                    )
            except AuthenticationError:
                raise
            except SyncError as failure:
                errors[id(write)] = failure
        current = {r.ref.id: r for r in await self.read_payments(list(written.values()))}
        results = []
        for write in writes:
            record = current.get(written.get(id(write), ""))
            if record is None:
                error = errors.get(id(write)) or TerminalError(
                    ErrorCategory.UNKNOWN, "QBO answered without the payment"
                )
                results.append(PaymentResult(write, error=error))
            else:
                results.append(PaymentResult(write, record))
        return results
