"""The done check: every invoice read back on both sides, with its party, its lines'
products, quantities and prices, and its status, not only the counts.

`hubspot_digest` / `qbo_digest` run inside the sandbox processes (`/_bench/digest`, no
rate-limited request) and describe each record in the same words on both sides:

* an invoice: `email|status|sku×qty@price;…` (lines sorted), where the email is that of
  the contact associated to the invoice (HubSpot, association type 177) or of the
  invoice's `CustomerRef` (QBO); each line is an associated line item (409) whose
  `hs_product_id` names a product with that `hs_sku` (HubSpot) or a line whose `ItemRef`
  names an item with that `Sku` (QBO); status `open` (HubSpot `hs_invoice_status`; QBO:
  a balance left) or what it is. A missing association or link reads as `?`.
* the parties (emails) and the catalog (SKUs).

`compare` (in the bench process) says what is missing or extra, as multisets."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

from bench.seeding import _realm

UNKNOWN = "?"


def _num(value: Any) -> str:
    try:
        number = Decimal(str(value)).normalize()
    except (InvalidOperation, ValueError):
        return UNKNOWN
    return format(number, "f")


def _describe(email: str, status: str, lines: list[tuple[str, Any, Any]]) -> str:
    parts = sorted(f"{sku}x{_num(qty)}@{_num(price)}" for sku, qty, price in lines)
    return f"{email.lower()}|{status}|{';'.join(parts)}"


def hubspot_digest(sandbox: Any) -> dict[str, list[str]]:
    state = sandbox.state
    contacts = {r.id: r.properties.get("email") or UNKNOWN for r in state.live("contacts")}
    products = {r.id: r.properties.get("hs_sku") or UNKNOWN for r in state.live("products")}
    lines = {r.id: r for r in state.live("line_items")}
    invoices = []
    for invoice in state.live("invoices"):
        people = [
            contacts[c]
            for c, kinds in state.associated("invoices", invoice.id, "contacts").items()
            if 177 in kinds and c in contacts
        ]
        email = people[0] if len(people) == 1 else UNKNOWN
        described = []
        for line_id, kinds in state.associated("invoices", invoice.id, "line_items").items():
            line = lines.get(line_id)
            if 409 not in kinds or line is None:
                continue
            sku = products.get(line.properties.get("hs_product_id") or "", UNKNOWN)
            described.append((sku, line.properties.get("quantity"), line.properties.get("price")))
        status = invoice.properties.get("hs_invoice_status") or UNKNOWN
        invoices.append(_describe(email, status, described))
    return {
        "invoices": invoices,
        "parties": [str(e).lower() for e in contacts.values()],
        "catalog": list(products.values()),
    }


def qbo_digest(sandbox: Any) -> dict[str, list[str]]:
    realm = _realm(sandbox)
    customers = {
        cid: (c.get("PrimaryEmailAddr") or {}).get("Address") or UNKNOWN
        for cid, c in realm.table("Customer").items()
        if c.get("Active", True)
    }
    items = {iid: i.get("Sku") or UNKNOWN for iid, i in realm.table("Item").items()}
    invoices = []
    for invoice in realm.table("Invoice").values():
        email = customers.get(str((invoice.get("CustomerRef") or {}).get("value")), UNKNOWN)
        described = []
        for line in invoice.get("Line") or []:
            detail = line.get("SalesItemLineDetail")
            if line.get("DetailType") != "SalesItemLineDetail" or not detail:
                continue
            sku = items.get(str((detail.get("ItemRef") or {}).get("value")), UNKNOWN)
            described.append((sku, detail.get("Qty"), detail.get("UnitPrice")))
        balance = Decimal(str(invoice.get("Balance", "0")))
        status = "open" if balance > 0 else "paid"
        invoices.append(_describe(email, status, described))
    return {
        "invoices": invoices,
        "parties": [str(e).lower() for e in customers.values()],
        "catalog": [s for s in items.values() if s != UNKNOWN],
    }


def compare(source: dict[str, list[str]], target: dict[str, list[str]]) -> list[str]:
    """What the target lacks or has in excess of the source, per kind (empty: all there).
    Parties and catalog: the target must hold every source value (it may hold more, e.g.
    the products a scenario seeds on both sides); invoices: exactly the same multiset."""
    problems = []
    for kind in ("parties", "catalog", "invoices"):
        want, got = Counter(source[kind]), Counter(target[kind])
        missing = want - got
        extra = got - want if kind == "invoices" else Counter()
        if missing or extra:
            problems.append(
                f"{kind}: {sum(missing.values())} missing (e.g. {sorted(missing)[:2]}), "
                f"{sum(extra.values())} unexpected (e.g. {sorted(extra)[:2]})"
            )
    return problems
