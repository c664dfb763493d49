"""Line items → QBO items (R-WF-2).

A line matches, in order: the item the product sync linked to its product; the one active
item with its SKU; the action's `product` input. An unmatched line creates an item when
"create the product in QBO if it doesn't exist" is yes (after every check passed);
otherwise the action fails naming the unmatched lines, and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledgerbridge.hubspot.actions import ExecutionRequest
from ledgerbridge.operations.workflow_actions.model import (
    ActionFailed,
    Enrolled,
    Lookups,
    Pending,
    SourceLine,
    yes,
)
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.workflow_docs import (
    find_account,
    find_item,
    find_item_by_name,
    find_items_by_sku,
)
from ledgerbridge.sync.errors import ErrorCategory

__all__ = ["ItemPlan", "plan_items"]


@dataclass(slots=True)
class ItemPlan:
    """Per line id: the QBO item id, or the create (step name) that will give it."""

    items: dict[str, str] = field(default_factory=dict)
    creates: dict[str, Pending] = field(default_factory=dict)


async def _match(qbo: QboClient, lookups: Lookups, line: SourceLine) -> str | None:
    if line.product_id:
        linked = await lookups.item_for_product(line.product_id)
        if linked is not None:
            return linked
    if line.sku:
        rows = await find_items_by_sku(qbo, line.sku)
        if len(rows) > 1:
            raise ActionFailed(
                ErrorCategory.AMBIGUOUS_MATCH,
                f"Several QuickBooks items have the SKU {line.sku} (line item {line.label}).",
            )
        if rows:
            return str(rows[0]["Id"])
    return None


async def _new_item(qbo: QboClient, line: SourceLine) -> Pending | str:
    """The create of an item for `line`, or the id of an item that already has its name."""
    existing = await find_item_by_name(qbo, line.name)
    if existing is not None and not existing.get("Sku"):
        return str(existing["Id"])
    income = await find_account(qbo, None, ("Income",))
    if income is None:
        raise ActionFailed(
            ErrorCategory.VALIDATION,
            "The QuickBooks company has no income account for new products.",
        )
    name = line.name if existing is None else f"{line.name} ({line.sku})"
    body: dict[str, object] = {
        "Name": name[:100],
        "Type": "Service",
        "UnitPrice": str(line.price),
        "IncomeAccountRef": {"value": str(income["Id"])},
    }
    if line.sku:
        body["Sku"] = line.sku
    if line.description:
        body["Description"] = line.description
    return Pending(f"item:{line.id}", "Item", body)


async def plan_items(
    qbo: QboClient, lookups: Lookups, request: ExecutionRequest, enrolled: Enrolled
) -> ItemPlan:
    """Match every line of `enrolled` (nothing is written here)."""
    if not enrolled.lines:
        raise ActionFailed(
            ErrorCategory.VALIDATION,
            f"No line items are associated with {enrolled.noun} {enrolled.object_id}; "
            "associate line items with it and re-enroll.",
        )
    plan = ItemPlan()
    fallback: str | None = None
    fallback_name = request.input("product")
    if fallback_name:
        found = await find_item(qbo, fallback_name)
        if found is None:
            raise ActionFailed(
                ErrorCategory.MISSING_PRODUCT,
                f"The action's product '{fallback_name}' is not a QuickBooks item.",
            )
        fallback = str(found["Id"])
    create = yes(request.input("create_product_if_missing", "false"))
    unmatched: list[SourceLine] = []
    for line in enrolled.lines:
        item = await _match(qbo, lookups, line)
        if item is None and not create:
            item = fallback
        if item is not None:
            plan.items[line.id] = item
        elif create:
            made = await _new_item(qbo, line)
            if isinstance(made, str):
                plan.items[line.id] = made
            else:
                plan.creates[line.id] = made
        else:
            unmatched.append(line)
    if unmatched:
        names = ", ".join(line.label for line in unmatched)
        raise ActionFailed(
            ErrorCategory.MISSING_PRODUCT,
            f"These line items match no QuickBooks item: {names}. Sync the products first, "
            "or set 'Create the product in QuickBooks if it doesn't exist' to yes; nothing "
            "was created.",
        )
    return plan
