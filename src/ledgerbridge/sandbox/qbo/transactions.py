"""Transactions: sales forms (lines, discounts, tax, totals, balances), payments, purchases."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.qbo import faults
from ledgerbridge.sandbox.qbo.entities import (
    Ctx,
    ref_id,
    resolve_ref,
)
from ledgerbridge.sandbox.qbo.state import Obj, currency_ref
from ledgerbridge.sandbox.qbo.util import dec, money

SALES_LINE_TYPES = frozenset(
    {
        "SalesItemLineDetail",
        "DiscountLineDetail",
        "SubTotalLineDetail",
        "DescriptionOnly",
        "GroupLineDetail",
    }
)
SERVICE_DATE_DETAIL = (
    "Service Date is required on every sales line when revenue recognition is turned on. "
    "Enter a ServiceDate for each line."
)


def find_account(ctx: Ctx, subtype: str) -> Obj | None:
    for acct in ctx.realm.table("Account").values():
        if acct.get("AccountSubType") == subtype and acct.get("Active", True):
            return acct
    return None


def account_ref(acct: Obj | None) -> Obj | None:
    return {"value": acct["Id"], "name": acct["Name"]} if acct else None


def parse_date(value: Any, element: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise faults.invalid_request(f"Invalid date: {value}", element) from exc


def _line_ids(old: Obj | None) -> set[str]:
    return {str(line.get("Id")) for line in (old or {}).get("Line", []) if line.get("Id")}


def _next_line_id(used: set[str]) -> str:
    n = 1
    while str(n) in used:
        n += 1
    used.add(str(n))
    return str(n)


def _sales_item_line(ctx: Ctx, line: Obj, non_us: bool) -> Decimal:
    detail = line.setdefault("SalesItemLineDetail", {})
    element = "Line.SalesItemLineDetail.ItemRef"
    if detail.get("ItemRef") is None:
        raise faults.required_missing(element)
    item = resolve_ref(ctx, detail, "ItemRef", "Item", element=element)
    assert item is not None
    qty = dec(detail.get("Qty"))
    price = dec(detail.get("UnitPrice"))
    amount_given = "Amount" in line
    if qty and price:
        computed = money(qty * price)
        if amount_given and money(line["Amount"]) != computed:
            raise faults.QboFault(
                "6070",
                "Amount is not equal to UnitPrice * Qty",
                f"Amount is not equal to UnitPrice * Qty. Supplied value:{money(line['Amount'])}",
                element="Line.Amount",
            )
        amount = computed
    elif amount_given:
        amount = money(line["Amount"])
        if qty:
            detail["UnitPrice"] = amount / qty
        elif not price:
            detail.pop("Qty", None)
            detail.pop("UnitPrice", None)
    elif qty:
        detail["UnitPrice"] = dec(item.get("UnitPrice"))
        amount = money(qty * detail["UnitPrice"])
    else:
        raise faults.required_missing("Line.Amount")
    line["Amount"] = amount
    if "IncomeAccountRef" in item:
        detail["ItemAccountRef"] = item["IncomeAccountRef"]
    if detail.get("ServiceDate"):
        parse_date(detail["ServiceDate"], "Line.SalesItemLineDetail.ServiceDate")
    elif ctx.realm.settings.revenue_recognition:
        raise faults.business_error(SERVICE_DATE_DETAIL, "Line.SalesItemLineDetail.ServiceDate")
    if detail.get("TaxCodeRef") is None:
        if non_us:
            raise faults.business_error(
                "Make sure all your transactions have a tax rate before you save. "
                "A TaxCodeRef is required on every line.",
                "Line.SalesItemLineDetail.TaxCodeRef",
            )
        detail["TaxCodeRef"] = {"value": "TAX" if item.get("Taxable") else "NON"}
    else:
        code_id = ref_id(detail["TaxCodeRef"]) or ""
        if ctx.realm.get("TaxCode", code_id) is None:
            raise faults.invalid_reference(
                "Line.SalesItemLineDetail.TaxCodeRef", "TaxCode", code_id
            )
        detail["TaxCodeRef"] = {"value": code_id}
    return amount


def compute_sales_lines(ctx: Ctx, obj: Obj, old: Obj | None) -> tuple[Decimal, Decimal, Decimal]:
    """Normalize the Line array; return (subtotal, discount, tax)."""
    lines = obj.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.required_missing("Line")
    non_us = ctx.realm.settings.country.upper() != "US"
    used = _line_ids(old)
    kept: list[Obj] = []
    discounts: list[Obj] = []
    subtotal = Decimal(0)
    tax = Decimal(0)
    for raw in lines:
        line = dict(raw)
        kind = line.get("DetailType")
        if kind not in SALES_LINE_TYPES:
            raise faults.invalid_request(f"Invalid line DetailType: {kind}", "Line.DetailType")
        if kind == "SubTotalLineDetail":
            continue  # recomputed below
        if kind == "DiscountLineDetail":
            discounts.append(line)
            continue
        if not line.get("Id") or str(line["Id"]) not in used:
            line["Id"] = _next_line_id(used)
        if kind == "SalesItemLineDetail":
            amount = _sales_item_line(ctx, line, non_us)
            subtotal += amount
            code = ctx.realm.get("TaxCode", ref_id(line["SalesItemLineDetail"]["TaxCodeRef"]) or "")
            if code is not None:
                tax += money(amount * dec(code.get("RateValue")) / 100)
        elif kind == "GroupLineDetail":
            amount = money(line.get("Amount", 0))
            line["Amount"] = amount
            subtotal += amount
        else:
            line.pop("Amount", None)
            line.setdefault("DescriptionLineDetail", {})
        kept.append(line)
    for num, line in enumerate(kept, start=1):
        line["LineNum"] = num
    out = [
        *kept,
        {"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
    ]
    discount_total = Decimal(0)
    for line in discounts:
        detail = line.setdefault("DiscountLineDetail", {})
        if detail.get("PercentBased"):
            pct = dec(detail.get("DiscountPercent"))
            line["Amount"] = money(subtotal * pct / 100)
        elif "Amount" in line:
            line["Amount"] = money(line["Amount"])
            detail["PercentBased"] = False
        else:
            raise faults.required_missing("Line.Amount")
        if detail.get("DiscountAccountRef") is None:
            acct = find_account(ctx, "DiscountsRefundsGiven")
            if acct:
                detail["DiscountAccountRef"] = account_ref(acct)
        else:
            resolve_ref(ctx, detail, "DiscountAccountRef", "Account")
        if not line.get("Id") or str(line["Id"]) not in used:
            line["Id"] = _next_line_id(used)
        discount_total += line["Amount"]
        out.append(line)
    if discount_total > subtotal:
        raise faults.business_error("The discount is larger than the subtotal.", "Line.Amount")
    given_tax = (obj.get("TxnTaxDetail") or {}).get("TotalTax")
    if not non_us:
        tax = money(given_tax or 0)
    elif discount_total and subtotal:
        tax = money(tax * (subtotal - discount_total) / subtotal)
    obj["Line"] = out
    return subtotal, discount_total, tax


def _doc_number(ctx: Ctx, entity: str, obj: Obj, old: Obj | None) -> None:
    settings = ctx.realm.settings
    table = ctx.realm.table(entity)
    given = obj.get("DocNumber")
    if given:
        obj["DocNumber"] = str(given)
        if len(obj["DocNumber"]) > 21:
            raise faults.invalid_request("DocNumber is longer than 21 characters.", "DocNumber")
        if settings.custom_txn_numbers and "allowduplicatedocnum" not in ctx.include:
            for other_id, other in table.items():
                if other.get("DocNumber") == obj["DocNumber"] and (
                    old is None or other_id != old["Id"]
                ):
                    raise faults.duplicate_doc_number(obj["DocNumber"], entity, other_id)
        return
    if settings.custom_txn_numbers:
        return  # no number unless one is given
    if old is not None and old.get("DocNumber"):
        obj["DocNumber"] = old["DocNumber"]
        return
    obj["DocNumber"] = str(ctx.realm.indexes.highest_number(table, entity, 1000) + 1)


def set_currency(ctx: Ctx, obj: Obj, customer: Obj | None) -> Decimal:
    settings = ctx.realm.settings
    default = ref_id((customer or {}).get("CurrencyRef")) or settings.home_currency
    code = ref_id(obj.get("CurrencyRef")) or default
    if code != settings.home_currency and not settings.multi_currency:
        raise faults.business_error(
            f"Multicurrency is not enabled for this company; currency {code} is not allowed.",
            "CurrencyRef",
        )
    obj["CurrencyRef"] = currency_ref(code)
    if code == settings.home_currency:
        obj.pop("ExchangeRate", None)
        return Decimal(1)
    rate = dec(obj.get("ExchangeRate")) or Decimal(1)
    obj["ExchangeRate"] = rate
    return rate


def normalize_sales(ctx: Ctx, entity: str, obj: Obj, old: Obj | None) -> Obj:
    if obj.get("CustomerRef") is None:
        raise faults.required_missing("CustomerRef")
    customer = resolve_ref(ctx, obj, "CustomerRef", "Customer")
    assert customer is not None
    txn_date = parse_date(obj.get("TxnDate") or ctx.now.date().isoformat(), "TxnDate")
    obj["TxnDate"] = txn_date.isoformat()
    _doc_number(ctx, entity, obj, old)
    rate = set_currency(ctx, obj, customer)
    for key in ("BillAddr", "ShipAddr"):
        if key not in obj and key in customer:
            obj[key] = dict(customer[key])
    if "BillEmail" not in obj and "PrimaryEmailAddr" in customer:
        obj["BillEmail"] = {"Address": customer["PrimaryEmailAddr"].get("Address", "")}
    if (
        "SalesTermRef" not in obj
        and entity in ("Invoice", "Estimate")
        and "SalesTermRef" in customer
    ):
        obj["SalesTermRef"] = dict(customer["SalesTermRef"])
    term = resolve_ref(ctx, obj, "SalesTermRef", "Term")
    if entity == "Invoice":
        if obj.get("DueDate"):
            obj["DueDate"] = parse_date(obj["DueDate"], "DueDate").isoformat()
        else:
            days = int(term.get("DueDays", 0)) if term else 0
            obj["DueDate"] = (txn_date + timedelta(days=days)).isoformat()
    resolve_ref(ctx, obj, "PaymentMethodRef", "PaymentMethod")
    resolve_ref(ctx, obj, "ARAccountRef", "Account")
    if entity in ("SalesReceipt", "RefundReceipt"):
        if obj.get("DepositToAccountRef") is None:
            if entity == "RefundReceipt":
                raise faults.required_missing("DepositToAccountRef")
            obj["DepositToAccountRef"] = account_ref(find_account(ctx, "UndepositedFunds"))
        resolve_ref(ctx, obj, "DepositToAccountRef", "Account")
    subtotal, discount, tax = compute_sales_lines(ctx, obj, old)
    total = subtotal - discount + tax
    obj["TxnTaxDetail"] = {**(obj.get("TxnTaxDetail") or {}), "TotalTax": tax}
    obj["TotalAmt"] = total
    obj.setdefault("PrintStatus", "NotSet")
    obj.setdefault("EmailStatus", "NotSet")
    obj.setdefault("ApplyTaxAfterDiscount", False)
    if ctx.realm.settings.country.upper() != "US":
        obj.setdefault("GlobalTaxCalculation", "TaxExcluded")
    if entity == "Invoice":
        deposit = money(obj.get("Deposit", 0))
        if deposit > total:
            raise faults.business_error("The deposit is larger than the total.", "Deposit")
        obj["Deposit"] = deposit
        obj["LinkedTxn"] = list((old or {}).get("LinkedTxn", []))
        obj["Balance"] = total - deposit - applied_to_invoice(ctx, (old or {}).get("Id"))
        if obj["Balance"] < 0:
            raise faults.business_error(
                "The invoice total is less than the payments applied to it.", "Line.Amount"
            )
    elif entity == "Estimate":
        obj.setdefault("TxnStatus", "Pending")
    elif entity == "CreditMemo":
        obj["RemainingCredit"] = total
        obj["Balance"] = total
    else:
        obj["Balance"] = Decimal(0)
    if rate != 1 or ctx.realm.settings.multi_currency:
        obj["HomeTotalAmt"] = money(total * rate)
        if "Balance" in obj:
            obj["HomeBalance"] = money(obj["Balance"] * rate)
    return obj


# ---- payments -----------------------------------------------------------------------------


def links_of(payment: Obj) -> list[tuple[str, Decimal]]:
    out = []
    for line in payment.get("Line", []):
        for link in line.get("LinkedTxn", []):
            if link.get("TxnType") == "Invoice":
                out.append((str(link.get("TxnId")), money(line.get("Amount", 0))))
    return out


def applied_to_invoice(ctx: Ctx, invoice_id: str | None, skip_payment: str = "") -> Decimal:
    if not invoice_id:
        return Decimal(0)
    total = Decimal(0)
    for pid, payment in ctx.realm.table("Payment").items():
        if pid == skip_payment:
            continue
        for txn_id, amount in links_of(payment):
            if txn_id == invoice_id:
                total += amount
    return total


def normalize_purchase(ctx: Ctx, obj: Obj, old: Obj | None) -> Obj:
    if obj.get("AccountRef") is None:
        raise faults.required_missing("AccountRef")
    account = resolve_ref(ctx, obj, "AccountRef", "Account")
    assert account is not None
    payment_type = obj.get("PaymentType")
    if payment_type not in ("Cash", "Check", "CreditCard"):
        raise faults.required_missing("PaymentType")
    wanted = "Credit Card" if payment_type == "CreditCard" else "Bank"
    if account.get("AccountType") != wanted:
        raise faults.business_error(
            f"A {payment_type} purchase must be paid from a {wanted} account.", "AccountRef"
        )
    obj["TxnDate"] = parse_date(obj.get("TxnDate") or ctx.now.date().isoformat(), "TxnDate")
    obj["TxnDate"] = obj["TxnDate"].isoformat()
    entity_ref = obj.get("EntityRef")
    if entity_ref is not None:
        rid = ref_id(entity_ref) or ""
        kinds = [e for e in ("Vendor", "Customer", "Employee") if ctx.realm.get(e, rid)]
        wanted_kind = entity_ref.get("type") if isinstance(entity_ref, dict) else None
        kind = wanted_kind if wanted_kind in kinds else (kinds[0] if kinds else None)
        if kind is None:
            raise faults.invalid_reference("EntityRef", "Vendor", rid)
        resolve_ref(ctx, obj, "EntityRef", kind)
        obj["EntityRef"]["type"] = kind
    set_currency(ctx, obj, None)
    lines = obj.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.required_missing("Line")
    total = Decimal(0)
    used = _line_ids(old)
    out = []
    for raw in lines:
        line = dict(raw)
        kind = line.get("DetailType")
        if kind == "AccountBasedExpenseLineDetail":
            detail = line.setdefault(kind, {})
            if detail.get("AccountRef") is None:
                raise faults.required_missing("Line.AccountBasedExpenseLineDetail.AccountRef")
            resolve_ref(
                ctx,
                detail,
                "AccountRef",
                "Account",
                element="Line.AccountBasedExpenseLineDetail.AccountRef",
            )
            resolve_ref(ctx, detail, "CustomerRef", "Customer")
            detail.setdefault("BillableStatus", "NotBillable")
        elif kind == "ItemBasedExpenseLineDetail":
            detail = line.setdefault(kind, {})
            resolve_ref(
                ctx, detail, "ItemRef", "Item", element="Line.ItemBasedExpenseLineDetail.ItemRef"
            )
        else:
            raise faults.invalid_request(f"Invalid line DetailType: {kind}", "Line.DetailType")
        if "Amount" not in line:
            raise faults.required_missing("Line.Amount")
        line["Amount"] = money(line["Amount"])
        if not line.get("Id") or str(line["Id"]) not in used:
            line["Id"] = _next_line_id(used)
        total += line["Amount"]
        out.append(line)
    obj["Line"] = out
    obj["TotalAmt"] = total
    obj.setdefault("Credit", False)
    return obj


def voided_copy(obj: Obj) -> Obj:
    """A voided transaction: lines kept, every amount zero, 'Voided' prepended to PrivateNote."""
    out = dict(obj)
    lines = []
    for raw in obj.get("Line", []):
        line = dict(raw)
        if "Amount" in line:
            line["Amount"] = Decimal(0)
        lines.append(line)
    out["Line"] = lines
    for key in (
        "TotalAmt",
        "Balance",
        "HomeTotalAmt",
        "HomeBalance",
        "UnappliedAmt",
        "RemainingCredit",
        "Deposit",
    ):
        if key in out:
            out[key] = Decimal(0)
    if "TxnTaxDetail" in out:
        out["TxnTaxDetail"] = {**out["TxnTaxDetail"], "TotalTax": Decimal(0)}
    note = str(obj.get("PrivateNote", ""))
    out["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    return out
