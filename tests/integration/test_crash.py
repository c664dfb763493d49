"""Crash at every step of a pass, restart, and converge with no duplicates (R-BEY-1)."""

from __future__ import annotations

import pytest

from ledgerbridge.domain import System
from ledgerbridge.sync.rules import Direction, ObjectPair
from tests.integration.conftest import contacts_rule, products_rule
from tests.integration.faults import Crash, CrashingSide, CrashingState, WriteCounter
from tests.integration.harness import Lab

CONTACTS, PRODUCTS = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS
EXPECTED_EMAILS = ["a@x.io", "b@x.io", "c@x.io"]
EXPECTED_SKUS = ["H-1", "Q-1"]
WRITES_IN_FIRST_PASS = 5  # a→QBO, b update (match), c→HubSpot, H-1→QBO, Q-1→HubSpot


async def _seed(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    lab.save_rule(products_rule(direction=Direction.TWO_WAY))
    await lab.hs_create("contacts", email="a@x.io", firstname="Ann")
    await lab.hs_create("contacts", email="b@x.io", firstname="Bea", phone="1")
    await lab.qbo_create(
        "Customer", {"DisplayName": "Bea", "PrimaryEmailAddr": {"Address": "b@x.io"}}
    )
    await lab.qbo_create(
        "Customer", {"DisplayName": "Cy", "PrimaryEmailAddr": {"Address": "c@x.io"}}
    )
    await lab.hs_create("products", name="Hub plan", hs_sku="H-1", price="5")
    account = await lab.income_account()
    await lab.qbo_create(
        "Item",
        {
            "Name": "Qbo item",
            "Sku": "Q-1",
            "Type": "Service",
            "UnitPrice": 7,
            "IncomeAccountRef": {"value": account},
        },
    )


async def _converged(lab: Lab) -> None:
    for _ in range(3):
        report = await lab.engine().run_pass()
        if report.writes == 0:
            break
    assert report.writes == 0, report.as_dict()
    hs_emails = sorted(str(c.get("email")) for c in await lab.hs_all("contacts", "email"))
    qbo_emails = sorted(c["PrimaryEmailAddr"]["Address"] for c in await lab.qbo_all("Customer"))
    assert hs_emails == qbo_emails == EXPECTED_EMAILS
    hs_skus = sorted(str(p.get("hs_sku")) for p in await lab.hs_all("products", "hs_sku"))
    qbo_skus = sorted(i["Sku"] for i in await lab.qbo_all("Item"))
    assert hs_skus == qbo_skus == EXPECTED_SKUS
    assert len(lab.links(CONTACTS)) == 3 and len(lab.links(PRODUCTS)) == 2
    customers = {str(c["Id"]): c for c in await lab.qbo_all("Customer")}
    contacts = {c.id: c for c in await lab.hs_all("contacts", "email", "firstname", "phone")}
    for link in lab.links(CONTACTS):
        contact, customer = contacts[link.hubspot_id], customers[link.qbo_id]
        assert contact.get("email") == customer["PrimaryEmailAddr"]["Address"]
        assert contact.get("firstname") == customer.get("GivenName")


@pytest.mark.parametrize("crash_after", range(1, WRITES_IN_FIRST_PASS + 1))
async def test_R_BEY_1_crash_after_each_write(lab: Lab, crash_after: int) -> None:
    await _seed(lab)
    counter = WriteCounter(crash_after)
    base = lab.engine()
    engine = lab.engine_with(
        hubspot=CrashingSide(base.sides[System.HUBSPOT], counter),
        qbo=CrashingSide(base.sides[System.QUICKBOOKS], counter),
    )
    with pytest.raises(Crash):
        await engine.run_pass()
    await _converged(lab)


@pytest.mark.parametrize("where", ["before", "before_cursors"])
@pytest.mark.parametrize("commit_number", [1, 2])
async def test_R_BEY_1_crash_before_link_update_and_cursor_advance(
    lab: Lab, where: str, commit_number: int
) -> None:
    await _seed(lab)
    base = lab.engine()
    engine = lab.engine_with(state=CrashingState(base.state, commit_number, where))
    with pytest.raises(Crash):
        await engine.run_pass()
    await _converged(lab)


async def test_first_pass_makes_the_expected_number_of_writes(lab: Lab) -> None:
    await _seed(lab)
    counter = WriteCounter()
    base = lab.engine()
    engine = lab.engine_with(
        hubspot=CrashingSide(base.sides[System.HUBSPOT], counter),
        qbo=CrashingSide(base.sides[System.QUICKBOOKS], counter),
    )
    await engine.run_pass()
    assert counter.writes == WRITES_IN_FIRST_PASS
    await _converged(lab)
