"""Which QBO entity each rule's records are."""

from __future__ import annotations

from ledgerbridge.sync.rules import ObjectPair

ENTITIES: dict[ObjectPair, str] = {
    ObjectPair.CONTACTS_CUSTOMERS: "Customer",
    ObjectPair.PRODUCTS_ITEMS: "Item",
    ObjectPair.INVOICES_INVOICES: "Invoice",
}
