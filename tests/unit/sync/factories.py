"""Builders of side records for the sync planner tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import (
    Invoice,
    InvoiceStatus,
    Line,
    Money,
    Party,
    Product,
    RecordRef,
    System,
)
from ledgerbridge.sync.model import Link, PlanContext, RefIndex, SideRecord, snapshot_hash
from ledgerbridge.sync.rules import ObjectPair, SyncRule

H, Q = System.HUBSPOT, System.QUICKBOOKS
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(days=1)


def ctx(**kwargs: Any) -> PlanContext:
    return PlanContext(sync_started_at=T0, **kwargs)


def contact(
    id_: str,
    email: str | None,
    first: str | None = None,
    last: str | None = None,
    company: str | None = None,
    *,
    version: str = "1",
    raw: dict[str, Any] | None = None,
    deleted: bool = False,
) -> SideRecord:
    ref = RecordRef(H, id_)
    party = Party(
        given_name=first,
        family_name=last,
        company_name=company,
        emails=(email,) if email else (),
        ref=ref,
    )
    return SideRecord(ref, version, LATER, party, raw or {}, deleted)


def customer(
    id_: str,
    email: str | None,
    first: str | None = None,
    last: str | None = None,
    company: str | None = None,
    *,
    display_name: str | None = None,
    version: str = "0",
    raw: dict[str, Any] | None = None,
) -> SideRecord:
    ref = RecordRef(Q, id_)
    party = Party(
        given_name=first,
        family_name=last,
        company_name=company,
        display_name=display_name,
        emails=(email,) if email else (),
        ref=ref,
    )
    return SideRecord(ref, version, LATER, party, raw or {})


def product(
    id_: str,
    sku: str | None,
    name: str = "Widget",
    price: str | None = "10.00",
    *,
    system: System = H,
    version: str = "1",
    raw: dict[str, Any] | None = None,
) -> SideRecord:
    ref = RecordRef(system, id_)
    item = Product(
        name=name,
        sku=sku,
        unit_price=Money.of(price, "USD") if price is not None else None,
        ref=ref,
    )
    if raw is None:
        raw = {"hs_sku": sku or ""} if system is H else ({"Sku": sku} if sku else {})
    return SideRecord(ref, version, LATER, item, raw)


def item(
    id_: str, sku: str | None, name: str = "Widget", price: str | None = "10.00"
) -> SideRecord:
    return product(id_, sku, name, price, system=Q, version="0")


def invoice(
    system: System,
    id_: str,
    *,
    customer_id: str | None,
    lines: Sequence[tuple[str | None, str, str]] = ((None, "1", "100.00"),),
    source: System = H,
    status: InvoiceStatus = InvoiceStatus.OPEN,
    memo: str | None = None,
    number: str | None = "INV-1",
    version: str = "1",
    updated_at: dt.datetime = LATER,
    raw: dict[str, Any] | None = None,
) -> SideRecord:
    """`lines` are (product id on `system` or None, quantity, unit price)."""
    ref = RecordRef(system, id_)
    doc = Invoice(
        currency="USD",
        number=number,
        issue_date=dt.date(2025, 1, 2),
        customer=RecordRef(system, customer_id) if customer_id else None,
        lines=tuple(
            Line(
                description="Consulting",
                quantity=Decimal(qty),
                unit_price=Money.of(price, "USD"),
                product=RecordRef(system, pid) if pid else None,
            )
            for pid, qty, price in lines
        ),
        status=status,
        memo=memo,
        source=source,
        ref=ref,
    )
    return SideRecord(ref, version, updated_at, doc, raw or {})


def link_for(
    pair: ObjectPair,
    hs: SideRecord,
    qb: SideRecord,
    base: dict[str, Any],
    *,
    origin: System | None = None,
    refs: RefIndex | None = None,
    rule: SyncRule | None = None,
) -> Link:
    """A link whose hashes say both records are as they were at the last sync."""
    from ledgerbridge.sync.defaults import wizard_defaults
    from ledgerbridge.sync.mapping import snapshot

    rule = rule or wizard_defaults(pair)
    index = refs or RefIndex()
    return Link(
        pair,
        hs.ref.id,
        qb.ref.id,
        hs.version,
        qb.version,
        snapshot_hash(snapshot(rule, hs, index)),
        snapshot_hash(snapshot(rule, qb, index)),
        base,
        origin,
    )
