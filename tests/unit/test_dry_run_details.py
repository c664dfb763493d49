"""A dry run's details read as sentences, not Python reprs (`commands._tables`)."""

from __future__ import annotations

from ledgerbridge.commands._tables import _details


def test_a_create_lists_its_fields_and_spells_out_its_lines() -> None:
    data = {
        "action": "create",
        "direction": "hubspot_to_qbo",
        "fields": {
            "number": "INV-1001",
            "currency": "USD",
            "memo": None,
            "lines": [
                {
                    "product": None,
                    "description": "Support plan",
                    "quantity": "4",
                    "unit_price": "300",
                    "discount": None,
                    "service_date": None,
                },
                {
                    "product": "1023",
                    "description": "Consulting hour",
                    "quantity": "1",
                    "unit_price": "150",
                    "discount": "amount:10",
                    "service_date": None,
                },
            ],
        },
    }
    assert _details(data) == (
        "to QuickBooks: currency USD, 2 lines: 4 × Support plan at 300; "
        "1 × Consulting hour at 150 (product 1023, discount amount:10), number INV-1001"
    )


def test_an_update_to_hubspot_names_its_fields_without_quotes() -> None:
    data = {"action": "update", "direction": "qbo_to_hubspot", "fields": {"email": "a@x.io"}}
    assert _details(data) == "to HubSpot: email a@x.io"
    assert "'" not in _details(data) and "=" not in _details(data)
