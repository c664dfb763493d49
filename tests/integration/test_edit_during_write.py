"""An edit a user makes between a pass's read and its write to the same record is not
taken as seen (found by the process chaos suite; the HubSpot case is reduced in
tests/chaos/test_found_by_chaos.py). Here the QBO side: its updates carry the
SyncToken the pass read, so QBO refuses the stale write and the next pass merges."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from ledgerbridge.domain import System
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.ports import SidePort, WriteAction, WriteResult
from ledgerbridge.sync.rules import SyncRule
from tests.integration.conftest import contacts_rule
from tests.integration.faults import CrashingSide, WriteCounter
from tests.integration.harness import Lab


class EditFirst(CrashingSide):
    """A side whose first write lands just after a user's edit."""

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


async def test_a_qbo_edit_made_while_the_engine_writes_the_customer_reaches_hubspot(
    lab: Lab,
) -> None:
    lab.save_rule(contacts_rule())
    contact = await lab.hs_create(
        "contacts", email="ann@example.com", firstname="Ann", lastname="Lee"
    )
    await lab.engine().run_pass()
    (link,) = lab.links(contacts_rule().object_pair)
    await lab.hs_update("contacts", contact, phone="555-0101")  # to carry over to QBO

    async def qbo_user_edits() -> None:
        edit = {"FamilyName": "Edited", "sparse": True}
        await lab.qbo_update("Customer", link.qbo_id, edit)

    base = lab.engine()
    qbo = EditFirst(base.sides[System.QUICKBOOKS], qbo_user_edits)
    await lab.engine_with(qbo=qbo).run_pass()
    assert qbo.edit is None, "the pass wrote nothing to QBO"
    for _ in range(3):
        lab.time.advance(60)
        await lab.engine().run_pass()

    customer = await lab.qbo_client().get("Customer", link.qbo_id)
    assert customer.get("FamilyName") == "Edited"
    assert customer.get("PrimaryPhone", {}).get("FreeFormNumber") == "555-0101"
    (record,) = [r for r in await lab.hs_all("contacts", "lastname", "phone") if r.id == contact]
    assert (record.properties.get("lastname"), record.properties.get("phone")) == (
        "Edited",
        "555-0101",
    )
