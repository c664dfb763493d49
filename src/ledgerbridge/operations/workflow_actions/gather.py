"""The HubSpot reads of an execution: the enrolled record, its line items (R-WF-2: only those
associated with it), its contacts in association order, and a payment's invoices."""

from __future__ import annotations

from decimal import Decimal

from ledgerbridge.hubspot.actions import ExecutionRequest
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.objects import HubSpotRecord, ObjectType
from ledgerbridge.operations.workflow_actions.model import (
    ActionFailed,
    Enrolled,
    SourceLine,
    decimal_of,
)
from ledgerbridge.sync.errors import ErrorCategory

__all__ = ["CONTACT_PROPERTIES", "read_contact", "read_enrolled"]

ENROLLED_TYPES: dict[str, ObjectType] = {
    "DEAL": "deals",
    "QUOTE": "quotes",
    "COMMERCE_PAYMENT": "commerce_payments",
}
RECORD_PROPERTIES: dict[ObjectType, tuple[str, ...]] = {
    "deals": ("dealname", "amount", "deal_currency_code", "hs_payment_link"),
    "quotes": ("hs_title", "hs_currency", "hs_esign_completed"),
    "commerce_payments": (
        "hs_initial_amount",
        "hs_currency_code",
        "hs_latest_status",
        "hs_payment_source",
        "hs_processing_fee",
        "hs_platform_fee",
        "hs_refunds_amount",
        "hs_initiated_date",
        "hs_payment_method_type",
    ),
}
CURRENCY_PROPERTY: dict[ObjectType, str] = {
    "deals": "deal_currency_code",
    "quotes": "hs_currency",
    "commerce_payments": "hs_currency_code",
}
LINE_PROPERTIES = (
    "name",
    "description",
    "quantity",
    "price",
    "hs_sku",
    "hs_product_id",
    "discount",
    "hs_discount_percentage",
    "hs_tax_amount",
    "hs_tax_rate_group_id",
)
CONTACT_PROPERTIES = ("email", "firstname", "lastname", "company", "phone")


def _line(record: HubSpotRecord) -> SourceLine:
    tax = decimal_of(record.get("hs_tax_amount"))
    quantity = decimal_of(record.get("quantity"))
    return SourceLine(
        id=record.id,
        name=record.get("name") or record.get("hs_sku") or f"line item {record.id}",
        quantity=quantity if quantity is not None else Decimal(1),
        price=decimal_of(record.get("price")) or Decimal(0),
        sku=record.get("hs_sku"),
        product_id=record.get("hs_product_id"),
        description=record.get("description"),
        discount_percent=decimal_of(record.get("hs_discount_percentage")),
        discount_per_unit=decimal_of(record.get("discount")),
        taxable=bool(record.get("hs_tax_rate_group_id")) or (tax is not None and tax != 0),
    )


async def _associated(client: HubSpotClient, obj: ObjectType, object_id: str, to: str) -> list[str]:
    found = await client.batch_read_associations(obj, to, [object_id])
    return found.get(object_id, [])


async def read_enrolled(
    client: HubSpotClient, request: ExecutionRequest, default_currency: str = "USD"
) -> Enrolled:
    """The enrolled record of `request`, its associated line items, contacts and invoices."""
    obj = ENROLLED_TYPES.get(request.object_type)
    if obj is None:
        raise ActionFailed(
            ErrorCategory.VALIDATION,
            f"This action runs on deals, quotes and payments, not on {request.object_type}.",
        )
    record = await client.get(obj, request.object_id, RECORD_PROPERTIES[obj])
    line_ids = await _associated(client, obj, request.object_id, "line_items")
    lines: list[SourceLine] = []
    if line_ids:
        result = await client.batch_read("line_items", line_ids, LINE_PROPERTIES)
        by_id = {r.id: r for r in result.records}
        lines = [_line(by_id[i]) for i in line_ids if i in by_id]
    contacts = await _associated(client, obj, request.object_id, "contacts")
    invoices: list[str] = []
    if obj == "commerce_payments":
        invoices = await _associated(client, obj, request.object_id, "invoices")
    return Enrolled(
        object_type=obj,
        object_id=request.object_id,
        properties=dict(record.properties),
        currency=record.get(CURRENCY_PROPERTY[obj]) or default_currency,
        lines=tuple(lines),
        contact_ids=tuple(contacts),
        invoice_ids=tuple(invoices),
    )


async def read_contact(client: HubSpotClient, contact_id: str) -> HubSpotRecord:
    return await client.get("contacts", contact_id, CONTACT_PROPERTIES)
