"""Which HubSpot object type each rule's records are."""

from __future__ import annotations

from ledgerbridge.hubspot.objects import ObjectType
from ledgerbridge.sync.errors import ErrorCategory, TerminalError
from ledgerbridge.sync.rules import ObjectPair, SyncRule

OBJECTS: dict[ObjectPair, ObjectType] = {
    ObjectPair.CONTACTS_CUSTOMERS: "contacts",
    ObjectPair.PRODUCTS_ITEMS: "products",
    ObjectPair.INVOICES_INVOICES: "invoices",
}


def object_of(rule: SyncRule) -> ObjectType:
    found = OBJECTS.get(rule.object_pair)
    if found is None:
        raise TerminalError(
            ErrorCategory.UNKNOWN,
            f"{rule.object_pair.value}: HubSpot records of this rule are not synced yet",
        )
    return found


__all__ = ["OBJECTS", "object_of"]
