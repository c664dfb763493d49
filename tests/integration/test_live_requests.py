"""Live passes' QBO requests (issue 18, scenario (c)): the customers that new HubSpot
contacts are matched against come from a mirror the change reads keep current, not from a
whole read of every customer each pass, and the matching stays exact. Counts requests,
not time."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx

from ledgerbridge.domain import System
from ledgerbridge.qbo.side.port import QboSide
from ledgerbridge.runtime.embedded import EmbeddedRuntime, RuntimeOptions
from ledgerbridge.runtime.runner import run_pass
from ledgerbridge.store import ConnectionStatus
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.rules import Direction, ObjectPair
from tests.integration import invoicing
from tests.integration.conftest import contacts_rule, products_rule
from tests.integration.harness import Lab
from tests.unit.runtime.fakes import FakeDirectory, FakeTime, until

PAIR = ObjectPair.CONTACTS_CUSTOMERS
WHOLE_READ = "whole"
CHANGE_READ = "changes"


@contextmanager
def counting(lab: Lab) -> Iterator[dict[str, int]]:
    """QBO customer reads meanwhile: whole (every customer), change reads (CDC, or the
    query by LastUpdatedTime) and reads by id."""
    seen = {WHOLE_READ: 0, CHANGE_READ: 0, "by id": 0}

    async def hook(request: httpx.Request) -> None:
        statement = request.url.params.get("query", "")
        if request.url.path.endswith("/cdc") or "LastUpdatedTime" in statement:
            seen[CHANGE_READ] += 1
        elif " Id IN " in statement:
            seen["by id"] += 1
        elif statement.startswith("SELECT * FROM Customer"):
            seen[WHOLE_READ] += 1

    with lab.hooked(hook):
        yield seen


def cdc_asked(seen: list[httpx.Request], param: str) -> list[str]:
    """`param` of each QBO CDC request of `seen`."""
    return [r.url.params[param] for r in seen if r.url.path.endswith("/cdc")]


async def test_a_customer_made_between_passes_is_matched_without_reading_every_customer(
    lab: Lab,
) -> None:
    lab.save_rule(contacts_rule())
    engine = lab.engine()  # one engine across passes, as `run` keeps it
    await lab.hs_create("contacts", email="ann@example.com", firstname="Ann")
    with counting(lab) as first:
        report = await engine.run_pass()
    assert report.pairs[PAIR].created == 1, report.as_dict()
    assert first[WHOLE_READ] == 1  # the candidates' read, which starts the mirror

    lab.time.advance(5)
    # Someone adds a customer in QBO; the same person arrives as a HubSpot contact.
    theirs = await lab.qbo_create(
        "Customer", {"DisplayName": "Bob Ray", "PrimaryEmailAddr": {"Address": "bob@example.com"}}
    )
    bob = await lab.hs_create("contacts", email="Bob@Example.com", firstname="Bob")
    await lab.hs_create("contacts", email="cy@example.com", firstname="Cy")
    with counting(lab) as second:
        report = await engine.run_pass()

    # One change read, which brought the mirror up to date; no whole read.
    assert (second[CHANGE_READ], second[WHOLE_READ]) == (1, 0), second
    counts = report.pairs[PAIR]
    assert (counts.linked, counts.created, counts.failed) == (1, 1, 0), report.as_dict()
    assert (bob, str(theirs["Id"])) in {(x.hubspot_id, x.qbo_id) for x in lab.links(PAIR)}
    assert await lab.qbo_emails() == ["ann@example.com", "bob@example.com", "cy@example.com"]

    # A third contact with the name of the customer we just created: the mirror holds
    # our own write, so the new customer's display name is not a duplicate.
    lab.time.advance(5)
    await lab.hs_create("contacts", email="cy2@example.com", firstname="Cy")
    with counting(lab) as third:
        again = await engine.run_pass()
    assert third[WHOLE_READ] == 0
    assert (again.pairs[PAIR].created, again.pairs[PAIR].failed) == (1, 0), again.as_dict()
    names = [c["DisplayName"] for c in await lab.qbo_all("Customer")]
    assert len(names) == len(set(names)) == 4, names


async def test_the_mirror_lasts_through_a_chain_of_change_reads(lab: Lab) -> None:
    """Each pass's change read starts at or before the cursor the last one left, so the
    mirror misses nothing however far the cursor moves: ten minutes of passes, a change
    in QBO before each, and no whole read after the first (with a 30-s overlap the cursor
    is past the whole read within a minute)."""
    lab.save_rule(contacts_rule())
    engine = lab.engine()
    await lab.hs_create("contacts", email="ann@example.com", firstname="Ann")
    # A change in QBO too: the first pass's cursor is 30 s behind it, later than the
    # whole read (at the first pass) minus its margin, so the next read reaches back.
    await lab.qbo_create(
        "Customer", {"DisplayName": "Al", "PrimaryEmailAddr": {"Address": "al@example.com"}}
    )
    await engine.run_pass()
    with counting(lab) as seen:
        for minute in range(10):
            lab.time.advance(60)
            await lab.qbo_create(
                "Customer",
                {"DisplayName": f"Q{minute}", "PrimaryEmailAddr": {"Address": f"q{minute}@x.com"}},
            )
            await lab.hs_create("contacts", email=f"h{minute}@example.com", firstname=f"H{minute}")
            report = await engine.run_pass()
            assert report.pairs[PAIR].failed == 0, report.as_dict()
    assert seen[WHOLE_READ] == 0, seen
    assert seen[CHANGE_READ] == 10, seen
    emails = await lab.qbo_emails()
    assert len(emails) == len(set(emails)) == 22, emails


async def test_the_mirror_is_read_whole_again_once_another_read_moved_the_cursor(
    lab: Lab,
) -> None:
    lab.save_rule(contacts_rule())
    engine = lab.engine()
    await lab.hs_create("contacts", email="ann@example.com", firstname="Ann")
    await engine.run_pass()
    lab.time.advance(5)
    await engine.run_pass()  # a change read that keeps the mirror: the chain starts
    # Another process (a `sync` beside `run`) reads QBO's changes meanwhile and stores a
    # cursor later than the one this engine's mirror reached: a change before it (Dee)
    # would never reach the mirror.
    lab.time.advance(600)
    await lab.qbo_create(
        "Customer", {"DisplayName": "Dee", "PrimaryEmailAddr": {"Address": "dee@example.com"}}
    )
    await lab.engine().run_pass()
    lab.time.advance(5)
    await lab.hs_create("contacts", email="eve@example.com", firstname="Eve")
    with counting(lab) as seen:
        report = await engine.run_pass()
    assert seen[WHOLE_READ] == 1, seen
    assert report.pairs[PAIR].created == 1, report.as_dict()
    assert await lab.qbo_emails() == ["ann@example.com", "dee@example.com", "eve@example.com"]


def test_the_cursor_must_reach_back_past_the_whole_read() -> None:
    from ledgerbridge.qbo.side.mirror import SKEW, NameMirror

    at = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    mirror = NameMirror.from_rows(at, [{"Id": "1"}, {"Id": "2", "status": "Deleted"}])
    assert [r["Id"] for r in mirror.all_rows()] == ["1"]
    assert mirror.covers(at - SKEW)
    assert not mirror.covers(at - SKEW + dt.timedelta(seconds=1))
    # the first change read after the whole read reaches back to it when it starts later
    assert mirror.links_back_from(at) and not mirror.links_back_from(at - SKEW)
    assert not mirror.covers(None)
    assert not mirror.answers(0)  # not before a change read brought it up to date
    mirror.current_pass = 3
    assert mirror.answers(3) and not mirror.answers(4)
    # A change read since the whole read's margin is applied: the next one may start at
    # the cursor it left, and not a second later.
    later = at + dt.timedelta(minutes=10)
    mirror.applied([{"Id": "3"}], later, 5)
    assert mirror.answers(5) and [r["Id"] for r in mirror.all_rows()] == ["1", "3"]
    assert mirror.covers(later) and mirror.covers(at)
    assert not mirror.covers(later + dt.timedelta(seconds=1))
    assert not mirror.links_back_from(later + dt.timedelta(seconds=1))  # a chain: read whole


async def test_a_full_pass_reads_every_rule_s_qbo_changes_in_one_request(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    lab.save_rule(products_rule())
    lab.save_rule(invoicing.invoice_rule(Direction.TWO_WAY))
    engine = lab.engine()
    await run_pass(engine)  # the first pass: no cursors yet, every entity read whole
    lab.time.advance(5)
    await lab.qbo_create(
        "Customer", {"DisplayName": "Dee", "PrimaryEmailAddr": {"Address": "dee@example.com"}}
    )
    account = await lab.income_account()
    item = {"Name": "Plan", "Sku": "P-1", "Type": "Service", "IncomeAccountRef": {"value": account}}
    await lab.qbo_create("Item", item)
    with lab.recorded() as seen:
        report = await run_pass(engine)
        # The next pass reads again (nothing is served twice): one more request.
        again = await run_pass(engine)
    cdc = cdc_asked(seen, "entities")

    assert len(cdc) == 2, cdc  # one a pass, not one per rule
    assert set(cdc[0].split(",")) == {"Customer", "Item", "Invoice", "Payment"}
    assert report.pairs[PAIR].created == 1, report.as_dict()
    assert report.pairs[ObjectPair.PRODUCTS_ITEMS].created == 1, report.as_dict()
    emails = {r.properties.get("email") for r in await lab.hs_all("contacts", "email")}
    assert "dee@example.com" in emails
    skus = {r.properties.get("hs_sku") for r in await lab.hs_all("products", "hs_sku")}
    assert "P-1" in skus
    assert again.writes == 0, again.as_dict()


async def test_records_read_again_unchanged_are_not_planned_nor_their_counterparts_read(
    lab: Lab,
) -> None:
    lab.save_rule(contacts_rule())
    engine = lab.engine()
    await lab.hs_create("contacts", email="ann@example.com", firstname="Ann")
    await lab.qbo_create(
        "Customer", {"DisplayName": "Bob", "PrimaryEmailAddr": {"Address": "bob@example.com"}}
    )
    await run_pass(engine)
    lab.time.advance(5)
    # QBO's change read goes back 30 s: it returns both customers again, unchanged
    # (one is the echo of our create). Neither is planned, nor its contact read by id.
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(f"{request.method} {request.url.path}")

    with lab.hooked(hook):
        report = await run_pass(engine)
    assert "POST /crm/v3/objects/contacts/batch/read" not in seen, seen
    assert report.writes == 0 and report.pairs[PAIR].skipped == 0, report.as_dict()
    # A real change among them still goes through.
    lab.time.advance(5)
    (bob,) = [c for c in await lab.qbo_all("Customer") if c["DisplayName"] == "Bob"]
    await lab.qbo_update("Customer", str(bob["Id"]), {"GivenName": "Bobby"})
    report = await run_pass(engine)
    assert report.pairs[PAIR].updated == 1, report.as_dict()
    contacts = await lab.hs_all("contacts", "email", "firstname")
    names = {r.properties.get("email"): r.properties.get("firstname") for r in contacts}
    assert names["bob@example.com"] == "Bobby"


async def test_without_change_reads_the_list_is_read_whole_after_every_write(lab: Lab) -> None:
    """A backfill reads no changes: its look-ups never come from the mirror, so a
    customer someone adds between two of its pages is still found."""
    rule = contacts_rule()
    lab.save_rule(rule)
    qbo = lab.engine().sides[System.QUICKBOOKS]
    assert isinstance(qbo, QboSide)
    refs = RefIndex()
    with counting(lab) as seen:
        assert await qbo.find_candidates(rule, {"dee@example.com"}, refs) == []
        await lab.qbo_create(
            "Customer", {"DisplayName": "Dee", "PrimaryEmailAddr": {"Address": "dee@example.com"}}
        )
        await qbo.apply(rule, [], refs)  # a page's writes: the lists may have changed
        found = await qbo.find_candidates(rule, {"dee@example.com"}, refs)
    assert [r.raw["DisplayName"] for r in found] == ["Dee"]
    assert seen[WHOLE_READ] == 2


async def test_the_creates_of_two_webhooks_in_one_window_go_in_one_batch(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    engine = lab.engine()
    passes: list[frozenset[ObjectPair] | None] = []

    async def runner(
        connection_id: int,
        *,
        only: frozenset[ObjectPair] | None = None,
        known: Mapping[ObjectPair, frozenset[str]] | None = None,
    ) -> object:
        passes.append(only)
        return await run_pass(engine, only, known)

    clock = FakeTime()
    runtime = EmbeddedRuntime(
        runner,
        FakeDirectory({lab.connection_id: ConnectionStatus.ACTIVE}),
        options=RuntimeOptions(poll_interval=60, coalesce=0.6),
        clock=clock.clock,
        sleep=clock.sleep,
    )
    batches: list[int] = []

    async def hook(request: httpx.Request) -> None:
        if request.url.path.endswith("/batch"):
            batches.append(len(json.loads(request.content)["BatchItemRequest"]))

    before = lab.http.event_hooks
    task = asyncio.create_task(runtime.run())
    try:
        await until(lambda: len(passes) == 1 and len(clock.sleepers) == 2, limit=30)
        lab.http.event_hooks = {**before, "request": [*before.get("request", []), hook]}
        await lab.hs_create("contacts", email="ann@example.com", firstname="Ann")
        runtime.wake(lab.connection_id, {PAIR})  # HubSpot's webhook for Ann
        clock.advance(0.3)
        await lab.hs_create("contacts", email="bob@example.com", firstname="Bob")
        runtime.wake(lab.connection_id, {PAIR})  # and, 0.3 s later, for Bob
        await until(lambda: len(clock.sleepers) == 2, limit=30)
        assert len(passes) == 1  # still gathering
        clock.advance(0.3)
        await until(lambda: len(passes) == 2 and len(clock.sleepers) == 2, limit=30)
    finally:
        lab.http.event_hooks = before
        runtime.stop()
        await asyncio.wait_for(task, timeout=30)
    assert passes == [None, frozenset({PAIR})]
    assert batches == [2]  # both creates in one batch request
    assert await lab.qbo_emails() == ["ann@example.com", "bob@example.com"]


async def test_a_quiet_entity_s_cursor_follows_the_busy_ones_in_a_full_pass(lab: Lab) -> None:
    """Items, invoices and payments do not change while customers do: the one change read
    of a full pass must not go back five minutes for them (at a steady stream of customer
    changes that is past CDC's cap: every entity asked again, then query pages)."""
    lab.save_rule(contacts_rule())
    lab.save_rule(products_rule())
    lab.save_rule(invoicing.invoice_rule(Direction.TWO_WAY))
    engine = lab.engine()
    await run_pass(engine)
    lab.time.advance(600)
    made = await lab.qbo_create(
        "Customer", {"DisplayName": "Dee", "PrimaryEmailAddr": {"Address": "dee@example.com"}}
    )
    await run_pass(engine)
    lab.time.advance(5)
    with lab.recorded() as seen:
        await run_pass(engine)
    asked = cdc_asked(seen, "changedSince")
    stamp = dt.datetime.fromisoformat(made["MetaData"]["LastUpdatedTime"])
    assert len(asked) == 1, asked
    since = dt.datetime.fromisoformat(asked[0])
    assert since >= stamp - dt.timedelta(seconds=31), (asked, stamp)
