import datetime as dt
from decimal import Decimal

import pytest

from ledgerbridge.domain import (
    Discount,
    Invoice,
    InvoiceStatus,
    Line,
    Money,
    Payment,
    PaymentApplication,
    PaymentSource,
    RecordRef,
    System,
)


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def line(price: str, qty: str = "1", discount: Discount | None = None) -> Line:
    return Line(unit_price=usd(price), quantity=Decimal(qty), discount=discount)


def test_invoice_totals_are_computed_from_lines() -> None:
    invoice = Invoice(currency="USD", lines=(line("10.00", "3"), line("2.50", "2")))
    assert invoice.subtotal == usd("35.00")
    assert invoice.total == usd("35.00")
    assert invoice.balance == usd("35.00")


def test_line_discounts_apply_before_the_order_discount() -> None:
    invoice = Invoice(
        currency="USD",
        lines=(line("100.00", "1", Discount.percent(10)), line("50.00", "2", Discount.amount(5))),
        discount=Discount.percent("12.5"),
    )
    # lines: 90.00 + 95.00 = 185.00; order discount 12.5 % = 23.125 → 23.13 (half-up)
    assert invoice.subtotal == usd("185.00")
    assert invoice.discount_amount == usd("23.13")
    assert invoice.total == usd("161.87")


def test_a_fixed_discount_never_exceeds_the_subtotal() -> None:
    invoice = Invoice(currency="USD", lines=(line("10.00"),), discount=Discount.amount(25))
    assert invoice.total == usd("0.00")


def test_line_amounts_round_half_up() -> None:
    assert line("0.335", "1").amount == usd("0.34")
    assert line("1.005", "3").amount == usd("3.02")  # 3.015 → 3.02


def test_partial_payment_and_balance() -> None:
    invoice = Invoice(
        currency="USD",
        status=InvoiceStatus.OPEN,
        lines=(line("40.00"),),
        amount_paid=usd("15.00"),
    )
    assert invoice.balance == usd("25.00")
    assert invoice.is_partially_paid


def test_voided_invoice_keeps_lines_but_totals_zero() -> None:
    invoice = Invoice(currency="USD", status=InvoiceStatus.VOIDED, lines=(line("40.00"),))
    assert len(invoice.lines) == 1
    assert invoice.total == usd("0")


def test_documents_refuse_mixed_currencies_and_bad_dates() -> None:
    with pytest.raises(ValueError, match="currency"):
        Invoice(currency="EUR", lines=(line("1.00"),))
    with pytest.raises(ValueError, match="due"):
        Invoice(currency="USD", issue_date=dt.date(2026, 5, 2), due_date=dt.date(2026, 5, 1))


def test_discount_validation() -> None:
    with pytest.raises(ValueError):
        Discount.percent(101)
    with pytest.raises(ValueError):
        Discount.amount(-1)


def test_payment_cannot_apply_more_than_its_amount() -> None:
    inv = RecordRef(System.QUICKBOOKS, "7")
    with pytest.raises(ValueError, match="exceeds"):
        Payment(
            amount=usd("10"),
            date=dt.date(2026, 1, 1),
            source=PaymentSource.QUICKBOOKS,
            applied_to=(PaymentApplication(inv, usd("11")),),
        )
    payment = Payment(
        amount=usd("10"),
        date=dt.date(2026, 1, 1),
        source=PaymentSource.STRIPE,
        applied_to=(PaymentApplication(inv, usd("6")),),
        processing_fee=usd("0.59"),
        platform_fee=usd("0.10"),
    )
    assert payment.unapplied == usd("4")
    assert payment.fees == usd("0.69")
