"""A create retried after a kill, once its source changed meanwhile (found by the
process chaos suite): one copy on the other side, and it ends up with the change.

QBO creates are keyed by the pair and source record (never its version), so the retry
sends the journaled requestid again and QBO replays its first answer (the old content):
the link must take the record as written, and the next pass sends the change as an
Update. HubSpot creates are upserts on `ledgerbridge_qbo_id`, so the retry writes the
new content into the same record.
"""

from __future__ import annotations

import pytest

from ledgerbridge.domain import System
from ledgerbridge.sync.rules import Direction
from tests.integration.conftest import contacts_rule
from tests.integration.faults import Crash, CrashingSide, WriteCounter
from tests.integration.harness import Lab
from tests.integration.invoicing import (
    customer_and_contact,
    hs_invoice,
    product_and_item,
    qbo_get,
    set_up,
)


async def test_a_hubspot_edit_after_a_killed_qbo_create_reaches_the_one_qbo_copy(
    lab: Lab,
) -> None:
    await set_up(lab, Direction.TWO_WAY)
    contact, _ = await customer_and_contact(lab)
    product, _ = await product_and_item(lab)
    invoice = await hs_invoice(lab, contact, [("Work", "2x50", product)], hs_comments="First")
    before = len(await lab.qbo_all("Invoice"))

    base = lab.engine()
    crashing = CrashingSide(base.sides[System.QUICKBOOKS], WriteCounter(1))
    with pytest.raises(Crash):
        await lab.engine_with(qbo=crashing).run_pass()

    await lab.hs_update("invoices", invoice, hs_comments="Second")  # a user's edit meanwhile
    for _ in range(3):
        lab.time.advance(60)
        await lab.engine().run_pass()

    invoices = await lab.qbo_all("Invoice")
    assert len(invoices) == before + 1
    (copy,) = [i for i in invoices if i.get("CustomerMemo", {}).get("value") in ("First", "Second")]
    assert (await qbo_get(lab, "Invoice", str(copy["Id"])))["CustomerMemo"]["value"] == "Second"
    hubspot_invoices = await lab.hs_all("invoices", "hs_comments")
    assert [r.properties.get("hs_comments") for r in hubspot_invoices] == ["Second"]


async def test_a_qbo_edit_after_a_killed_hubspot_create_reaches_the_one_hubspot_copy(
    lab: Lab,
) -> None:
    lab.save_rule(contacts_rule())
    customer = await lab.qbo_create(
        "Customer",
        {
            "GivenName": "Bo",
            "FamilyName": "First",
            "DisplayName": "Bo First",
            "PrimaryEmailAddr": {"Address": "bo@example.com"},
        },
    )

    base = lab.engine()
    crashing = CrashingSide(base.sides[System.HUBSPOT], WriteCounter(1))
    with pytest.raises(Crash):
        await lab.engine_with(hubspot=crashing).run_pass()
    assert len(await lab.hs_all("contacts")) == 1  # the copy exists, unlinked

    edit = {"FamilyName": "Second", "sparse": True}
    await lab.qbo_update("Customer", str(customer["Id"]), edit)  # a QBO user's edit meanwhile
    for _ in range(3):
        lab.time.advance(60)
        await lab.engine().run_pass()

    contacts = await lab.hs_all("contacts", "lastname", "ledgerbridge_qbo_id")
    found = [
        (c.properties.get("lastname"), c.properties.get("ledgerbridge_qbo_id")) for c in contacts
    ]
    assert found == [("Second", str(customer["Id"]))]
    assert (await lab.qbo_client().get("Customer", str(customer["Id"])))["FamilyName"] == "Second"
    (link,) = lab.links(contacts_rule().object_pair)
    assert (link.hubspot_id, link.qbo_id) == (contacts[0].id, str(customer["Id"]))
