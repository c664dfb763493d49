"""A crash after a QBO batch went out, then new changes: no create runs twice (R-BEY-1).

QBO creates go through `/batch`, whose requestid is a digest of the chunk's items. The
pass after a crash may compose its chunks differently (a new record joins), so without
the store's write journal the old creates would go out again under a new requestid.
"""

from __future__ import annotations

import pytest

from ledgerbridge.store.state import StoreBatchJournal
from ledgerbridge.sync.rules import ObjectPair
from tests.integration.conftest import contacts_rule
from tests.integration.faults import Crash, CrashingState
from tests.integration.harness import Lab

CONTACTS = ObjectPair.CONTACTS_CUSTOMERS


async def _settle(lab: Lab) -> None:
    for _ in range(3):
        report = await lab.engine().run_pass()
        if report.writes == 0:
            return
    raise AssertionError(f"no convergence: {report.as_dict()}")


async def test_R_BEY_1_creates_sent_before_a_crash_are_resent_in_their_old_batch(
    lab: Lab,
) -> None:
    lab.save_rule(contacts_rule())
    # No email: nothing but the batch's idempotency can stop a second create.
    await lab.hs_create("contacts", firstname="Nomail", lastname="One")
    await lab.hs_create("contacts", firstname="Nomail", lastname="Two")
    base = lab.engine()
    crashing = lab.engine_with(state=CrashingState(base.state, 1, "before"))
    with pytest.raises(Crash):
        await crashing.run_pass()
    assert len(await lab.qbo_all("Customer")) == 2  # written, but never linked

    journal = StoreBatchJournal(lab.store, lab.connection_id)
    remembered = await journal.recall(_keys(lab))
    assert len({batch for batch, _ in remembered.values()}) == 1  # one chunk of two

    await lab.hs_create("contacts", firstname="Nomail", lastname="Three")  # joins the chunk
    await _settle(lab)

    names = sorted(c["DisplayName"] for c in await lab.qbo_all("Customer"))
    assert names == ["Nomail One", "Nomail Three", "Nomail Two"]
    assert len(await lab.hs_all("contacts", "email")) == 3
    assert len(lab.links(CONTACTS)) == 3


def _keys(lab: Lab) -> list[str]:
    with lab.store.begin() as tx:
        from ledgerbridge.store import schema

        rows = tx.connection.execute(
            schema.write_journal.select().where(
                schema.write_journal.c.connection_id == lab.connection_id
            )
        )
        return [str(r.request_id) for r in rows]
