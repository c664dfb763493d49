"""R-INV-6: a deal takes its invoice-derived properties from the most recently updated
QBO invoice among the synced invoices a user associated with it."""

from __future__ import annotations

from decimal import Decimal

from ledgerbridge.sync.deals import BALANCE, NUMBER, QBO_ID, STATUS, TOTAL
from ledgerbridge.sync.engine import SyncEngine
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
