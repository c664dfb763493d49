"""Pure, frozen value types shared by every layer (no I/O, no third-party imports)."""

from ledgerbridge.domain.documents import (
    Discount,
    DiscountKind,
    Estimate,
    Invoice,
    InvoiceStatus,
    Line,
    RefundReceipt,
    SalesDocument,
    SalesReceipt,
)
from ledgerbridge.domain.money import CurrencyMismatchError, Money, minor_units
from ledgerbridge.domain.party import Address, Party, PartyKind, normalize_email
from ledgerbridge.domain.payments import (
    Expense,
    ExpenseLine,
    ExpensePaymentType,
    Payment,
    PaymentApplication,
    PaymentSource,
    PaymentStatus,
)
from ledgerbridge.domain.product import Product, ProductKind, normalize_sku
from ledgerbridge.domain.refs import RecordRef, System

__all__ = [
    "Address",
    "CurrencyMismatchError",
    "Discount",
    "DiscountKind",
    "Estimate",
    "Expense",
    "ExpenseLine",
    "ExpensePaymentType",
    "Invoice",
    "InvoiceStatus",
    "Line",
    "Money",
    "Party",
    "PartyKind",
    "Payment",
    "PaymentApplication",
    "PaymentSource",
    "PaymentStatus",
    "Product",
    "ProductKind",
    "RecordRef",
    "RefundReceipt",
    "SalesDocument",
    "SalesReceipt",
    "System",
    "minor_units",
    "normalize_email",
    "normalize_sku",
]
