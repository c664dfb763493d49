"""Invoice and payment helpers for the integration tests: users of both services, and
the rules of an invoicing set-up (contacts two-way, products two-way, invoices)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerbridge.hubspot.codec import LINE_ITEM_PROPERTIES
from ledgerbridge.hubspot.codec_commerce import INVOICE_PROPERTIES, PAYMENT_PROPERTIES
from ledgerbridge.hubspot.objects import HubSpotRecord
from ledgerbridge.sync.defaults import sku_filter, wizard_defaults
from ledgerbridge.sync.rules import Direction, InvoiceSettings, ObjectPair, SyncRule
from tests.integration.conftest import contacts_rule, products_rule
from tests.integration.harness import Lab

INVOICES = ObjectPair.INVOICES_INVOICES
Obj = dict[str, Any]


def invoice_rule(direction: Direction = Direction.HUBSPOT_TO_QBO, **changes: Any) -> SyncRule:
    rule = wizard_defaults(INVOICES).model_copy(update={"direction": direction})
    settings = changes.pop("invoice", None) or InvoiceSettings()
    filters = changes.pop("filters", None)
    rule = rule.model_copy(update={"invoice": settings, "filters": filters or (), **changes})
    return rule.with_fixed_filters()


async def set_up(lab: Lab, direction: Direction = Direction.HUBSPOT_TO_QBO, **changes: Any) -> None:
    """Contacts and products two-way, invoices in `direction`."""
    lab.save_rule(contacts_rule())
    skus = (sku_filter(Direction.HUBSPOT_TO_QBO), sku_filter(Direction.QBO_TO_HUBSPOT))
    lab.save_rule(products_rule(direction=Direction.TWO_WAY, filters=skus))
    lab.save_rule(invoice_rule(direction, **changes))


# ---- HubSpot users ----


async def hs_associate(
    lab: Lab, from_obj: str, from_id: str, to: str, to_id: str, type_id: int
) -> None:
    response = await lab.http.put(
        f"{lab.hubspot_url}/_sandbox/associations/{from_obj}/{from_id}/{to}/{to_id}/{type_id}"
    )
    response.raise_for_status()


async def hs_invoice(
    lab: Lab,
    contact_id: str | None,
    lines: list[tuple[str, str, str | None]],
    *,
    finalize: bool = True,
    **props: str,
) -> str:
    """A HubSpot user's invoice: lines are (name, quantity × price as "2x50", product id)."""
    invoice_id = await lab.hs_create("invoices", hs_currency="USD", **props)
    for name, amount, product in lines:
        quantity, price = amount.split("x")
        line_props = {"name": name, "quantity": quantity, "price": price}
        if product:
            line_props["hs_product_id"] = product
        line_id = await lab.hs_create("line_items", **line_props)
        await hs_associate(lab, "invoices", invoice_id, "line_items", line_id, 409)
    if contact_id:
        await hs_associate(lab, "invoices", invoice_id, "contacts", contact_id, 177)
    if finalize:
        await hs_finalize(lab, invoice_id)
    return invoice_id


async def hs_finalize(lab: Lab, invoice_id: str) -> None:
    lab.time.advance(1)
    response = await lab.http.post(f"{lab.hubspot_url}/_sandbox/invoices/{invoice_id}/finalize")
    response.raise_for_status()


async def hs_payment(lab: Lab, invoice_id: str, amount: str, **props: str) -> str:
    payment_id = await lab.hs_create(
        "commerce_payments",
        hs_initial_amount=amount,
        hs_currency_code="USD",
        hs_latest_status="succeeded",
        hs_processor_type=props.pop("hs_processor_type", "hubspot_payments"),
        hs_payment_source="invoice",
        **props,
    )
    await hs_associate(lab, "invoices", invoice_id, "commerce_payments", payment_id, 541)
    return payment_id


async def hs_get(lab: Lab, obj: str, record_id: str, *props: str) -> HubSpotRecord:
    names = props or {
        "invoices": INVOICE_PROPERTIES,
        "commerce_payments": PAYMENT_PROPERTIES,
        "line_items": LINE_ITEM_PROPERTIES,
    }.get(obj, ())
    assoc = ("line_items", "contacts", "deals", "commerce_payments") if obj == "invoices" else ()
    return await lab.hubspot_client().get(obj, record_id, [*names, "ledgerbridge_qbo_id"], assoc)


async def hs_lines(lab: Lab, invoice_id: str) -> list[tuple[str | None, str | None, str | None]]:
    """(name, quantity, price) of the invoice's line items, by id."""
    invoice = await hs_get(lab, "invoices", invoice_id)
    out = []
    for line_id in sorted(invoice.associated("line_items"), key=int):
        line = await hs_get(lab, "line_items", line_id)
        out.append((line.get("name"), _num(line.get("quantity")), _num(line.get("price"))))
    return out


def _num(value: str | None) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


# ---- QBO users ----


async def qbo_item(lab: Lab, name: str, sku: str, price: str) -> str:
    body = {
        "Name": name,
        "Sku": sku,
        "Type": "Service",
        "UnitPrice": price,
        "IncomeAccountRef": {"value": await lab.income_account()},
    }
    return str((await lab.qbo_create("Item", body))["Id"])


async def qbo_invoice(
    lab: Lab, customer_id: str, lines: list[tuple[str, str, str]], **extra: Any
) -> Obj:
    """A QBO user's invoice: lines are (item id, quantity, unit price)."""
    body: Obj = {
        "CustomerRef": {"value": customer_id},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": Decimal(qty) * Decimal(price),
                "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": price},
            }
            for item, qty, price in lines
        ],
        **extra,
    }
    return await lab.qbo_create("Invoice", body)


async def qbo_payment(lab: Lab, customer_id: str, invoice_id: str, amount: str) -> Obj:
    body = {
        "CustomerRef": {"value": customer_id},
        "TotalAmt": amount,
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
    }
    return await lab.qbo_create("Payment", body)


async def qbo_get(lab: Lab, entity: str, entity_id: str) -> Obj:
    return await lab.qbo_client().get(entity, entity_id)


def qbo_lines(invoice: Obj) -> list[tuple[str, str, str]]:
    """(item id, quantity, unit price) of the invoice's sales lines."""
    out = []
    for line in invoice.get("Line", []):
        if line.get("DetailType") == "SalesItemLineDetail":
            detail = line["SalesItemLineDetail"]
            out.append(
                (
                    str(detail["ItemRef"]["value"]),
                    _num(str(detail.get("Qty"))) or "",
                    _num(str(detail.get("UnitPrice"))) or "",
                )
            )
    return out


async def customer_and_contact(lab: Lab, email: str = "ann@example.com") -> tuple[str, str]:
    """A linked contact/customer pair (made in HubSpot, synced by a pass): (contact, customer)."""
    contact = await lab.hs_create("contacts", email=email, firstname="Ann", lastname="Lee")
    await lab.engine().run_pass()
    link = next(x for x in lab.links(ObjectPair.CONTACTS_CUSTOMERS) if x.hubspot_id == contact)
    return contact, link.qbo_id


async def product_and_item(lab: Lab, sku: str = "W-1", price: str = "50") -> tuple[str, str]:
    """A linked product/item pair (made in QBO, synced by a pass): (product, item)."""
    item = await qbo_item(lab, f"Widget {sku}", sku, price)
    await lab.engine().run_pass()
    link = next(x for x in lab.links(ObjectPair.PRODUCTS_ITEMS) if x.qbo_id == item)
    return link.hubspot_id, item
