"""A pass woken by webhooks that named every changed HubSpot contact reads those contacts by
id (one batch read), not by a search of the changes, and leaves the search cursor where it
was: the poll's full pass still searches from it, so a change whose webhook was lost is
synced there, and what the scoped pass synced is not written again (issue 18)."""

from __future__ import annotations

import httpx

from ledgerbridge.domain import System
from ledgerbridge.runtime.runner import run_pass
from ledgerbridge.sync.rules import ObjectPair
from tests.integration.conftest import contacts_rule
from tests.integration.harness import Lab

PAIR = ObjectPair.CONTACTS_CUSTOMERS


def crm_paths(seen: list[httpx.Request]) -> list[str]:
    """The path of every HubSpot CRM request of `seen`."""
    return [r.url.path for r in seen if r.url.path.startswith("/crm/")]


async def test_contacts_named_by_webhooks_are_read_by_id_and_the_poll_still_searches(
    lab: Lab,
) -> None:
    lab.save_rule(contacts_rule())
    engine = lab.engine()
    await run_pass(engine)  # the start-up pass: nothing yet
    cursor = await engine.state.get_cursor(System.HUBSPOT, PAIR)
    ann = await lab.hs_create("contacts", email="ann@example.com", firstname="Ann")
    await lab.hs_create("contacts", email="cy@example.com", firstname="Cy")  # webhook lost
    with lab.recorded() as seen:
        report = await run_pass(engine, {PAIR}, {PAIR: frozenset({ann})})
    assert report.pairs[PAIR].created == 1, report.as_dict()
    assert await lab.qbo_emails() == ["ann@example.com"]
    paths = crm_paths(seen)
    assert not [p for p in paths if p.endswith("/search")], paths
    assert "/crm/v3/objects/contacts/batch/read" in paths
    assert await engine.state.get_cursor(System.HUBSPOT, PAIR) == cursor

    with lab.recorded() as seen:
        report = await run_pass(engine)  # the poll's full pass
    assert "/crm/v3/objects/contacts/search" in crm_paths(seen)
    assert (report.pairs[PAIR].created, report.pairs[PAIR].updated) == (1, 0), report.as_dict()
    assert await lab.qbo_emails() == ["ann@example.com", "cy@example.com"]
    assert await engine.state.get_cursor(System.HUBSPOT, PAIR) != cursor


async def test_a_pass_told_no_hubspot_contact_changed_reads_none_and_a_later_one_searches(
    lab: Lab,
) -> None:
    """A QBO notification's pass: the HubSpot contacts are not read at all; what HubSpot
    changed meanwhile waits for its own webhook or the poll, and nothing is lost."""
    lab.save_rule(contacts_rule())
    engine = lab.engine()
    await run_pass(engine)
    await lab.hs_create("contacts", email="dee@example.com", firstname="Dee")
    await lab.qbo_create(
        "Customer", {"DisplayName": "Eve", "PrimaryEmailAddr": {"Address": "eve@example.com"}}
    )
    with lab.recorded() as seen:
        report = await run_pass(engine, {PAIR}, {PAIR: frozenset()})
    assert report.pairs[PAIR].created == 1, report.as_dict()  # Eve, into HubSpot
    paths = crm_paths(seen)
    assert not [p for p in paths if p.endswith("/search")], paths  # (a batch read by email
    assert await lab.qbo_emails() == ["eve@example.com"]  # matches Eve) and Dee was not read
    report = await run_pass(engine, {PAIR})  # a wake that did not say which: searched
    assert report.pairs[PAIR].created == 1, report.as_dict()
    assert await lab.qbo_emails() == ["dee@example.com", "eve@example.com"]
