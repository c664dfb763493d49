"""What the bench does to a sandbox's state without spending a rate-limited request:
seeding a scenario, the changes of (c), and the read-outs (emails present, counts).

Everything here takes the live sandbox object and runs inside the process that serves that
sandbox (`bench.sandbox_proc`, on its event loop: no other request is served meanwhile), so
the bench process never touches the state itself: it calls the `/_bench/...` endpoints."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerbridge.commands._demo_stack import DEMO_REALM
from ledgerbridge.sandbox.hubspot.state import SOURCE_CRM_UI
from ledgerbridge.sandbox.qbo import operations


@dataclass
class Sizes:
    invoices: int
    customers: int
    items: int
    lines: int = 0

    @classmethod
    def for_invoices(cls, n: int) -> Sizes:
        # The issue's ratios: 10,000 invoices, 2,000 customers, 300 items.
        return cls(invoices=n, customers=max(1, n // 5), items=min(300, max(3, n)))


# ------------------------------------------------------------------ QBO


def _realm(sandbox: Any) -> Any:
    return sandbox.realms[DEMO_REALM]


def seed_qbo_catalog(sandbox: Any, items: int) -> list[dict[str, Any]]:
    """`items` service items with SKUs BENCH-0000… (also the products of scenario (b))."""
    realm = _realm(sandbox)
    ctx = sandbox.ctx(realm)
    income = next(a for a in realm.table("Account").values() if a["AccountType"] == "Income")
    made = []
    for i in range(items):
        body = {
            "Name": f"Bench item {i}",
            "Type": "Service",
            "Sku": f"BENCH-{i:04d}",
            "UnitPrice": Decimal(10 + i % 90),
            "IncomeAccountRef": {"value": income["Id"]},
        }
        made.append(operations.create(ctx, "Item", body)[0])
    return made


def seed_qbo_company(sandbox: Any, sizes: Sizes, seed: int = 8) -> int:
    """Scenario (a): customers, items and open invoices (1–5 lines, 3 on average).
    Returns the number of invoice lines."""
    rng = random.Random(seed)
    realm = _realm(sandbox)
    items = seed_qbo_catalog(sandbox, sizes.items)
    ctx = sandbox.ctx(realm)
    customers = []
    for i in range(sizes.customers):
        body = {
            "GivenName": "Bench",
            "FamilyName": f"Customer {i}",
            "DisplayName": f"Bench Customer {i}",
            "PrimaryEmailAddr": {"Address": f"customer{i}@bench.example"},
        }
        customers.append(operations.create(ctx, "Customer", body)[0])
    lines = 0
    today = sandbox.now().date().isoformat()
    for n in range(sizes.invoices):
        count = rng.randint(1, 5)
        lines += count
        body = {
            "CustomerRef": {"value": customers[n % len(customers)]["Id"]},
            "TxnDate": today,
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Description": item["Name"],
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item["Id"]},
                        "Qty": rng.randint(1, 4),
                        "UnitPrice": item["UnitPrice"],
                    },
                }
                for item in rng.sample(items, min(count, len(items)))
            ],
        }
        operations.create(ctx, "Invoice", body)
    return lines


def make_qbo_customer(sandbox: Any, i: int) -> str:
    """A change of (c): a new customer, its webhook published. Returns its email."""
    email = f"qb{i}@steady.example"
    body = {"DisplayName": f"Steady Q{i}", "PrimaryEmailAddr": {"Address": email}}
    _obj, events = operations.create(sandbox.ctx(_realm(sandbox)), "Customer", body)
    sandbox.webhooks.publish(events)
    return email


def qbo_emails(sandbox: Any) -> set[str]:
    rows = _realm(sandbox).table("Customer").values()
    return {(c.get("PrimaryEmailAddr") or {}).get("Address", "").lower() for c in rows}


def qbo_counts(sandbox: Any) -> dict[str, int]:
    realm = _realm(sandbox)
    return {name: len(realm.table(name)) for name in ("Customer", "Item", "Invoice")}


# ------------------------------------------------------------------ HubSpot


def seed_hubspot_portal(sandbox: Any, sizes: Sizes, seed: int = 8) -> int:
    """Scenario (b): contacts, products (the QBO side gets the same SKUs as items: products
    flow QBO → HubSpot under the demo rules) and finalized (open) invoices with lines.
    Returns the number of line items."""
    rng = random.Random(seed)
    state = sandbox.state
    ui = SOURCE_CRM_UI
    products = [
        state.create(
            "products",
            {"name": f"Bench item {i}", "price": str(10 + i % 90), "hs_sku": f"BENCH-{i:04d}"},
            source=ui,
        )
        for i in range(sizes.items)
    ]
    contacts = [
        state.create(
            "contacts",
            {"firstname": "Bench", "lastname": f"Contact {i}", "email": f"c{i}@bench.example"},
            source=ui,
        )
        for i in range(sizes.customers)
    ]
    lines = 0
    for n in range(sizes.invoices):
        invoice = state.create(
            "invoices", {"hs_currency": "USD", "hs_title": f"Bench {n}"}, source=ui
        )
        contact = contacts[n % len(contacts)]
        state.associate("invoices", invoice.id, "contacts", contact.id, 177, source=ui)
        count = rng.randint(1, 5)
        lines += count
        for product in rng.sample(products, min(count, len(products))):
            props = {
                "name": product.properties["name"],
                "price": product.properties["price"],
                "quantity": str(rng.randint(1, 4)),
                "hs_product_id": product.id,
                "hs_sku": product.properties["hs_sku"],
            }
            item = state.create("line_items", props, source=ui)
            state.associate("invoices", invoice.id, "line_items", item.id, 409, source=ui)
        state.update("invoices", invoice.id, {"hs_invoice_status": "open"}, source=ui)
    return lines


def make_hubspot_contact(sandbox: Any, i: int) -> str:
    """A change of (c): a contact made "in the CRM UI", so its webhook fires."""
    email = f"hs{i}@steady.example"
    sandbox.state.create(
        "contacts",
        {"firstname": "Steady", "lastname": f"H{i}", "email": email},
        source=SOURCE_CRM_UI,
    )
    return email


def hubspot_emails(sandbox: Any) -> set[str]:
    return {(r.properties.get("email") or "").lower() for r in sandbox.state.live("contacts")}


def hubspot_counts(sandbox: Any) -> dict[str, int]:
    state = sandbox.state
    kinds = ("contacts", "products", "invoices", "line_items")
    return {name: len(state.live(name)) for name in kinds}
