"""Payments, refunds and expenses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from ledgerbridge.domain.money import Money, total
from ledgerbridge.domain.refs import RecordRef


class PaymentSource(StrEnum):
    """Where a payment came from (R-PAY-2)."""

    QUICKBOOKS = "quickbooks"
    HUBSPOT_PAYMENTS = "hubspot_payments"
    STRIPE = "stripe"
    OTHER = "other"


class PaymentStatus(StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"
    FAILED = "failed"
    REFUNDED = "refunded"
    VOIDED = "voided"


@dataclass(frozen=True, slots=True)
class PaymentApplication:
    """The part of a payment applied to one invoice."""

    invoice: RecordRef
    amount: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    amount: Money
    date: dt.date
    source: PaymentSource
    status: PaymentStatus = PaymentStatus.SUCCEEDED
    method: str | None = None
    reference: str | None = None
    customer: RecordRef | None = None
    applied_to: tuple[PaymentApplication, ...] = ()
    processing_fee: Money | None = None
    platform_fee: Money | None = None
    external_url: str | None = None
    ref: RecordRef | None = None

    def __post_init__(self) -> None:
        currency = self.amount.currency
        for part in (self.processing_fee, self.platform_fee):
            if part is not None and part.currency != currency:
                raise ValueError("fees must be in the payment currency")
        applied = total([a.amount for a in self.applied_to], currency)
        if applied > self.amount:
            raise ValueError(f"applied {applied} exceeds the payment amount {self.amount}")

    @property
    def unapplied(self) -> Money:
        return self.amount - total([a.amount for a in self.applied_to], self.amount.currency)

    @property
    def fees(self) -> Money:
        parts = [p for p in (self.processing_fee, self.platform_fee) if p is not None]
        return total(parts, self.amount.currency)


class ExpensePaymentType(StrEnum):
    CASH = "cash"
    CHECK = "check"
    CREDIT_CARD = "credit_card"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpenseLine:
    account: str
    amount: Money
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Expense:
    """A QBO Purchase, e.g. the processing fees of a HubSpot payment (R-WF-7)."""

    date: dt.date
    paid_from_account: str
    lines: tuple[ExpenseLine, ...]
    payment_type: ExpensePaymentType = ExpensePaymentType.CASH
    payee: RecordRef | None = None
    memo: str | None = None
    ref: RecordRef | None = None

    def __post_init__(self) -> None:
        if not self.lines:
            raise ValueError("an expense needs at least one line")
        currencies = {line.amount.currency for line in self.lines}
        if len(currencies) != 1:
            raise ValueError("expense lines must share one currency")

    @property
    def total(self) -> Money:
        return total([line.amount for line in self.lines], self.lines[0].amount.currency)
