"""Products (HubSpot) and items (QBO)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledgerbridge.domain.money import Money
from ledgerbridge.domain.refs import RecordRef


def normalize_sku(sku: str | None) -> str | None:
    """The matching form of a SKU: trimmed (case is kept: SKUs are case-sensitive codes)."""
    if sku is None:
        return None
    cleaned = sku.strip()
    return cleaned or None


class ProductKind(StrEnum):
    SERVICE = "service"
    NON_INVENTORY = "non_inventory"
    INVENTORY = "inventory"


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    name: str
    sku: str | None = None
    unit_price: Money | None = None
    description: str | None = None
    income_account: str | None = None
    kind: ProductKind = ProductKind.SERVICE
    taxable: bool = False
    active: bool = True
    ref: RecordRef | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise ValueError("a product needs a name")

    @property
    def match_key(self) -> str | None:
        return normalize_sku(self.sku)
