"""`--seed N`: a realistic company. Customers with emails (some sharing a company name), items
with and without SKU, invoices in every state (open, overdue, partly paid, paid, emailed,
voided, deleted), payments, an estimate and a sales receipt. Same N, same data."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledgerbridge.sandbox.qbo import operations
from ledgerbridge.sandbox.qbo.entities import Ctx
from ledgerbridge.sandbox.qbo.state import Obj, RealmState

if TYPE_CHECKING:
    from ledgerbridge.sandbox.qbo.core import Sandbox

FIRST = [
    "Ava",
    "Liam",
    "Noah",
    "Emma",
    "Mia",
    "Lucas",
    "Zoe",
    "Ethan",
    "Ivy",
    "Omar",
    "Sofia",
    "Hugo",
    "Nora",
    "Ravi",
    "Lena",
    "Theo",
    "Maya",
    "Felix",
]
LAST = [
    "Nguyen",
    "Smith",
    "Garcia",
    "Okafor",
    "Kowalski",
    "Tanaka",
    "Dubois",
    "Silva",
    "Khan",
    "Murphy",
    "Rossi",
    "Jensen",
]
COMPANIES = [
    "Acme Corp",
    "Globex LLC",
    "Initech",
    "Umbrella Partners",
    "Stark Supply",
    "Wayne Outfitters",
]
ITEMS: list[tuple[str, str | None, str, str]] = [
    ("Consulting hour", "SVC-CONS", "150", "Service"),
    ("Onboarding package", "SVC-ONB", "1200", "Service"),
    ("Support plan (monthly)", None, "99", "Service"),
    ("Training session", None, "450", "Service"),
    ("Hardware kit", "HW-KIT-01", "349.99", "NonInventory"),
    ("Cable set", "HW-CBL-02", "24.5", "NonInventory"),
    ("Installation", None, "200", "Service"),
    ("Custom report", "SVC-RPT", "375", "Service"),
]


def _ref(obj: Obj) -> dict[str, str]:
    return {"value": obj["Id"]}


INVOICE_STATES = [
    "open",
    "overdue",
    "partial",
    "paid",
    "emailed",
    "voided",
    "deleted",
    "open",
    "paid",
    "overdue",
    "partial",
    "open",
]
"""What becomes of the seeded invoices (the list is used twice)."""


def seed_realm(sandbox: Sandbox, realm: RealmState, seed: int) -> None:
    rng = random.Random(seed)
    ctx = Ctx(realm=realm, now=sandbox.now())
    customers = _customers(ctx, rng)
    items = _items(ctx)
    for n, state in enumerate(INVOICE_STATES * 2):
        customer = customers[n % len(customers)]
        invoice = _invoice(ctx, rng, customer, _invoice_lines(ctx, rng, items, n), n, state)
        _settle(ctx, rng, customer, invoice, state)
    _other_sales(ctx, customers, items)


def _items(ctx: Ctx) -> list[Obj]:
    income = next(a for a in ctx.realm.table("Account").values() if a["AccountType"] == "Income")
    items = []
    for name, sku, price, kind in ITEMS:
        body: dict[str, Any] = {
            "Name": name,
            "Type": kind,
            "UnitPrice": Decimal(price),
            "IncomeAccountRef": _ref(income),
            "Description": name,
        }
        if sku:
            body["Sku"] = sku
        items.append(operations.create(ctx, "Item", body)[0])
    return items


def _invoice_lines(ctx: Ctx, rng: random.Random, items: list[Obj], n: int) -> list[Obj]:
    """One to three item lines (dated with revenue recognition, taxed outside the US), and
    a 10 % discount on every fifth invoice."""
    settings = ctx.realm.settings
    lines: list[Obj] = []
    for item in rng.sample(items, rng.randint(1, 3)):
        detail: dict[str, Any] = {
            "ItemRef": _ref(item),
            "Qty": rng.randint(1, 5),
            "UnitPrice": item["UnitPrice"],
        }
        if settings.revenue_recognition:
            detail["ServiceDate"] = ctx.now.date().isoformat()
        if settings.country.upper() != "US":
            detail["TaxCodeRef"] = {"value": "2"}
        lines.append(
            {
                "DetailType": "SalesItemLineDetail",
                "Description": item["Name"],
                "SalesItemLineDetail": detail,
            }
        )
    if n % 5 == 0:
        lines.append(
            {
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
            }
        )
    return lines


def _invoice(
    ctx: Ctx, rng: random.Random, customer: Obj, lines: list[Obj], n: int, state: str
) -> Obj:
    """The invoice, dated 40-55 days ago when it is to be overdue or paid, else 0-20."""
    days_ago = rng.randint(40, 55) if state in ("overdue", "paid") else rng.randint(0, 20)
    txn_date = ctx.now.date() - timedelta(days=days_ago)
    body = {
        "CustomerRef": _ref(customer),
        "Line": lines,
        "TxnDate": txn_date.isoformat(),
        "DueDate": (txn_date + timedelta(days=30)).isoformat(),
    }
    if ctx.realm.settings.custom_txn_numbers:
        body["DocNumber"] = f"INV-{1001 + n}"
    return operations.create(ctx, "Invoice", body)[0]


def _settle(ctx: Ctx, rng: random.Random, customer: Obj, invoice: Obj, state: str) -> None:
    """Pay the invoice (in part or whole), mark it emailed, void or delete it."""
    total = Decimal(str(invoice["TotalAmt"]))
    if state in ("partial", "paid"):
        amount = total if state == "paid" else (total / 2).quantize(Decimal("0.01"))
        operations.create(
            ctx,
            "Payment",
            {
                "CustomerRef": _ref(customer),
                "TotalAmt": amount,
                "PaymentMethodRef": {"value": str(rng.randint(1, 5))},
                "Line": [
                    {
                        "Amount": amount,
                        "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                    }
                ],
            },
        )
    elif state == "emailed":
        stored = ctx.realm.get("Invoice", invoice["Id"])
        assert stored is not None
        stored["EmailStatus"] = "EmailSent"
    elif state == "voided":
        operations.void(ctx, "Invoice", {"Id": invoice["Id"], "SyncToken": "0"})
    elif state == "deleted":
        operations.delete(ctx, "Invoice", {"Id": invoice["Id"], "SyncToken": "0"})


def _other_sales(ctx: Ctx, customers: list[Obj], items: list[Obj]) -> None:
    """An unapplied payment (a credit on account), an estimate and a sales receipt."""
    non_us = ctx.realm.settings.country.upper() != "US"
    operations.create(
        ctx, "Payment", {"CustomerRef": _ref(customers[1]), "TotalAmt": Decimal("50")}
    )
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": Decimal("1200"),
        "SalesItemLineDetail": {
            "ItemRef": _ref(items[1]),
            "Qty": 1,
            "UnitPrice": 1200,
            "ServiceDate": ctx.now.date().isoformat(),
            **({"TaxCodeRef": {"value": "2"}} if non_us else {}),
        },
    }
    for entity in ("Estimate", "SalesReceipt"):
        body = {"CustomerRef": _ref(customers[2]), "Line": [line]}
        if ctx.realm.settings.custom_txn_numbers:
            body["DocNumber"] = f"{entity[:2].upper()}-1001"
        operations.create(ctx, entity, body)


def _customers(ctx: Ctx, rng: random.Random) -> list[Obj]:
    out = []
    used: set[str] = set()
    for n in range(18):
        while True:
            given, family = rng.choice(FIRST), rng.choice(LAST)
            if f"{given} {family}" not in used:
                used.add(f"{given} {family}")
                break
        company = COMPANIES[n % len(COMPANIES)] if n % 3 != 2 else None  # shared company names
        domain = (company or family).lower().replace(" ", "") + ".example"
        body: dict[str, Any] = {
            "GivenName": given,
            "FamilyName": family,
            "DisplayName": f"{given} {family}",
            "PrimaryEmailAddr": {"Address": f"{given.lower()}.{family.lower()}@{domain}"},
            "PrimaryPhone": {"FreeFormNumber": f"(555) 01{n:02d}-{rng.randint(1000, 9999)}"},
            "BillAddr": {
                "Line1": f"{rng.randint(1, 999)} Main St",
                "City": "Springfield",
                "CountrySubDivisionCode": "CA",
                "PostalCode": "94105",
            },
        }
        if company:
            body["CompanyName"] = company
        if n % 4 == 0:
            body["SalesTermRef"] = {"value": "3"}  # Net 30
        out.append(operations.create(ctx, "Customer", body)[0])
    return out
