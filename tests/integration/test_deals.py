"""R-INV-6: a deal takes its invoice-derived properties from the most recently updated
QBO invoice among the synced invoices a user associated with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from ledgerbridge.sync.deals import BALANCE, NUMBER, QBO_ID, STATUS, TOTAL, DealPort
from ledgerbridge.sync.engine import DEALS_FULL_EVERY, SyncEngine
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.sync.rules import Direction
from tests.integration.harness import Lab
from tests.integration.invoicing import (
    INVOICES,
    customer_and_contact,
    hs_associate,
    qbo_get,
    qbo_invoice,
    qbo_item,
    set_up,
)

INVOICE_TO_DEAL = 175
PROPS = (QBO_ID, NUMBER, STATUS, TOTAL, BALANCE)


def _engine(lab: Lab) -> SyncEngine:
    """The production engine (`engine_for_clients`), which carries the deals step."""
    return lab.engine()


async def _deal(lab: Lab, deal_id: str) -> dict[str, str | None]:
    record = await lab.hubspot_client().get("deals", deal_id, list(PROPS))
    return {name: record.get(name) for name in PROPS}


def _expected(invoice: dict[str, object], status: str) -> dict[str, str | None]:
    return {
        QBO_ID: str(invoice["Id"]),
        NUMBER: str(invoice["DocNumber"]),
        STATUS: status,
        TOTAL: str(invoice["TotalAmt"]),
        BALANCE: str(invoice["Balance"]),
    }


def _numbers(values: dict[str, str | None]) -> dict[str, object]:
    return {k: Decimal(v) if k in (TOTAL, BALANCE) and v else v for k, v in values.items()}


def _line(item: str, qty: int, price: int) -> dict[str, object]:
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": qty * price,
        "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": price},
    }


async def test_R_INV_6_deal_takes_the_most_recent_invoice(lab: Lab) -> None:
    await set_up(lab, Direction.TWO_WAY)
    _, customer = await customer_and_contact(lab)
    item = await qbo_item(lab, "Plan", "P-1", "10")
    first = await qbo_invoice(lab, customer, [(item, "1", "10")])
    second = await qbo_invoice(lab, customer, [(item, "2", "10")])
    await _engine(lab).run_pass()
    hubspot = {x.qbo_id: x.hubspot_id for x in lab.links(INVOICES)}
    assert set(hubspot) == {str(first["Id"]), str(second["Id"])}

    # A HubSpot user associates both synced invoices with one deal.
    deal = await lab.hs_create("deals", dealname="Big deal")
    for qbo_id in hubspot.values():
        await hs_associate(lab, "invoices", qbo_id, "deals", deal, INVOICE_TO_DEAL)

    report = await _engine(lab).run_pass()

    assert report.pairs[INVOICES].deals == {"updated": 1}, report.as_dict()
    assert report.pairs[INVOICES].deal_error is None
    second = await qbo_get(lab, "Invoice", str(second["Id"]))
    assert _numbers(await _deal(lab, deal)) == _numbers(_expected(second, "open"))
    assert (await _engine(lab).run_pass()).pairs[INVOICES].deals == {}

    # The first invoice is edited in QBO: it is now the most recent, the deal follows.
    await lab.qbo_update("Invoice", str(first["Id"]), {"Line": [_line(item, 3, 10)]})
    report = await _engine(lab).run_pass()

    assert report.pairs[INVOICES].deals == {"updated": 1}, report.as_dict()
    first = await qbo_get(lab, "Invoice", str(first["Id"]))
    values = _numbers(await _deal(lab, deal))
    assert values == _numbers(_expected(first, "open"))
    assert values[TOTAL] == Decimal("30")
    with lab.store.begin() as tx:
        rows = tx.list_activity(lab.connection_id, object_type="deals", record_id=deal)
    activity = sorted(rows, key=lambda a: a.id)
    assert [(a.operation, a.outcome, a.details["invoice"]) for a in activity] == [
        ("update", "ok", str(second["Id"])),
        ("update", "ok", str(first["Id"])),
    ]

    # A second pass writes nothing.
    again = await _engine(lab).run_pass()
    assert again.pairs[INVOICES].deals == {}, again.as_dict()
    assert again.writes == 0, again.as_dict()


class CountingDeals:
    """The engine's `DealPort`, recording which invoices' deals each pass asked for."""

    def __init__(self, inner: DealPort) -> None:
        self.inner = inner
        self.asked: list[list[str]] = []

    async def invoice_deals(self, invoice_ids: Sequence[str]) -> dict[str, list[str]]:
        self.asked.append(list(invoice_ids))
        return await self.inner.invoice_deals(invoice_ids)

    async def deal_invoices(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        return await self.inner.deal_invoices(deal_ids)

    async def read_deals(self, deal_ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
        return await self.inner.read_deals(deal_ids)

    async def write_deals(
        self, updates: Sequence[tuple[str, Mapping[str, str]]]
    ) -> list[SyncError | None]:
        return await self.inner.write_deals(updates)


async def test_R_INV_6_a_kept_engine_rolls_up_only_the_deals_of_changed_invoices(
    lab: Lab,
) -> None:
    """The runner keeps one engine per connection: after its first (full) roll-up, a pass
    reads the deals of the invoices it changed, not of every synced invoice; every
    `DEALS_FULL_EVERY` a full roll-up catches associations made in HubSpot."""
    await set_up(lab, Direction.TWO_WAY)
    _, customer = await customer_and_contact(lab)
    item = await qbo_item(lab, "Plan", "P-1", "10")
    made = [await qbo_invoice(lab, customer, [(item, str(n), "10")]) for n in (1, 2, 3)]
    engine = _engine(lab)
    assert engine.deals is not None
    counting = CountingDeals(engine.deals)
    engine.deals = counting
    await engine.run_pass()
    hubspot = {x.qbo_id: x.hubspot_id for x in lab.links(INVOICES)}
    first, second, third = (hubspot[str(m["Id"])] for m in made)
    assert sorted(counting.asked[-1]) == sorted(hubspot.values())  # the first: full
    deal = await lab.hs_create("deals", dealname="Scoped")
    for invoice in (first, second):
        await hs_associate(lab, "invoices", invoice, "deals", deal, INVOICE_TO_DEAL)

    # Minutes later a new invoice moves the read cursors on: the first three are behind
    # the re-read overlaps (QBO and HubSpot: 30 s) from then on.
    lab.time.advance(6 * 60)
    await qbo_invoice(lab, customer, [(item, "4", "10")])
    await engine.run_pass()
    await engine.run_pass()  # (HubSpot's cursor moves when it reads the invoice we made)
    # The first invoice changes in QBO: its deal, with both its invoices, is rolled up.
    await lab.qbo_update("Invoice", str(made[0]["Id"]), {"Line": [_line(item, 7, 10)]})
    calls = len(counting.asked)
    report = await engine.run_pass()

    assert report.pairs[INVOICES].deals == {"updated": 1}, report.as_dict()
    (asked,) = counting.asked[calls:]
    assert first in asked and second not in asked and third not in asked, asked
    latest = await qbo_get(lab, "Invoice", str(made[0]["Id"]))
    assert _numbers(await _deal(lab, deal)) == _numbers(_expected(latest, "open"))

    # An association made in HubSpot changes no invoice: the next full roll-up sees it.
    later = await lab.hs_create("deals", dealname="Later")
    await hs_associate(lab, "invoices", third, "deals", later, INVOICE_TO_DEAL)
    assert (await engine.run_pass()).pairs[INVOICES].deals == {}
    lab.time.advance(DEALS_FULL_EVERY.total_seconds())
    report = await engine.run_pass()
    assert report.pairs[INVOICES].deals == {"updated": 1}, report.as_dict()
    assert sorted(counting.asked[-1]) == sorted(x.hubspot_id for x in lab.links(INVOICES))
    assert (await _deal(lab, later))[QBO_ID] == str(made[2]["Id"])
