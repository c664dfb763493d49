"""What a workflow action execution works on, and how it fails."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol

from ledgerbridge.hubspot.objects import ObjectType
from ledgerbridge.sync.errors import ErrorCategory, TerminalError
from ledgerbridge.sync.rules import SyncRule

__all__ = [
    "ActionFailed",
    "Enrolled",
    "Lookups",
    "SourceLine",
    "decimal_of",
    "yes",
]

CENT = Decimal("0.01")


class ActionFailed(TerminalError):
    """A check before writing failed (or a write was refused): nothing more is written, and
    `detail` is the reason shown in the workflow's history."""

    def __init__(self, category: ErrorCategory, detail: str) -> None:
        super().__init__(category, detail)


def decimal_of(value: str | None) -> Decimal | None:
    if value is None or not value.strip():
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        return None


def yes(value: str) -> bool:
    return value.strip().lower() in ("true", "yes", "1", "on")


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One HubSpot line item of the enrolled record."""

    id: str
    name: str
    quantity: Decimal
    price: Decimal
    sku: str | None = None
    product_id: str | None = None
    description: str | None = None
    discount_percent: Decimal | None = None
    discount_per_unit: Decimal | None = None
    taxable: bool = False

    @property
    def label(self) -> str:
        return f"'{self.name}'" + (f" (SKU {self.sku})" if self.sku else " (no SKU)")

    @property
    def amount(self) -> Decimal:
        gross = self.quantity * self.price
        if self.discount_percent is not None:
            gross -= gross * self.discount_percent / 100
        elif self.discount_per_unit is not None:
            gross -= self.discount_per_unit * self.quantity
        return gross.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Enrolled:
    """The record the workflow enrolled, with what the actions need of it."""

    object_type: ObjectType  # deals | quotes | commerce_payments
    object_id: str
    properties: Mapping[str, str | None]
    currency: str
    lines: tuple[SourceLine, ...] = ()
    contact_ids: tuple[str, ...] = ()
    invoice_ids: tuple[str, ...] = ()

    @property
    def is_payment(self) -> bool:
        return self.object_type == "commerce_payments"

    @property
    def noun(self) -> str:
        return {"deals": "deal", "quotes": "quote"}.get(self.object_type, "payment")

    def prop(self, name: str) -> str | None:
        value = self.properties.get(name)
        return value if value not in (None, "") else None

    def amount(self, name: str) -> Decimal:
        return decimal_of(self.prop(name)) or Decimal(0)


@dataclass(frozen=True, slots=True)
class RuleView:
    """The rules an execution consults (from the store's sync_rules)."""

    contacts: SyncRule | None = None
    invoices: SyncRule | None = None


class Lookups(Protocol):
    """The sync state an execution reads (links made by the sync, the rules)."""

    async def customer_for_contact(self, contact_id: str) -> str | None: ...

    async def item_for_product(self, product_id: str) -> str | None: ...

    async def payment_is_synced(self, payment_id: str) -> bool: ...

    async def synced_invoices(self, invoice_ids: list[str]) -> set[str]: ...

    async def rules(self) -> RuleView: ...


@dataclass(slots=True)
class Pending:
    """A QBO write decided by the checks, done only after every check passed."""

    step: str
    entity: str
    body: dict[str, object] = field(default_factory=dict)
