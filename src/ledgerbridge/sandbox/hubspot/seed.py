"""`--seed N`: fill the portal with a realistic, deterministic data set."""

from __future__ import annotations

import random
from decimal import Decimal

from .state import SOURCE_CRM_UI, Record, SandboxState

UI = SOURCE_CRM_UI

FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Gus", "Hana", "Ivan", "Jules"]
LAST = ["Martin", "Okafor", "Nguyen", "Schmidt", "Rossi", "Kowalski", "Silva", "Tanaka"]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Ltd", "Stark Industries", "Wayne & Co"]
PRODUCTS = [
    ("Consulting hour", "150.00", "SVC-CONS"),
    ("Onboarding package", "1200.00", "SVC-ONB"),
    ("Annual licence", "2400.00", "LIC-ANN"),
    ("Support plan", "300.00", None),
    ("Training day", "900.00", "SVC-TRN"),
    ("Hardware kit", "499.99", None),
    ("Shipping", "25.00", None),
    ("Custom report", "350.00", "SVC-REP"),
]


def seed_portal(state: SandboxState, seed: int) -> None:
    """Contacts (some without email), companies, products (some without SKU), deals with
    line items, invoices in every status (made "in HubSpot"), payments with fees."""
    rng = random.Random(seed)
    contacts = _people(state, rng)
    products = _products(state)
    _deals(state, rng, contacts, products)
    _invoices(state, rng, contacts, products)
    # A payment-link payment (no invoice), partly refunded.
    state.create(
        "commerce_payments",
        {
            "hs_initial_amount": "300.00",
            "hs_currency_code": "USD",
            "hs_latest_status": "succeeded",
            "hs_payment_source": "payment_link",
            "hs_processor_type": "stripe",
            "hs_processing_fee": "9.00",
            "hs_platform_fee": "1.50",
            "hs_refunds_amount": "100.00",
        },
        source=UI,
    )


def _people(state: SandboxState, rng: random.Random) -> list[Record]:
    """The companies, and 16 contacts (every fourth without email), one company each."""
    companies = [
        state.create(
            "companies", {"name": n, "domain": n.split()[0].lower() + ".example"}, source=UI
        )
        for n in COMPANIES
    ]
    contacts = []
    for i in range(16):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        props = {"firstname": first, "lastname": last, "phone": f"+1 555 01{i:02d}"}
        if i % 4 != 3:
            props["email"] = f"{first}.{last}{i}@example.com".lower()
        contact = state.create("contacts", props, source=UI)
        contacts.append(contact)
        company = companies[i % len(companies)]
        state.associate("contacts", contact.id, "companies", company.id, 1, source=UI)
    return contacts


def _products(state: SandboxState) -> list[Record]:
    products = []
    for name, price, sku in PRODUCTS:
        props = {"name": name, "price": price, "description": f"{name} (seeded)"}
        if sku:
            props["hs_sku"] = sku
        products.append(state.create("products", props, source=UI))
    return products


def _line_items(
    state: SandboxState,
    rng: random.Random,
    products: list[Record],
    parent: tuple[str, str, int],
) -> None:
    """One to three line items of random products on `parent` (type, id, association)."""
    parent_type, parent_id, type_id = parent
    for product in rng.sample(products, rng.randint(1, 3)):
        props = {
            "name": product.properties["name"],
            "price": product.properties["price"],
            "quantity": str(rng.randint(1, 5)),
            "hs_product_id": product.id,
        }
        if "hs_sku" in product.properties:
            props["hs_sku"] = product.properties["hs_sku"]
        if rng.random() < 0.3:
            props["discount"] = "10"
        item = state.create("line_items", props, source=UI)
        state.associate(parent_type, parent_id, "line_items", item.id, type_id, source=UI)


def _deals(
    state: SandboxState, rng: random.Random, contacts: list[Record], products: list[Record]
) -> None:
    """Six won deals with line items (every other with a payment link), and a quote."""
    for i in range(6):
        contact = contacts[i]
        deal = state.create(
            "deals",
            {"dealname": f"Deal {i + 1}", "dealstage": "closedwon", "pipeline": "default"},
            source=UI,
        )
        state.associate("deals", deal.id, "contacts", contact.id, 3, source=UI)
        _line_items(state, rng, products, ("deals", deal.id, 19))
        if i % 2 == 0:
            state.update("deals", deal.id, {"hs_payment_link": f"https://pay.example/{deal.id}"})
    quote = state.create(
        "quotes", {"hs_title": "Quote for Deal 1", "hs_esign_completed": "true"}, source=UI
    )
    _line_items(state, rng, products, ("quotes", quote.id, 67))


def _invoices(
    state: SandboxState, rng: random.Random, contacts: list[Record], products: list[Record]
) -> None:
    """Invoices in every status, each with line items; the paid ones with a payment."""
    statuses = ["draft", "open", "open", "paid", "voided", "draft", "open", "paid"]
    for i, status in enumerate(statuses):
        contact = contacts[i + 1]
        invoice = state.create(
            "invoices", {"hs_currency": "USD", "hs_title": f"Invoice {i + 1}"}, source=UI
        )
        state.associate("invoices", invoice.id, "contacts", contact.id, 177, source=UI)
        _line_items(state, rng, products, ("invoices", invoice.id, 409))
        if status == "draft":
            continue
        state.update("invoices", invoice.id, {"hs_invoice_status": "open"}, source=UI)
        if status == "voided":
            state.update("invoices", invoice.id, {"hs_invoice_status": "voided"}, source=UI)
        elif status == "paid":
            _payment(state, invoice, contact, "stripe" if i % 2 else "hubspot_payments")


def _payment(state: SandboxState, invoice: Record, contact: Record, processor: str) -> None:
    """A card payment of the whole invoice, with its fees."""
    billed = Decimal(invoice.properties.get("hs_amount_billed", "0"))
    payment = state.create(
        "commerce_payments",
        {
            "hs_initial_amount": str(billed),
            "hs_currency_code": "USD",
            "hs_latest_status": "succeeded",
            "hs_payment_source": "invoice",
            "hs_processor_type": processor,
            "hs_payment_method_type": "card",
            "hs_processing_fee": str((billed * Decimal("0.029")).quantize(Decimal("0.01"))),
            "hs_platform_fee": str((billed * Decimal("0.005")).quantize(Decimal("0.01"))),
            "hs_customer_email": contact.properties.get("email", ""),
        },
        source=UI,
    )
    state.associate("invoices", invoice.id, "commerce_payments", payment.id, 541, source=UI)
