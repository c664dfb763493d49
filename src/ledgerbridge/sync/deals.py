"""R-INV-6, second half: a deal's invoice-derived properties follow the most recently
updated QBO invoice among the invoices associated with it.

QBO-made invoices are never associated with a deal by us; a user associates HubSpot
invoices with a deal in HubSpot. After the invoice pass (and its payments), for every
deal associated with at least one HubSpot invoice that is linked to a QBO invoice, the
deal's properties below are set from the linked QBO invoice that QBO last updated
(`MetaData.LastUpdatedTime`; ties go to the higher QBO id):

- `ledgerbridge_invoice_qbo_id` — the QBO invoice's id (which invoice the others come from),
- `ledgerbridge_invoice_number` — its number (`DocNumber`),
- `ledgerbridge_invoice_status` — open, paid or voided (as the invoice codec computes it),
- `ledgerbridge_invoice_total` — its total (number),
- `ledgerbridge_invoice_balance` — its open balance (number).

HubSpot has no deal property of its own for these (the sandbox's deals have only
`hs_payment_link` beyond the standard ones), so they are custom deal properties created
with the connector's `ensure_property`. Values come from the QBO invoice itself (read
fresh), so the deal reflects QBO even before the HubSpot invoice catches up.

Idempotent: only properties whose value differs are written (numbers compare as
numbers), so a second pass writes nothing. A deal whose linked invoices are all gone
(deleted in QBO, unlinked) keeps its last values. Each deal written gets an activity
entry (object type `deals`). Dry runs skip this step.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from ledgerbridge.domain import Invoice, RecordRef, System
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.sync.model import Link, RefIndex, SideRecord
from ledgerbridge.sync.ports import ActivityEntry, Commit, SidePort, StatePort
from ledgerbridge.sync.report import PairReport
from ledgerbridge.sync.rules import ObjectPair, SyncRule

DEALS = "deals"
QBO_ID = "ledgerbridge_invoice_qbo_id"
NUMBER = "ledgerbridge_invoice_number"
STATUS = "ledgerbridge_invoice_status"
TOTAL = "ledgerbridge_invoice_total"
BALANCE = "ledgerbridge_invoice_balance"
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class DealProperty:
    """A custom deal property the roll-up writes."""

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"

    @property
    def numeric(self) -> bool:
        return self.type == "number"


DEAL_PROPERTIES: tuple[DealProperty, ...] = (
    DealProperty(QBO_ID, "QuickBooks invoice id"),
    DealProperty(NUMBER, "QuickBooks invoice number"),
    DealProperty(STATUS, "QuickBooks invoice status"),
    DealProperty(TOTAL, "QuickBooks invoice total", "number", "number"),
    DealProperty(BALANCE, "QuickBooks invoice balance", "number", "number"),
)
NUMERIC = frozenset(p.name for p in DEAL_PROPERTIES if p.numeric)


@dataclass(frozen=True, slots=True)
class DealUpdate:
    """The properties of one deal to write, and the invoice they come from."""

    deal_id: str
    qbo_id: str
    hubspot_invoice_id: str
    changes: Mapping[str, str]


class DealPort(Protocol):
    """HubSpot deals, as the roll-up needs them."""

    async def invoice_deals(self, invoice_ids: Sequence[str]) -> dict[str, list[str]]:
        """HubSpot invoice id → the ids of the deals it is associated with."""
        ...

    async def deal_invoices(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        """Deal id → the ids of the HubSpot invoices associated with it."""
        ...

    async def read_deals(self, deal_ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
        """Deal id → its current roll-up properties (missing deals are left out)."""
        ...

    async def write_deals(
        self, updates: Sequence[tuple[str, Mapping[str, str]]]
    ) -> list[SyncError | None]:
        """Write each (deal id, properties); per update, None or why it failed."""
        ...


def _money(value: Any) -> str:
    try:
        return format(Decimal(str(value)).quantize(CENT), "f")
    except (InvalidOperation, ValueError):
        return ""


def invoice_values(record: SideRecord) -> dict[str, str]:
    """The deal properties that a QBO invoice gives."""
    raw = record.raw
    invoice = record.domain
    if isinstance(invoice, Invoice):
        number = invoice.number or ""
        status = invoice.status.value
        total = _money(invoice.total.amount)
        balance = _money(invoice.balance.amount)
    else:  # the codec could not read it: the raw JSON still has the essentials
        number = str(raw.get("DocNumber") or "")
        status = ""
        total = _money(raw.get("TotalAmt", ""))
        balance = _money(raw.get("Balance", ""))
    return {
        QBO_ID: record.ref.id,
        NUMBER: number,
        STATUS: status,
        TOTAL: total,
        BALANCE: balance,
    }


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (-1, value)


def most_recent(records: Sequence[SideRecord]) -> SideRecord | None:
    """The most recently updated live record (ties: the higher id), or None."""
    live = [r for r in records if not r.deleted]
    if not live:
        return None
    return max(live, key=lambda r: (r.updated_at, _id_key(r.ref.id)))


def differs(name: str, current: str | None, wanted: str) -> bool:
    """Whether the deal's value must be written (numbers compare as numbers)."""
    have = current or ""
    if name in NUMERIC and have and wanted:
        try:
            return Decimal(have) != Decimal(wanted)
        except InvalidOperation:
            return True
    return have != wanted


def deal_invoices(
    invoice_deals: Mapping[str, Sequence[str]], links: Sequence[Link]
) -> dict[str, list[Link]]:
    """Deal id → the invoice links of the HubSpot invoices associated with it."""
    by_hubspot = {x.hubspot_id: x for x in links if x.object_type is ObjectPair.INVOICES_INVOICES}
    out: dict[str, list[Link]] = {}
    for invoice_id, deals in invoice_deals.items():
        link = by_hubspot.get(invoice_id)
        if link is None:
            continue
        for deal_id in deals:
            out.setdefault(deal_id, []).append(link)
    return out


def plan_deals(
    deals: Mapping[str, Sequence[Link]],
    qbo: Mapping[str, SideRecord],
    current: Mapping[str, Mapping[str, str | None]],
) -> list[DealUpdate]:
    """The deal writes: per deal (by id) still in HubSpot, the properties of its most
    recently updated QBO invoice that differ from what the deal holds."""
    updates: list[DealUpdate] = []
    for deal_id in sorted(deals, key=_id_key):
        if deal_id not in current:
            continue
        links = {x.qbo_id: x for x in deals[deal_id]}
        latest = most_recent([qbo[i] for i in links if i in qbo])
        if latest is None:
            continue
        have = current[deal_id]
        changes = {
            name: value
            for name, value in invoice_values(latest).items()
            if differs(name, have.get(name), value)
        }
        if changes:
            link = links[latest.ref.id]
            updates.append(DealUpdate(deal_id, link.qbo_id, link.hubspot_id, changes))
    return updates


def _entry(update: DealUpdate, error: SyncError | None) -> ActivityEntry:
    details: dict[str, Any] = {
        "action": "update",
        "direction": "qbo_to_hubspot",
        "invoice": update.qbo_id,
        "hubspot_invoice": update.hubspot_invoice_id,
        "fields": dict(update.changes),
        "reason": "the deal takes the most recently updated QBO invoice (R-INV-6)",
    }
    if error is not None:
        details["category"] = error.category.value
        details["detail"] = error.detail
    return ActivityEntry(
        RecordRef(System.HUBSPOT, update.deal_id),
        "qbo_to_hubspot",
        "update",
        "ok" if error is None else "failed",
        details,
        object_type=DEALS,
    )


async def run_deal_pass(
    rule: SyncRule,
    deals_port: DealPort,
    qbo: SidePort,
    state: StatePort,
    links: Sequence[Link],
    refs: RefIndex,
    report: PairReport,
    *,
    touched: Collection[str] | None = None,
) -> None:
    """Read the deals of the linked invoices, write what differs, record activity.

    Every deal of `links` (every invoice link: a full roll-up), or, with `touched` (the
    HubSpot ids of the invoices a pass changed), only the deals of those invoices, with
    all their invoices (their links are loaded from `state`): a pass then costs reads in
    proportion to what changed, not to every invoice ever synced.

    Counts go to `report.deals` (`updated`, `failed`); a failed write is retried by the
    next pass (it still differs)."""
    if touched is not None:
        if not touched:
            return
        first = await deals_port.invoice_deals(sorted(touched, key=_id_key))
        deal_ids = sorted({d for found in first.values() for d in found}, key=_id_key)
        if not deal_ids:
            return
        associated: dict[str, list[str]] = {}
        for deal_id, invoice_ids in (await deals_port.deal_invoices(deal_ids)).items():
            for invoice_id in invoice_ids:
                associated.setdefault(invoice_id, []).append(deal_id)
        invoice_links = await state.load_links_for(ObjectPair.INVOICES_INVOICES, associated)
    else:
        invoice_links = [x for x in links if x.object_type is ObjectPair.INVOICES_INVOICES]
        if not invoice_links:
            return
        associated = await deals_port.invoice_deals([x.hubspot_id for x in invoice_links])
    deals = deal_invoices(associated, invoice_links)
    if not deals:
        return
    wanted = sorted({x.qbo_id for found in deals.values() for x in found}, key=_id_key)
    records = await qbo.read_records(rule, wanted, refs)
    by_id = {r.ref.id: r for r in records}
    current = await deals_port.read_deals(sorted(deals, key=_id_key))
    updates = plan_deals(deals, by_id, current)
    if not updates:
        return
    errors = await deals_port.write_deals([(u.deal_id, u.changes) for u in updates])
    activity = []
    for update, error in zip(updates, errors, strict=True):
        outcome = "updated" if error is None else "failed"
        report.deals[outcome] = report.deals.get(outcome, 0) + 1
        activity.append(_entry(update, error))
    await state.commit(Commit(ObjectPair.INVOICES_INVOICES, activity=activity))
