"""An object pair's label says which way its rule syncs (overview, demo summary)."""

from __future__ import annotations

from ledgerbridge.sync.hints import pair_label


def test_the_arrow_follows_the_rules_direction() -> None:
    assert pair_label("products_items", "qbo_to_hubspot") == "Products ← Items"
    assert pair_label("contacts_customers", "hubspot_to_qbo") == "Contacts → Customers"
    assert pair_label("invoices_invoices", "two_way") == "Invoices ↔ Invoices"
    assert pair_label("payments") == "Payments ↔ Payments"  # no rule of its own
    assert pair_label("deals") == "deals"  # not a pair: as it is
    assert pair_label("products_items", "sideways") == "Products ↔ Items"
