from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerbridge.domain import CurrencyMismatchError, Money, minor_units

amounts = st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False)


def test_rounding_is_half_up_to_the_minor_unit() -> None:
    assert Money.of("0.005", "USD").rounded() == Money.of("0.01", "USD")
    assert Money.of("0.015", "USD").rounded() == Money.of("0.02", "USD")
    assert Money.of("2.675", "USD").rounded() == Money.of("2.68", "USD")
    assert Money.of("-0.005", "USD").rounded() == Money.of("-0.01", "USD")
    assert Money.of("0.0049", "USD").rounded() == Money.of("0.00", "USD")


def test_rounding_respects_currencies_without_or_with_three_minor_digits() -> None:
    assert minor_units("JPY") == 0
    assert Money.of("100.5", "JPY").rounded() == Money.of("101", "JPY")
    assert Money.of("1.2345", "KWD").rounded() == Money.of("1.235", "KWD")


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        Money.of(0.1, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["usd", "US", "USDX", "12A", ""])
def test_currency_must_be_an_iso_code(code: str) -> None:
    with pytest.raises(ValueError):
        Money.of(1, code)


def test_mixed_currencies_are_refused() -> None:
    usd, eur = Money.of(1, "USD"), Money.of(1, "EUR")
    with pytest.raises(CurrencyMismatchError):
        _ = usd + eur
    with pytest.raises(CurrencyMismatchError):
        _ = usd - eur
    with pytest.raises(CurrencyMismatchError):
        _ = usd < eur


def test_multiplication_by_quantity_and_percent() -> None:
    assert Money.of("19.99", "USD") * 3 == Money.of("59.97", "USD")
    assert Money.of("100", "USD").percent("12.5") == Money.of("12.50", "USD")
    assert Money.of("0.10", "USD").percent(5) == Money.of("0.01", "USD")  # 0.005 → 0.01


@given(amounts, amounts)
def test_addition_and_subtraction_are_exact_inverses(a: Decimal, b: Decimal) -> None:
    x, y = Money.of(a, "USD"), Money.of(b, "USD")
    assert (x + y) - y == x
    assert x + y == y + x


@given(amounts)
def test_rounding_is_idempotent_and_within_half_a_cent(a: Decimal) -> None:
    money = Money.of(a, "USD")
    once = money.rounded()
    assert once.rounded() == once
    assert abs(once.amount - money.amount) <= Decimal("0.005")
