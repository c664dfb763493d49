"""Bugs the process chaos run found, each reduced to a few records (all fixed; each
test failed before its fix).

1. A duplicate invoice (size 1000, CHAOS_SEED=7, first run).

The engine was SIGKILLed after its QBO batch had created copies of HubSpot invoices and
before the links were saved; users then recorded payments on those HubSpot invoices; the
restarted engine created every one of them in QBO a second time, and later copied the
orphaned first copies back into HubSpot as new invoices (duplicates on both sides).

Cause: a create's idempotency key (`sync.actions.idempotency_key(..., record.version,
"create")` in `sync.plan`) includes the source record's version, so once the source has
changed the retried create gets a new QBO `requestid`, the write journal does not know
it, and QBO runs it again. (Payments already key on the record without its version.)
Contacts and products escape through email/SKU matching; a QBO invoice made from a
HubSpot invoice carries nothing the next pass could match it by.

Fix: a create is keyed by the pair and source record only; the retry sends the journaled
requestid again and QBO replays its first answer, from which the link is made (see
`sync.written` and tests/integration/test_create_after_a_kill.py for the content).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import pytest

from ledgerbridge.domain import System
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.ports import SidePort, WriteAction, WriteResult
from ledgerbridge.sync.rules import Direction, ObjectPair, SyncRule
from tests.integration.conftest import contacts_rule
from tests.integration.faults import Crash, CrashingSide, WriteCounter
from tests.integration.harness import Lab
from tests.integration.invoicing import (
    customer_and_contact,
    hs_invoice,
    hs_payment,
    product_and_item,
    qbo_get,
    qbo_invoice,
    set_up,
)


async def test_a_kill_after_the_qbo_create_then_a_payment_in_hubspot_makes_no_second_invoice(
    lab: Lab,
) -> None:
    await set_up(lab, Direction.TWO_WAY)
    contact, _ = await customer_and_contact(lab)
    product, _ = await product_and_item(lab)
    invoice = await hs_invoice(lab, contact, [("Work", "2x50", product)])
    before = len(await lab.qbo_all("Invoice"))

    base = lab.engine()
    counter = WriteCounter(1)  # the process dies right after QBO made the copy
    engine = lab.engine_with(qbo=CrashingSide(base.sides[System.QUICKBOOKS], counter))
    with pytest.raises(Crash):
        await engine.run_pass()
    assert len(await lab.qbo_all("Invoice")) == before + 1  # the copy exists, unlinked

    await hs_payment(lab, invoice, "10")  # a user records a payment meanwhile
    lab.time.advance(60)
    await lab.engine().run_pass()
    await lab.engine().run_pass()

    assert len(await lab.qbo_all("Invoice")) == before + 1


# 2. A lost edit (size 1000, CHAOS_SEED=7, third run: reconcile found HubSpot contact 1148's
# last name "Edit964805" never carried to QBO customer 110 after everything settled).
#
# The pass read the pair, a user then edited the HubSpot contact's last name, and the
# pass wrote a QBO phone change into the same contact. The link took the version HubSpot
# answered that write with (which already includes the user's edit) with the pass's own
# snapshot (without it), so every later pass sees the contact "unchanged" and the edit
# never reaches QBO (until the contact is edited again).
#
# Fix: when an update's answer differs from the record as read in a field the update did
# not write, the link keeps the hash of what the engine wrote (`sync.written`).


class UserEditsFirst(CrashingSide):
    """A side whose first write lands just after a user's edit (between read and write)."""

    def __init__(self, inner: SidePort, edit: Callable[[], Awaitable[None]]) -> None:
        super().__init__(inner, WriteCounter(None))
        self.edit: Callable[[], Awaitable[None]] | None = edit

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        if self.edit is not None:
            edit, self.edit = self.edit, None
            await edit()
        return await super().apply(rule, actions, refs)


async def test_an_edit_made_while_the_engine_writes_the_same_contact_reaches_the_other_side(
    lab: Lab,
) -> None:
    lab.save_rule(contacts_rule())
    contact = await lab.hs_create(
        "contacts", email="ann@example.com", firstname="Ann", lastname="Lee"
    )
    await lab.engine().run_pass()
    (link,) = lab.links(contacts_rule().object_pair)
    phone = {"PrimaryPhone": {"FreeFormNumber": "555-0101"}, "sparse": True}
    await lab.qbo_update("Customer", link.qbo_id, phone)  # a QBO user's change to carry over

    async def hubspot_user_edits() -> None:
        await lab.hs_update("contacts", contact, lastname="Edited")

    base = lab.engine()
    hubspot = UserEditsFirst(base.sides[System.HUBSPOT], hubspot_user_edits)
    await lab.engine_with(hubspot=hubspot).run_pass()  # writes the phone into HubSpot
    assert hubspot.edit is None, "the pass wrote nothing to HubSpot"
    for _ in range(2):
        lab.time.advance(60)
        await lab.engine().run_pass()

    customer = await lab.qbo_client().get("Customer", link.qbo_id)
    assert customer.get("FamilyName") == "Edited"


# 3. A duplicate invoice copied back (CHAOS_SEED=11 and 23, size 40; also before the two
# fixes above): a pass created the QBO copy of a HubSpot invoice and was killed before
# the link was saved; the user then voided the HubSpot invoice. The restarted pass skips
# it ("voided before it was ever synced; not created"), so the QBO copy stays unlinked
# and a later pass copies it into HubSpot as a new invoice.
#
# Fix: the engine asks the QBO write journal whether a create of such a skipped record
# was sent (`PlanContext.sent_creates`); if so the create is sent again, QBO replays its
# first answer, the copy is linked, and the next pass voids it.


async def test_a_kill_after_the_qbo_create_then_a_void_in_hubspot_copies_nothing_back(
    lab: Lab,
) -> None:
    await set_up(lab, Direction.TWO_WAY)
    contact, _ = await customer_and_contact(lab)
    product, _ = await product_and_item(lab)
    invoice = await hs_invoice(lab, contact, [("Work", "2x50", product)])
    before = len(await lab.hs_all("invoices"))

    base = lab.engine()
    engine = lab.engine_with(qbo=CrashingSide(base.sides[System.QUICKBOOKS], WriteCounter(1)))
    with pytest.raises(Crash):
        await engine.run_pass()

    await lab.hs_update("invoices", invoice, hs_invoice_status="voided")
    for _ in range(3):
        lab.time.advance(60)
        await lab.engine().run_pass()

    assert len(await lab.hs_all("invoices")) == before
    # The replayed create linked the one QBO copy, and the void reached it.
    (link,) = [x for x in lab.links(ObjectPair.INVOICES_INVOICES) if x.hubspot_id == invoice]
    copy = await qbo_get(lab, "Invoice", link.qbo_id)
    assert str(copy.get("PrivateNote", "")).startswith("Voided")
    assert len([i for i in await lab.qbo_all("Invoice") if i["Id"] == link.qbo_id]) == 1


async def test_a_kill_after_the_hubspot_create_then_a_void_in_qbo_leaves_one_linked_copy(
    lab: Lab,
) -> None:
    """The other direction of 3: HubSpot creates carry the QBO id (`ledgerbridge_qbo_id`),
    so the orphaned HubSpot copy names its source and is linked, never made twice."""
    await set_up(lab, Direction.TWO_WAY)
    _, customer = await customer_and_contact(lab)
    _, item = await product_and_item(lab)
    invoice = await qbo_invoice(lab, customer, [(item, "2", "50")])
    lab.time.advance(60)

    base = lab.engine()
    crashing = CrashingSide(base.sides[System.HUBSPOT], WriteCounter(1))
    with pytest.raises(Crash):
        await lab.engine_with(hubspot=crashing).run_pass()
    assert len(await lab.hs_all("invoices")) == 1  # the copy exists, unlinked

    fresh = await qbo_get(lab, "Invoice", str(invoice["Id"]))
    await lab.qbo_client().void(
        "Invoice", str(invoice["Id"]), str(fresh["SyncToken"]), request_id="u1"
    )
    for _ in range(3):
        lab.time.advance(60)
        await lab.engine().run_pass()

    assert len(await lab.qbo_all("Invoice")) == 1
    (copy,) = await lab.hs_all("invoices", "hs_invoice_status")
    (link,) = lab.links(ObjectPair.INVOICES_INVOICES)
    assert (link.hubspot_id, link.qbo_id) == (copy.id, str(invoice["Id"]))
    assert copy.properties.get("hs_invoice_status") == "voided"
