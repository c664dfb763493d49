"""Backfill request counts (issue 18): no request whose answer is already known. Each test
counts the requests the engine sends to the sandboxes (real HTTP), not the time."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from ledgerbridge.domain import System
from ledgerbridge.operations.backfill import BackfillResult, backfill_ports
from ledgerbridge.sync.rules import Direction, ObjectPair
from tests.integration import invoicing
from tests.integration.conftest import contacts_rule
from tests.integration.harness import START, Lab

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS = ObjectPair.CONTACTS_CUSTOMERS
INVOICE_SEARCH = "POST /crm/v3/objects/invoices/search"
LINE_READ = "POST /crm/v3/objects/line_items/batch/read"
LATE = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)  # a sync that "starts" after everything


@contextmanager
def counting(lab: Lab) -> Iterator[Counter[str]]:
    """Every request the engine sends meanwhile, by "METHOD path" (QBO queries by their
    statement's FROM: "QUERY Invoice")."""
    seen: Counter[str] = Counter()

    async def hook(request: httpx.Request) -> None:
        path = request.url.path
        statement = request.url.params.get("query", "")
        if path.endswith("/query") and " FROM " in statement:
            seen[f"QUERY {statement.split(' FROM ', 1)[1].split()[0]}"] += 1
        else:
            seen[f"{request.method} {path}"] += 1

    with lab.hooked(hook):
        yield seen


async def _backfill(
    lab: Lab, batch_size: int, *, progress: bool | Callable[[int, int], None] = True
) -> BackfillResult:
    engine = lab.engine()
    shown = progress if callable(progress) else (lambda done, total: None) if progress else None
    return await backfill_ports(
        lab.store,
        lab.connection_id,
        hubspot=engine.sides[H],
        qbo=engine.sides[Q],
        name="invoices",
        since=START.date(),
        batch_size=batch_size,
        clock=lab.time.now,
        progress=shown,
    )


async def test_an_empty_side_is_counted_once_and_never_read(lab: Lab) -> None:
    """QBO → HubSpot with no invoice in HubSpot: one count says so. Before, the key index
    searched HubSpot, then every batch searched its (empty) window again, and the last
    pass searched once more; at 10,000 invoices that was 13 searches."""
    await invoicing.set_up(lab, Direction.TWO_WAY, sync_started_at=LATE)
    _, customer = await invoicing.customer_and_contact(lab)
    _, item = await invoicing.product_and_item(lab)
    for n in range(5):
        await invoicing.qbo_invoice(lab, customer, [(item, str(n + 1), "50")])

    with counting(lab) as seen:
        result = await _backfill(lab, batch_size=2)

    assert result.complete, result.as_dict()
    assert result.report.pairs[invoicing.INVOICES].created == 5
    assert result.passes == 3  # 2 + 2 + 1; the short last page ends it: no pass after
    assert seen[INVOICE_SEARCH] == 1  # the count that finds HubSpot empty
    # QBO: its count (a two-way rule counts QBO first: it finds 5), the pages (the
    # third, 1 of 2, ends the window: no pass after it) and the count for the progress
    # bar (the first page did not end it).
    assert seen["QUERY Invoice"] == 1 + 3 + 1, seen


@pytest.mark.parametrize("direction", [Direction.HUBSPOT_TO_QBO, Direction.TWO_WAY])
async def test_the_source_is_read_once_when_the_other_side_is_empty(
    lab: Lab, direction: Direction
) -> None:
    """HubSpot → QBO with no invoice in QBO: the HubSpot invoices (with their
    associations and line items) are read once, by the window. Before, the key index read
    them all a first time to match them against QBO's none. On a two-way rule too, QBO is
    counted first (a request of its 500 a minute), so the only HubSpot search is the
    window's page (a count there would queue the page behind it in the 4-a-second search
    budget)."""
    await invoicing.set_up(lab, direction, sync_started_at=LATE)
    contact, _ = await invoicing.customer_and_contact(lab)
    product, _ = await invoicing.product_and_item(lab)
    for n in range(3):
        await invoicing.hs_invoice(lab, contact, [("Widget", f"{n + 1}x50", product)])

    with counting(lab) as seen:
        result = await _backfill(lab, batch_size=100)

    assert result.complete, result.as_dict()
    assert result.report.pairs[invoicing.INVOICES].created == 3
    assert len(await lab.qbo_all("Invoice")) == 3
    assert seen["QUERY Invoice"] == 1, seen  # the count that finds QBO empty (counted first)
    # One page that holds the whole window: no count for the progress bar (the page
    # says how many), no read after it.
    assert seen[INVOICE_SEARCH] == 1, seen
    assert seen[LINE_READ] == 1


async def _contacts(lab: Lab) -> tuple[BackfillResult, Counter[str]]:
    lab.save_rule(contacts_rule(sync_started_at=LATE))  # two-way; every contact historical
    for n in range(5):
        await lab.qbo_create(
            "Customer",
            {"DisplayName": f"C{n}", "PrimaryEmailAddr": {"Address": f"c{n}@x.io"}},
        )
    engine = lab.engine()
    with counting(lab) as seen:
        result = await backfill_ports(
            lab.store,
            lab.connection_id,
            hubspot=engine.sides[H],
            qbo=engine.sides[Q],
            name="contacts",
            since=START.date(),
            batch_size=2,
            clock=lab.time.now,
        )
    assert result.complete, result.as_dict()
    return result, seen


async def test_no_match_look_up_on_a_side_that_held_nothing(lab: Lab) -> None:
    """QBO → HubSpot contacts with no contact in HubSpot: one count, and no look-up by
    email before the writes (at 10,000 invoices that was 20 batch reads)."""
    result, seen = await _contacts(lab)

    assert result.report.pairs[CONTACTS].created == 5
    assert seen["POST /crm/v3/objects/contacts/search"] == 1  # the count
    assert seen["POST /crm/v3/objects/contacts/batch/read"] == 0
    emails = sorted(str(c.get("email")) for c in await lab.hs_all("contacts", "email"))
    assert emails == [f"c{n}@x.io" for n in range(5)]


async def test_an_older_record_is_still_looked_up_and_linked(lab: Lab) -> None:
    """The same with one contact already in HubSpot (made before the window): HubSpot is
    not empty, so the look-ups run and the customer with its email is linked to it."""
    old = await lab.hs_create("contacts", email="c3@x.io", firstname="Old")
    lab.time.advance(2 * 86_400)
    result, seen = await _contacts(lab)

    assert result.report.pairs[CONTACTS].created == 4
    assert seen["POST /crm/v3/objects/contacts/batch/read"] >= 1
    assert old in {x.hubspot_id for x in lab.links(CONTACTS)}
    assert len(await lab.hs_all("contacts", "email")) == 5


async def test_an_invoice_pages_three_association_reads_go_at_once(lab: Lab) -> None:
    """HubSpot → QBO: each page of invoices is enriched with its line items, contacts
    and deals by three association reads sent together (one round trip on the page's
    path to the first QBO write, not three one after the other)."""
    await invoicing.set_up(lab, sync_started_at=LATE)
    contact, _ = await invoicing.customer_and_contact(lab)
    product, _ = await invoicing.product_and_item(lab)
    for n in range(3):
        await invoicing.hs_invoice(lab, contact, [("Widget", f"{n + 1}x50", product)])
    events: list[str] = []

    def association(request: httpx.Request) -> str | None:
        parts = request.url.path.split("/")
        return parts[-3] if "associations" in parts else None  # the "to" object type

    async def sent(request: httpx.Request) -> None:
        if (to := association(request)) is not None:
            events.append(f"send {to}")

    async def answered(response: httpx.Response) -> None:
        if (to := association(response.request)) is not None:
            events.append(f"answer {to}")

    before = lab.http.event_hooks
    lab.http.event_hooks = {
        "request": [*before.get("request", []), sent],
        "response": [*before.get("response", []), answered],
    }
    try:
        result = await _backfill(lab, batch_size=100)
    finally:
        lab.http.event_hooks = before

    assert result.complete, result.as_dict()
    assert len(await lab.qbo_all("Invoice")) == 3
    first = events[:6]
    assert sorted(first[:3]) == ["send contacts", "send deals", "send line_items"], events
    assert all(e.startswith("answer") for e in first[3:]), events


async def test_the_first_writes_do_not_wait_for_the_progress_bar_s_count(lab: Lab) -> None:
    """The count for the progress bar (the first page did not end the window) goes
    beside the first turns: here QBO answers it only once the first invoices have gone
    to HubSpot, which a backfill that waited for the count before its first turn never
    gets to. The bar still ends at the count."""
    await invoicing.set_up(lab, Direction.TWO_WAY, sync_started_at=LATE)
    _, customer = await invoicing.customer_and_contact(lab)
    _, item = await invoicing.product_and_item(lab)
    for n in range(5):
        await invoicing.qbo_invoice(lab, customer, [(item, str(n + 1), "50")])
    written = asyncio.Event()
    window_counts = 0

    async def hook(request: httpx.Request) -> None:
        nonlocal window_counts
        statement = request.url.params.get("query", "")
        if request.url.path.endswith("/invoices/batch/create"):
            written.set()
        elif statement.startswith("SELECT COUNT(*) FROM Invoice") and "1970" not in statement:
            window_counts += 1  # the progress bar's (the empty-side count is from 1970)
            await asyncio.wait_for(written.wait(), timeout=10)

    shown: list[tuple[int, int]] = []
    with lab.hooked(hook):
        result = await _backfill(lab, 2, progress=lambda done, total: shown.append((done, total)))

    assert result.complete, result.as_dict()
    assert result.report.pairs[invoicing.INVOICES].created == 5
    assert window_counts == 1
    assert shown[-1] == (5, 5)
    assert all(done <= total for done, total in shown)


async def test_the_custom_line_item_is_looked_up_before_the_first_page_is_read(
    lab: Lab,
) -> None:
    """The invoice rule's first turn needs QBO's "Custom line item" (R-PRD-3): it is
    looked up beside the counts at the start, not after the first page in the chain
    before the first write (one round trip less at the start)."""
    await invoicing.set_up(lab, Direction.TWO_WAY, sync_started_at=LATE)
    _, customer = await invoicing.customer_and_contact(lab)
    _, item = await invoicing.product_and_item(lab)
    await invoicing.qbo_invoice(lab, customer, [(item, "1", "50")])
    order: list[str] = []

    async def hook(request: httpx.Request) -> None:
        statement = request.url.params.get("query", "")
        if "Custom line item" in statement:
            order.append("custom item")
        elif statement.startswith("SELECT * FROM Invoice"):
            order.append("invoice page")

    with lab.hooked(hook):
        result = await _backfill(lab, batch_size=100)

    assert result.report.pairs[invoicing.INVOICES].created == 1
    assert order == ["custom item", "invoice page"]  # looked up once, and first
