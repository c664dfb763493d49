"""Entity registry, input cleaning, references and the rules of the name-list entities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.qbo import faults
from ledgerbridge.sandbox.qbo.state import (
    ACCOUNT_CLASSIFICATION,
    Obj,
    RealmState,
    currency_ref,
)
from ledgerbridge.sandbox.qbo.util import money

NAME_ENTITIES = ("Customer", "Vendor", "Employee")  # DisplayName is unique across these
LIST_ENTITIES = frozenset(
    {*NAME_ENTITIES, "Item", "Account", "Term", "PaymentMethod", "TaxCode"}
)  # have Active; no delete
SALES_TXNS = frozenset({"Invoice", "Estimate", "SalesReceipt", "RefundReceipt", "CreditMemo"})
TXN_ENTITIES = frozenset({*SALES_TXNS, "Payment", "Purchase"})
READ_ONLY = frozenset({"TaxCode", "CompanyInfo"})
ENTITIES = frozenset({*LIST_ENTITIES, *TXN_ENTITIES, "CompanyInfo", "Preferences"})
PATH_TO_ENTITY = {name.lower(): name for name in ENTITIES}
VOIDABLE = frozenset({"Invoice", "SalesReceipt", "Payment", "RefundReceipt", "CreditMemo"})
PDF_ENTITIES = frozenset(
    {"Invoice", "Estimate", "SalesReceipt", "CreditMemo", "RefundReceipt", "Payment"}
)

# Fields the server computes: whatever the client sends for them is ignored.
COMPUTED = frozenset(
    {
        "Id",
        "SyncToken",
        "MetaData",
        "domain",
        "sparse",
        "time",
        "status",
        "Balance",
        "HomeBalance",
        "BalanceWithJobs",
        "FullyQualifiedName",
        "Level",
        "UnappliedAmt",
        "RemainingCredit",
        "CurrentBalance",
        "CurrentBalanceWithSubAccounts",
        "HomeTotalAmt",
    }
)
HIDDEN = ("RateValue",)
DELETED_SUFFIX = " (deleted)"


@dataclass
class Ctx:
    """One operation on one realm: the realm, the time, and the request options."""

    realm: RealmState
    now: datetime
    include: set[str] = field(default_factory=set)


def clean(value: Any) -> Any:
    """Drop null and empty-string values (and objects left empty) recursively."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            cleaned = clean(item)
            if cleaned is None or cleaned == "" or cleaned == {}:
                continue
            out[key] = cleaned
        return out
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def public(obj: Obj) -> Obj:
    """The object as the API shows it."""
    return {k: v for k, v in obj.items() if k not in HIDDEN}


def ref_id(value: Any) -> str | None:
    if isinstance(value, dict):
        raw = value.get("value")
        return None if raw is None or raw == "" else str(raw)
    return None


def resolve_ref(
    ctx: Ctx, body: Obj, key: str, entity: str, *, element: str | None = None, name_key: str = ""
) -> Obj | None:
    """Check the reference `body[key]` to an `entity`; fill its name. None when absent."""
    rid = ref_id(body.get(key))
    if rid is None:
        body.pop(key, None)
        return None
    target = ctx.realm.get(entity, rid)
    where = element or key
    if target is None:
        raise faults.invalid_reference(where, entity, rid)
    if target.get("Active") is False:
        raise faults.QboFault(
            "610",
            "Object Not Found",
            f"Object Not Found : Something you're trying to use has been made inactive. "
            f"Check the fields with accounts, customers, items, vendors or employees. "
            f"({entity} Id={rid})",
            element=where,
        )
    label = target.get(name_key) if name_key else display_label(entity, target)
    body[key] = {"value": rid, "name": label} if label else {"value": rid}
    return target


def display_label(entity: str, obj: Obj) -> str:
    if entity in NAME_ENTITIES:
        return str(obj.get("DisplayName", ""))
    if entity == "Item" or entity == "Account":
        return str(obj.get("FullyQualifiedName") or obj.get("Name", ""))
    return str(obj.get("Name") or obj.get("DocNumber") or "")


def check_sync_token(entity: str, body: Obj, old: Obj) -> None:
    token = body.get("SyncToken")
    if token is None or token == "":
        raise faults.required_missing("SyncToken")
    if str(token) != str(old["SyncToken"]):
        raise faults.stale_object(entity)


def merge_for_update(old: Obj, body: Obj, sparse: bool) -> Obj:
    """The writable fields after an update: sparse keeps omitted fields; full drops them."""
    incoming = {k: v for k, v in body.items() if k not in COMPUTED}
    if not sparse:
        return clean(incoming)  # type: ignore[no-any-return]
    base = {k: v for k, v in old.items() if k not in COMPUTED}
    base.update(incoming)
    return clean(base)  # type: ignore[no-any-return]


# ---- name-list entities -------------------------------------------------------------------


def _name_clash(ctx: Ctx, entities: tuple[str, ...], key: str, name: str, self_id: str) -> bool:
    wanted = name.strip().casefold()
    for entity in entities:
        table = ctx.realm.table(entity)
        for other_id in ctx.realm.indexes.named(table, entity, key, name):
            other = table.get(other_id)
            if (entity == entities[0] and other_id == self_id) or other is None:
                continue
            if str(other.get(key, "")).strip().casefold() == wanted:
                return True
    return False


def _apply_active_suffix(obj: Obj, key: str, old: Obj | None) -> None:
    """QBO renames deactivated names 'X (deleted)' and frees the name."""
    name = str(obj.get(key, ""))
    if obj.get("Active") is False and not name.endswith(DELETED_SUFFIX):
        if old is None or old.get("Active") is not False:
            obj[key] = name + DELETED_SUFFIX
    elif obj.get("Active", True) and name.endswith(DELETED_SUFFIX):
        obj[key] = name[: -len(DELETED_SUFFIX)]


def normalize_name_entity(ctx: Ctx, entity: str, obj: Obj, old: Obj | None) -> Obj:
    if not obj.get("DisplayName"):
        parts = [obj.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
        derived = " ".join(str(p) for p in parts if p) or obj.get("CompanyName")
        if not derived:
            raise faults.required_missing("DisplayName")
        obj["DisplayName"] = derived
    display = str(obj["DisplayName"])
    if ":" in display:
        raise faults.invalid_request("DisplayName can not contain a colon (:).", "DisplayName")
    obj.setdefault("Active", True)
    _apply_active_suffix(obj, "DisplayName", old)
    self_id = old["Id"] if old else ""
    if _name_clash(
        ctx,
        (entity, *[e for e in NAME_ENTITIES if e != entity]),
        "DisplayName",
        str(obj["DisplayName"]),
        self_id,
    ):
        raise faults.duplicate_name(str(obj["DisplayName"]))
    obj["FullyQualifiedName"] = obj["DisplayName"]
    obj.setdefault("PrintOnCheckName", obj["DisplayName"])
    if entity == "Customer":
        parent = resolve_ref(ctx, obj, "ParentRef", "Customer")
        obj["Job"] = parent is not None
        obj.setdefault("BillWithParent", False)
        if parent is not None:
            obj["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{obj['DisplayName']}"
        resolve_ref(ctx, obj, "SalesTermRef", "Term")
        resolve_ref(ctx, obj, "PaymentMethodRef", "PaymentMethod")
        obj.setdefault("Taxable", ctx.realm.settings.country.upper() == "US")
        obj["Balance"] = old.get("Balance", Decimal(0)) if old else Decimal(0)
        obj["BalanceWithJobs"] = obj["Balance"]
        obj["PreferredDeliveryMethod"] = obj.get("PreferredDeliveryMethod", "Print")
    if entity in ("Customer", "Vendor"):
        obj.setdefault("CurrencyRef", currency_ref(ctx.realm.settings.home_currency))
        _check_currency(ctx, obj)
    return obj


def _check_currency(ctx: Ctx, obj: Obj) -> None:
    code = ref_id(obj.get("CurrencyRef")) or ctx.realm.settings.home_currency
    if code != ctx.realm.settings.home_currency and not ctx.realm.settings.multi_currency:
        raise faults.business_error(
            f"Multicurrency is not enabled for this company; currency {code} is not allowed.",
            "CurrencyRef",
        )
    obj["CurrencyRef"] = currency_ref(code)


def normalize_item(ctx: Ctx, obj: Obj, old: Obj | None) -> Obj:
    if not obj.get("Name"):
        raise faults.required_missing("Name")
    if ":" in str(obj["Name"]):
        raise faults.invalid_request("Name can not contain a colon (:).", "Name")
    obj.setdefault("Active", True)
    _apply_active_suffix(obj, "Name", old)
    if _name_clash(ctx, ("Item",), "Name", str(obj["Name"]), old["Id"] if old else ""):
        raise faults.duplicate_name(str(obj["Name"]))
    item_type = obj.setdefault("Type", "Service")
    if item_type not in ("Service", "NonInventory", "Inventory", "Category", "Group"):
        raise faults.invalid_request(f"Invalid Item Type: {item_type}", "Type")
    if (
        item_type in ("Service", "NonInventory", "Inventory")
        and resolve_ref(ctx, obj, "IncomeAccountRef", "Account") is None
    ):
        raise faults.required_missing("IncomeAccountRef")
    resolve_ref(ctx, obj, "ExpenseAccountRef", "Account")
    resolve_ref(ctx, obj, "AssetAccountRef", "Account")
    if item_type == "Inventory":
        for key in ("AssetAccountRef", "ExpenseAccountRef", "QtyOnHand", "InvStartDate"):
            if key not in obj:
                raise faults.required_missing(key)
        obj["TrackQtyOnHand"] = True
    else:
        obj["TrackQtyOnHand"] = False
        obj.pop("QtyOnHand", None)
    obj["UnitPrice"] = money(obj.get("UnitPrice", 0))
    obj.setdefault("Taxable", False)
    obj.setdefault("SubItem", False)
    obj["FullyQualifiedName"] = obj["Name"]
    return obj


def normalize_account(ctx: Ctx, obj: Obj, old: Obj | None) -> Obj:
    if not obj.get("Name"):
        raise faults.required_missing("Name")
    acct_type = obj.get("AccountType")
    if not acct_type:
        raise faults.required_missing("AccountType")
    if acct_type not in ACCOUNT_CLASSIFICATION:
        raise faults.invalid_request(f"Invalid AccountType: {acct_type}", "AccountType")
    if _name_clash(ctx, ("Account",), "Name", str(obj["Name"]), old["Id"] if old else ""):
        raise faults.duplicate_name(str(obj["Name"]))
    obj.setdefault("Active", True)
    obj.setdefault("SubAccount", False)
    obj["Classification"] = ACCOUNT_CLASSIFICATION[acct_type]
    obj["FullyQualifiedName"] = obj["Name"]
    balance = old.get("CurrentBalance", Decimal(0)) if old else Decimal(0)
    obj["CurrentBalance"] = balance
    obj["CurrentBalanceWithSubAccounts"] = balance
    obj.setdefault("CurrencyRef", currency_ref(ctx.realm.settings.home_currency))
    return obj


def normalize_simple_list(ctx: Ctx, entity: str, obj: Obj, old: Obj | None) -> Obj:
    """Term and PaymentMethod."""
    if not obj.get("Name"):
        raise faults.required_missing("Name")
    if _name_clash(ctx, (entity,), "Name", str(obj["Name"]), old["Id"] if old else ""):
        raise faults.duplicate_name(str(obj["Name"]))
    obj.setdefault("Active", True)
    if entity == "Term":
        obj.setdefault("Type", "STANDARD")
        obj.setdefault("DueDays", 0)
    else:
        obj.setdefault("Type", "NON_CREDIT_CARD")
    return obj


def recompute_customer_balance(ctx: Ctx, customer_id: str | None) -> None:
    """Customer.Balance: open invoice balances less unapplied payments and credit."""
    if not customer_id:
        return
    customer = ctx.realm.get("Customer", customer_id)
    if customer is None:
        return
    total = Decimal(0)
    for entity, amount, sign in (
        ("Invoice", "Balance", 1),
        ("Payment", "UnappliedAmt", -1),
        ("CreditMemo", "RemainingCredit", -1),
    ):
        table = ctx.realm.table(entity)
        for obj_id in ctx.realm.indexes.customer_ids(table, entity, customer_id):
            obj = table.get(obj_id)
            if obj is not None and ref_id(obj.get("CustomerRef")) == customer_id:
                total += sign * money(obj.get(amount, 0))
    customer["Balance"] = total
    customer["BalanceWithJobs"] = total
