"""Backfill request counts (issue 18): no request whose answer is already known. Each test
counts the requests the engine sends to the sandboxes (real HTTP), not the time."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from ledgerbridge.domain import System
from ledgerbridge.operations.backfill import BackfillResult, backfill_ports
from ledgerbridge.sync.rules import Direction
from tests.integration import invoicing
from tests.integration.harness import START, Lab

H, Q = System.HUBSPOT, System.QUICKBOOKS
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

    before = lab.http.event_hooks
    lab.http.event_hooks = {**before, "request": [*before.get("request", []), hook]}
    try:
        yield seen
    finally:
        lab.http.event_hooks = before


async def _backfill(lab: Lab, batch_size: int, *, progress: bool = True) -> BackfillResult:
    engine = lab.engine()
    return await backfill_ports(
        lab.store,
        lab.connection_id,
        hubspot=engine.sides[H],
        qbo=engine.sides[Q],
        name="invoices",
        since=START.date(),
        batch_size=batch_size,
        clock=lab.time.now,
        progress=(lambda done, total: None) if progress else None,
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
    assert result.passes == 4  # 2 + 2 + 1, then a pass that finds the window done
    assert seen[INVOICE_SEARCH] == 1  # the count that finds HubSpot empty (counted first)
    # QBO: the pages (the third, 1 of 2, ends the window, so the pass after it reads
    # nothing) and the count for the progress bar (the first page did not end it).
    assert seen["QUERY Invoice"] == 3 + 1, seen


async def test_the_source_is_read_once_when_the_other_side_is_empty(lab: Lab) -> None:
    """HubSpot → QBO with no invoice in QBO: the HubSpot invoices (with their
    associations and line items) are read once, by the window. Before, the key index read
    them all a first time to match them against QBO's none."""
    await invoicing.set_up(lab, sync_started_at=LATE)
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
