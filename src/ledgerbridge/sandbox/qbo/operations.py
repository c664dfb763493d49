"""Create, read, update (full and sparse), delete and void: the write path of every entity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledgerbridge.sandbox.qbo import faults
from ledgerbridge.sandbox.qbo.entities import (
    COMPUTED,
    LIST_ENTITIES,
    NAME_ENTITIES,
    READ_ONLY,
    SALES_TXNS,
    TXN_ENTITIES,
    VOIDABLE,
    Ctx,
    check_sync_token,
    clean,
    merge_for_update,
    normalize_account,
    normalize_item,
    normalize_name_entity,
    normalize_simple_list,
    public,
    recompute_customer_balance,
    ref_id,
)
from ledgerbridge.sandbox.qbo.payments import (
    linked_invoice_ids,
    normalize_payment,
    refresh_invoices,
)
from ledgerbridge.sandbox.qbo.state import Obj, deep_copy, preferences_body
from ledgerbridge.sandbox.qbo.transactions import (
    normalize_purchase,
    normalize_sales,
    voided_copy,
)


@dataclass(frozen=True)
class Event:
    """A change a webhook reports."""

    realm_id: str
    entity: str
    entity_id: str
    operation: str  # Create | Update | Delete | Void
    when: str


def _normalize(ctx: Ctx, entity: str, obj: Obj, old: Obj | None) -> Obj:
    if entity in NAME_ENTITIES:
        return normalize_name_entity(ctx, entity, obj, old)
    if entity == "Item":
        return normalize_item(ctx, obj, old)
    if entity == "Account":
        return normalize_account(ctx, obj, old)
    if entity in ("Term", "PaymentMethod"):
        return normalize_simple_list(ctx, entity, obj, old)
    if entity in SALES_TXNS:
        return normalize_sales(ctx, entity, obj, old)
    if entity == "Payment":
        return normalize_payment(ctx, obj, old)
    if entity == "Purchase":
        return normalize_purchase(ctx, obj, old)
    raise faults.unsupported_operation("Create", entity)


def _event(ctx: Ctx, entity: str, obj: Obj, operation: str) -> Event:
    return Event(
        ctx.realm.realm_id, entity, obj["Id"], operation, obj["MetaData"]["LastUpdatedTime"]
    )


def _after_write(ctx: Ctx, entity: str, old: Obj | None, new: Obj | None) -> None:
    """Keep the derived data (invoice balances, customer balances) in step."""
    if entity == "Payment":
        refresh_invoices(ctx, linked_invoice_ids(old) | linked_invoice_ids(new))
        for obj in (old, new):
            if obj:
                recompute_customer_balance(ctx, ref_id(obj.get("CustomerRef")))
    elif entity in ("Invoice", "CreditMemo"):
        for obj in (old, new):
            if obj:
                recompute_customer_balance(ctx, ref_id(obj.get("CustomerRef")))


def read(ctx: Ctx, entity: str, entity_id: str) -> Obj:
    obj = ctx.realm.get(entity, str(entity_id))
    if obj is None:
        raise faults.not_found(entity, str(entity_id))
    return public(obj)


def create(ctx: Ctx, entity: str, body: Obj) -> tuple[Obj, list[Event]]:
    if entity in READ_ONLY or entity == "Preferences":
        raise faults.unsupported_operation("Create", entity)
    obj = clean({k: v for k, v in body.items() if k not in COMPUTED})
    obj = _normalize(ctx, entity, obj, None)
    stored = ctx.realm.insert(entity, obj, ctx.now)
    _after_write(ctx, entity, None, stored)
    return public(stored), [_event(ctx, entity, stored, "Create")]


def update(ctx: Ctx, entity: str, body: Obj) -> tuple[Obj, list[Event]]:
    if entity == "Preferences":
        return update_preferences(ctx, body), []
    if entity in READ_ONLY:
        raise faults.unsupported_operation("Update", entity)
    entity_id = str(body.get("Id", ""))
    old = ctx.realm.get(entity, entity_id)
    if old is None:
        raise faults.not_found(entity, entity_id)
    check_sync_token(entity, body, old)
    sparse = body.get("sparse") in (True, "true")
    merged = merge_for_update(deep_copy(old), body, sparse)
    obj = _normalize(ctx, entity, merged, old)
    stored = ctx.realm.replace(entity, old, obj, ctx.now)
    _after_write(ctx, entity, old, stored)
    return public(stored), [_event(ctx, entity, stored, "Update")]


def delete(ctx: Ctx, entity: str, body: Obj) -> tuple[Obj, list[Event]]:
    if entity in LIST_ENTITIES or entity not in TXN_ENTITIES:
        raise faults.unsupported_operation("Delete", entity)
    entity_id = str(body.get("Id", ""))
    old = ctx.realm.get(entity, entity_id)
    if old is None:
        raise faults.not_found(entity, entity_id)
    check_sync_token(entity, body, old)
    if entity == "Invoice" and old.get("LinkedTxn"):
        raise faults.business_error(
            "This transaction is linked to other transactions (payments). "
            "Unlink them before you delete it.",
        )
    ctx.realm.remove(entity, entity_id, ctx.now)
    _after_write(ctx, entity, old, None)
    event = Event(
        ctx.realm.realm_id, entity, entity_id, "Delete", ctx.realm.deleted[entity][entity_id]
    )
    return {"Id": entity_id, "status": "Deleted", "domain": "QBO"}, [event]


def void(ctx: Ctx, entity: str, body: Obj) -> tuple[Obj, list[Event]]:
    if entity not in VOIDABLE:
        raise faults.unsupported_operation("Void", entity)
    entity_id = str(body.get("Id", ""))
    old = ctx.realm.get(entity, entity_id)
    if old is None:
        raise faults.not_found(entity, entity_id)
    check_sync_token(entity, body, old)
    if entity == "Invoice" and old.get("LinkedTxn"):
        raise faults.business_error(
            "This invoice has payments applied to it. Remove or void the payments before you "
            "void the invoice."
        )
    key = f"{entity}:{entity_id}"
    if key in ctx.realm.voided:
        raise faults.business_error("This transaction is already voided.")
    ctx.realm.voided.add(key)
    stored = ctx.realm.replace(entity, old, voided_copy(old), ctx.now)
    _after_write(ctx, entity, old, stored)
    return public(stored), [_event(ctx, entity, stored, "Void")]


def update_preferences(ctx: Ctx, body: Obj) -> Obj:
    """Sparse update of the company settings the sandbox models, through Preferences."""
    old = ctx.realm.get("Preferences", "1")
    assert old is not None
    check_sync_token("Preferences", body, old)
    settings = ctx.realm.settings
    sales: dict[str, Any] = body.get("SalesFormsPrefs") or {}
    currency: dict[str, Any] = body.get("CurrencyPrefs") or {}
    products: dict[str, Any] = body.get("ProductAndServicesPrefs") or {}
    if "CustomTxnNumbers" in sales:
        settings.custom_txn_numbers = bool(sales["CustomTxnNumbers"])
    if "MultiCurrencyEnabled" in currency:
        settings.multi_currency = bool(currency["MultiCurrencyEnabled"])
    if "RevenueRecognitionEnabled" in products:
        settings.revenue_recognition = bool(products["RevenueRecognitionEnabled"])
    return refresh_preferences(ctx, bump=True)


def refresh_preferences(ctx: Ctx, *, bump: bool) -> Obj:
    old = ctx.realm.get("Preferences", "1")
    assert old is not None
    new = preferences_body(ctx.realm.settings, old["SyncToken"], old["MetaData"])
    stored = ctx.realm.replace("Preferences", old, new, ctx.now) if bump else new
    ctx.realm.table("Preferences")["1"] = stored
    return public(stored)
