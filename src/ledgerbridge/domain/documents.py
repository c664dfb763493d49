"""Sales documents: invoices, estimates, sales receipts, refund receipts.

Totals are always computed from the lines and the discount, never stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ledgerbridge.domain.money import Money, to_decimal, total
from ledgerbridge.domain.refs import RecordRef, System


class DiscountKind(StrEnum):
    PERCENT = "percent"
    AMOUNT = "amount"


@dataclass(frozen=True, slots=True)
class Discount:
    """A percentage (`value` in percent) or a fixed amount (`value` in the document currency)."""

    kind: DiscountKind
    value: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", to_decimal(self.value))
        if self.value < 0:
            raise ValueError("a discount cannot be negative")
        if self.kind is DiscountKind.PERCENT and self.value > 100:
            raise ValueError("a percentage discount cannot exceed 100")

    @classmethod
    def percent(cls, value: Decimal | int | str) -> Discount:
        return cls(DiscountKind.PERCENT, to_decimal(value))

    @classmethod
    def amount(cls, value: Decimal | int | str) -> Discount:
        return cls(DiscountKind.AMOUNT, to_decimal(value))

    def of(self, base: Money) -> Money:
        """The discount's amount on `base`, never more than `base`, rounded half-up."""
        if self.kind is DiscountKind.PERCENT:
            off = base.percent(self.value)
        else:
            off = Money(self.value, base.currency).rounded()
        return off if off <= base else base


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """One line: a product (or free text) × quantity at a unit price, less a line discount."""

    description: str | None = None
    quantity: Decimal = Decimal(1)
    unit_price: Money
    product: RecordRef | None = None
    sku: str | None = None
    name: str | None = None
    discount: Discount | None = None
    service_date: dt.date | None = None
    taxable: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantity", to_decimal(self.quantity))

    @property
    def gross(self) -> Money:
        return (self.unit_price * self.quantity).rounded()

    @property
    def discount_amount(self) -> Money:
        if self.discount is None:
            return Money.zero(self.unit_price.currency)
        return self.discount.of(self.gross)

    @property
    def amount(self) -> Money:
        return self.gross - self.discount_amount


def _custom_fields(values: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    names = [name for name, _ in values]
    if len(names) != len(set(names)):
        raise ValueError("custom field names must be unique")
    return tuple(sorted(values))


@dataclass(frozen=True, slots=True, kw_only=True)
class SalesDocument:
    """What invoices, estimates, sales receipts and refund receipts share."""

    currency: str
    lines: tuple[Line, ...] = ()
    number: str | None = None
    issue_date: dt.date | None = None
    customer: RecordRef | None = None
    customer_email: str | None = None
    discount: Discount | None = None
    memo: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()
    source: System | None = None
    ref: RecordRef | None = None

    def __post_init__(self) -> None:
        for line in self.lines:
            if line.unit_price.currency != self.currency:
                raise ValueError(
                    f"line currency {line.unit_price.currency} differs from "
                    f"document currency {self.currency}"
                )
        object.__setattr__(self, "custom_fields", _custom_fields(self.custom_fields))

    def custom_field(self, name: str) -> str | None:
        return dict(self.custom_fields).get(name)

    @property
    def subtotal(self) -> Money:
        return total([line.amount for line in self.lines], self.currency)

    @property
    def discount_amount(self) -> Money:
        """The order-level discount (QBO allows one discount line per document)."""
        if self.discount is None:
            return Money.zero(self.currency)
        return self.discount.of(self.subtotal)

    def _computed_total(self) -> Money:
        return self.subtotal - self.discount_amount

    @property
    def total(self) -> Money:
        return self._computed_total()


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOIDED = "voided"


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoice(SalesDocument):
    status: InvoiceStatus = InvoiceStatus.DRAFT
    due_date: dt.date | None = None
    amount_paid: Money | None = None
    terms: str | None = None
    deal: RecordRef | None = None

    def __post_init__(self) -> None:
        SalesDocument.__post_init__(self)
        if self.amount_paid is not None and self.amount_paid.currency != self.currency:
            raise ValueError("amount paid must be in the invoice currency")
        if self.due_date and self.issue_date and self.due_date < self.issue_date:
            raise ValueError("an invoice cannot be due before it is issued")

    @property
    def paid(self) -> Money:
        return self.amount_paid if self.amount_paid is not None else Money.zero(self.currency)

    @property
    def total(self) -> Money:
        # A voided invoice keeps its lines, but its amounts are zero (as QBO does).
        if self.status is InvoiceStatus.VOIDED:
            return Money.zero(self.currency)
        return self._computed_total()

    @property
    def balance(self) -> Money:
        return self.total - self.paid

    @property
    def is_partially_paid(self) -> bool:
        return not self.paid.is_zero and self.balance > Money.zero(self.currency)


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate(SalesDocument):
    expiration_date: dt.date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SalesReceipt(SalesDocument):
    payment_method: str | None = None
    deposit_account: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundReceipt(SalesDocument):
    payment_method: str | None = None
    refund_from_account: str | None = None
