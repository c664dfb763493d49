"""Amounts on the dashboard read as money: two decimals, grouped thousands."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledgerbridge.web.pages.common import TEMPLATES, money


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("872.5", "872.50"),
        ("1234", "1,234.00"),
        (Decimal("1234567.891"), "1,234,567.891"),
        ("0.125", "0.125"),
        ("-5.5", "-5.50"),
        ("0", "0.00"),
        (None, "—"),
        ("", "—"),
        ("n/a", "n/a"),
        ("NaN", "NaN"),
    ],
)
def test_money(value: object, shown: str) -> None:
    assert money(value) == shown


def test_the_templates_have_the_filter() -> None:
    template = TEMPLATES.env.from_string("{{ amount | money }}")
    assert template.render(amount="872.5") == "872.50"
