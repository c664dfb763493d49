"""What a rules message tells the user to do, in the terms of where they are.

The checks are the same everywhere (`sync.catalogue`, `operations.rules.service`); only
the "what to do" part of some messages depends on the surface: the terminal names its
commands and flags (`Hints`, also what the rules file and the REST API say), the
dashboard its own buttons and choices (`ledgerbridge.web.pages.rules_form`).
"""

from __future__ import annotations

from ledgerbridge.domain import System
from ledgerbridge.sync.rules import Direction, ObjectPair

SIDE_NAMES = {System.HUBSPOT: "HubSpot", System.QUICKBOOKS: "QuickBooks"}
PAIR_NAMES = {
    ObjectPair.CONTACTS_CUSTOMERS: "contact sync",
    ObjectPair.PRODUCTS_ITEMS: "product sync",
    ObjectPair.INVOICES_INVOICES: "invoice sync",
}
ARROWS = {Direction.TWO_WAY: "↔", Direction.HUBSPOT_TO_QBO: "→", Direction.QBO_TO_HUBSPOT: "←"}
PAIR_SIDES = {
    "contacts_customers": ("Contacts", "Customers"),
    "products_items": ("Products", "Items"),
    "invoices_invoices": ("Invoices", "Invoices"),
    "payments": ("Payments", "Payments"),
}


def pair_label(object_type: str, direction: str | None = None) -> str:
    """ "Products ← Items": an object pair (HubSpot's on the left) with its rule's direction
    (two-way when not given, as payments go)."""
    sides = PAIR_SIDES.get(object_type)
    if sides is None:
        return object_type
    try:
        arrow = ARROWS[Direction(direction)] if direction else ARROWS[Direction.TWO_WAY]
    except ValueError:
        arrow = ARROWS[Direction.TWO_WAY]
    return f"{sides[0]} {arrow} {sides[1]}"


class Hints:
    """The command line's hints (the default)."""

    def one_way(self, source: System) -> str:
        """How to map a field one way only, out of `source` (the other side is read-only)."""
        flow = Direction.flow_from(source).value
        return f"map it one way only, from {SIDE_NAMES[source]} (--direction {flow})"

    def field_list(self, pair: ObjectPair, system: System) -> str:
        """Where to see the fields `system` has for `pair`."""
        side = "hubspot" if system is System.HUBSPOT else "qbo"
        return f"see `ledgerbridge rules fields {pair.value} --side {side}`"

    def invoices_need(self, needed: ObjectPair) -> str:
        """The whole message: invoice sync is on, so `needed` cannot be off."""
        return (
            f"Invoice sync is on and needs {PAIR_NAMES[needed]} on: turn invoice sync off first "
            "(`ledgerbridge rules disable invoices_invoices`)."
        )


CLI_HINTS = Hints()
