"""QBO reads and writes of the workflow actions (R-WF): look-ups by name, SKU and the legacy
customer key, and document creates whose `requestid` comes from HubSpot's callbackId.

Idempotency: every write of one execution uses `workflow_request_id(callback_id, step)`
(`step` names the write: "document", "payment", "customer", "item:<sku>"), so a
re-delivered execution or a retried request gets QBO's original answer back
(API-NOTES C3) instead of a second document.
"""

from __future__ import annotations

from typing import Any

from ledgerbridge.qbo.changes import ql_string
from ledgerbridge.qbo.client import PRODUCTION_URL, SANDBOX_URL, QboClient
from ledgerbridge.qbo.ids import request_id_for

__all__ = [
    "create_for_callback",
    "document_url",
    "find_account",
    "find_customers_by_name",
    "find_item",
    "find_item_by_name",
    "find_items_by_sku",
    "find_term",
    "workflow_request_id",
]

Obj = dict[str, Any]

APP_PATHS = {
    "Invoice": "invoice",
    "Estimate": "estimate",
    "SalesReceipt": "salesreceipt",
    "Purchase": "expense",
    "RefundReceipt": "refundreceipt",
    "Payment": "recvpayment",
}


def workflow_request_id(callback_id: str, step: str) -> str:
    """The QBO requestid of one write (`step`) of the execution `callback_id`."""
    return request_id_for("workflow-action", callback_id, step)


def document_url(base_url: str, entity: str, entity_id: str) -> str:
    """A link that opens the document in QuickBooks (the app host of the API's host)."""
    base = base_url.rstrip("/")
    if base == PRODUCTION_URL:
        app = "https://app.qbo.intuit.com"
    elif base == SANDBOX_URL:
        app = "https://app.sandbox.qbo.intuit.com"
    else:  # a local sandbox: the same host
        app = base
    return f"{app}/app/{APP_PATHS.get(entity, entity.lower())}?txnId={entity_id}"


async def create_for_callback(
    client: QboClient, entity: str, body: Obj, *, callback_id: str, step: str
) -> Obj:
    """Create `entity` as the write `step` of execution `callback_id` (idempotent)."""
    return await client.create(entity, body, request_id=workflow_request_id(callback_id, step))


async def find_items_by_sku(client: QboClient, sku: str) -> list[Obj]:
    return await client.query_all(
        f"SELECT * FROM Item WHERE Sku = {ql_string(sku)} AND Active = true", page_size=10
    )


async def find_item_by_name(client: QboClient, name: str) -> Obj | None:
    """The active item named `name` (QBO item names are unique)."""
    rows = await client.query_all(
        f"SELECT * FROM Item WHERE Name = {ql_string(name)} AND Active = true", page_size=10
    )
    return rows[0] if rows else None


async def find_item(client: QboClient, name_or_id: str) -> Obj | None:
    """An active item by id or by name."""
    if name_or_id.isdigit():
        rows = await client.query_all(
            f"SELECT * FROM Item WHERE Id = {ql_string(name_or_id)} AND Active = true",
            page_size=10,
        )
        if rows:
            return rows[0]
    return await find_item_by_name(client, name_or_id)


async def find_account(
    client: QboClient, name_or_id: str | None, account_types: tuple[str, ...]
) -> Obj | None:
    """An active account by id or name, of one of `account_types`; without a name the first
    such account (ordered by id)."""
    kinds = ", ".join(ql_string(t) for t in account_types)
    rows = await client.query_all(
        f"SELECT * FROM Account WHERE AccountType IN ({kinds}) AND Active = true", page_size=1000
    )
    rows.sort(key=lambda r: int(r["Id"]) if str(r.get("Id", "")).isdigit() else 0)
    if not name_or_id:
        return rows[0] if rows else None
    wanted = name_or_id.casefold()
    for row in rows:
        if str(row.get("Id")) == name_or_id or str(row.get("Name", "")).casefold() == wanted:
            return row
    return None


async def find_term(client: QboClient, name: str) -> Obj | None:
    rows = await client.query_all(
        f"SELECT * FROM Term WHERE Name = {ql_string(name)}", page_size=10
    )
    return rows[0] if rows else None


async def find_customers_by_name(client: QboClient, given: str, family: str) -> list[Obj]:
    """Active customers with this first and last name (the legacy key adds the email)."""
    return await client.query_all(
        f"SELECT * FROM Customer WHERE GivenName = {ql_string(given)} "
        f"AND FamilyName = {ql_string(family)} AND Active = true",
        page_size=100,
    )
