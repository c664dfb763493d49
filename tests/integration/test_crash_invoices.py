"""A crash right after the engine made an inbound invoice's copy in HubSpot, before the
link was saved (found by the chaos suite): the restarted pass links the copy to the QBO
invoice. It used to apply the outbound "source is HubSpot" filter to the copy, exclude
it, and leave the QBO invoice unsynced for good."""

from __future__ import annotations

from ledgerbridge.domain import System
from ledgerbridge.store import RecordStatus
from ledgerbridge.sync.rules import Direction
from tests.integration.faults import Crash, CrashingSide, WriteCounter
from tests.integration.harness import Lab
from tests.integration.invoicing import (
    INVOICES,
    customer_and_contact,
    product_and_item,
    qbo_invoice,
    set_up,
)


async def test_an_inbound_invoice_copied_before_a_crash_is_linked_after_the_restart(
    lab: Lab,
) -> None:
    await set_up(lab, Direction.TWO_WAY)
    _, customer = await customer_and_contact(lab)
    _, item = await product_and_item(lab, "W-1", "50")
    made = await qbo_invoice(lab, customer, [(item, "2", "50")])
    base = lab.engine()
    counter = WriteCounter(crash_after=1)
    crashing = lab.engine_with(hubspot=CrashingSide(base.sides[System.HUBSPOT], counter))
    try:
        await crashing.run_pass()
        raise AssertionError("the pass should have died after its first write")
    except Crash:
        pass
    (copy,) = await lab.hs_all("invoices", "ledgerbridge_qbo_id")
    assert copy.get("ledgerbridge_qbo_id") == made["Id"] and lab.links(INVOICES) == []

    await lab.engine().run_pass()  # the restart

    (link,) = lab.links(INVOICES)
    assert (link.hubspot_id, link.qbo_id) == (copy.id, made["Id"])
    assert len(await lab.hs_all("invoices")) == 1
    assert lab.records(INVOICES, RecordStatus.EXCLUDED) == []
    assert (await lab.engine().run_pass()).writes == 0
