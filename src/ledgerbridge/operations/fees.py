"""Fee report (R-PAY-4): processing and platform fees of HubSpot payments over a period.

HubSpot does not post the fees of its commerce payments to QuickBooks; this report
sums them so that they can be booked (or posted with the expense workflow action,
R-WF-7). `fee_report(client, since, until)` pages through every commerce payment
(`list_all`, so no search cap applies), keeps those whose payment date
(`hs_initiated_date`, else the creation date) is within `since`..`until` (both
inclusive, UTC dates) and that settled (succeeded, partially refunded or refunded:
fees are charged on those; processing and failed payments carry none), and sums
their amounts and fees per currency. Payments that cannot be decoded are listed in
`unreadable`, never guessed. Money stays `Decimal`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import PaymentStatus
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.codec import CodecError
from ledgerbridge.hubspot.codec_commerce import PAYMENT_PROPERTIES, decode_payment
from ledgerbridge.hubspot.objects import HubSpotRecord
from ledgerbridge.runtime.clients import build_clients
from ledgerbridge.runtime.connection import load_connection, pick_connection
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store
from ledgerbridge.transport.http import HttpClient

SETTLED = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED})
ZERO = Decimal(0)


@dataclass(slots=True)
class CurrencyFees:
    """The sums of one currency."""

    currency: str
    payments: int = 0
    amount: Decimal = ZERO
    processing_fees: Decimal = ZERO
    platform_fees: Decimal = ZERO

    @property
    def total_fees(self) -> Decimal:
        return self.processing_fees + self.platform_fees

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "payments": self.payments,
            "amount": str(self.amount),
            "processing_fees": str(self.processing_fees),
            "platform_fees": str(self.platform_fees),
            "total_fees": str(self.total_fees),
        }


@dataclass(slots=True)
class FeeReport:
    since: dt.date
    until: dt.date
    currencies: dict[str, CurrencyFees] = field(default_factory=dict)
    not_settled: int = 0
    """Payments in the period that did not settle (processing, failed): no fees."""
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """(payment id, why) of payments that could not be decoded."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "currencies": [self.currencies[c].as_dict() for c in sorted(self.currencies)],
            "not_settled": self.not_settled,
            "unreadable": [{"id": i, "error": e} for i, e in self.unreadable],
        }


def summarize(records: Iterable[HubSpotRecord], since: dt.date, until: dt.date) -> FeeReport:
    """The fee report of these payment records (pure)."""
    if since > until:
        raise ValueError(f"--since {since} is after --until {until}")
    report = FeeReport(since, until)
    for record in sorted(records, key=lambda r: int(r.id) if r.id.isdigit() else 0):
        if record.archived:
            continue
        try:
            payment = decode_payment(record)
        except CodecError as exc:
            report.unreadable.append((record.id, str(exc)))
            continue
        if not since <= payment.date <= until:
            continue
        if payment.status not in SETTLED:
            report.not_settled += 1
            continue
        currency = payment.amount.currency
        sums = report.currencies.setdefault(currency, CurrencyFees(currency))
        sums.payments += 1
        sums.amount += payment.amount.amount
        if payment.processing_fee is not None:
            sums.processing_fees += payment.processing_fee.amount
        if payment.platform_fee is not None:
            sums.platform_fees += payment.platform_fee.amount
    return report


async def fee_report(client: HubSpotClient, since: dt.date, until: dt.date) -> FeeReport:
    """Read every commerce payment (paged) and sum the fees of the period."""
    if since > until:
        raise ValueError(f"--since {since} is after --until {until}")
    records = [r async for r in client.list_all("commerce_payments", PAYMENT_PROPERTIES)]
    return summarize(records, since, until)


async def run(
    store: Store,
    settings: Settings,
    *,
    since: dt.date,
    until: dt.date,
    connection_id: int | None = None,
    http: HttpClient | None = None,
) -> FeeReport:
    """The fee report of a stored connection's HubSpot portal."""
    row = load_connection(store, pick_connection(store, connection_id))
    clients = build_clients(row, settings=settings, store=store, http=http)
    try:
        return await fee_report(clients.hubspot, since, until)
    finally:
        await clients.aclose()


def as_json(report: FeeReport) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=True)
