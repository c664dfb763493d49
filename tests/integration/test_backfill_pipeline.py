"""The invoice backfill's pipeline (issue 18): the next page is read, planned and written
while the current one waits for its commit, and the guarantees hold: commits in page
order, nothing written twice after a crash between them, a held record read again."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence

import httpx
import pytest

from ledgerbridge.domain import System
from ledgerbridge.operations.backfill import BackfillResult, Progress, backfill_ports
from ledgerbridge.sync.actions import Create
from ledgerbridge.sync.errors import ErrorCategory, TransientError
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.ports import SidePort, WriteAction, WriteResult
from ledgerbridge.sync.rules import Direction, SyncRule
from tests.integration import invoicing
from tests.integration.faults import Crash
from tests.integration.harness import START, Lab
from tests.support.forwarding import ForwardingSide

H, Q = System.HUBSPOT, System.QUICKBOOKS
LATE = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)  # a sync that "starts" after everything
GUARD = 30.0
"""Seconds before a test that waits for the pipeline gives up (it fails; never a pass)."""


class Gated(ForwardingSide):
    """The HubSpot side, with a hook around each `apply` call (numbered from 0)."""

    def __init__(self, inner: SidePort) -> None:
        super().__init__(inner)
        self.calls = 0
        self.around: Callable[[int, Sequence[WriteAction]], object] | None = None
        self.started = [asyncio.Event() for _ in range(8)]
        self.finished = [asyncio.Event() for _ in range(8)]
        self.links_at_start: list[int] = []
        self.links: Callable[[], int] = lambda: 0

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        call, self.calls = self.calls, self.calls + 1
        self.links_at_start.append(self.links())
        self.started[call].set()
        try:
            return await self.write(call, rule, actions, refs)
        finally:
            self.finished[call].set()

    async def write(
        self, call: int, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        return await self.inner.apply(rule, actions, refs)


async def _invoices(lab: Lab, count: int) -> None:
    """QBO → HubSpot (two-way, HubSpot empty): `count` QBO invoices of one line each."""
    await invoicing.set_up(lab, Direction.TWO_WAY, sync_started_at=LATE)
    _, customer = await invoicing.customer_and_contact(lab)
    _, item = await invoicing.product_and_item(lab)
    for n in range(count):
        await invoicing.qbo_invoice(lab, customer, [(item, str(n + 1), "50")])


async def _backfill(
    lab: Lab, hubspot: SidePort | None = None, progress: Progress | None = None
) -> BackfillResult:
    engine = lab.engine()
    return await backfill_ports(
        lab.store,
        lab.connection_id,
        hubspot=hubspot or engine.sides[H],
        qbo=engine.sides[Q],
        name="invoices",
        since=START.date(),
        batch_size=2,
        progress=progress,
        clock=lab.time.now,
    )


async def _hubspot_quantities(lab: Lab) -> list[str]:
    """Every HubSpot line item's quantity: one per QBO invoice (1..n) when none is twice."""
    lines = await lab.hs_all("line_items", "quantity")
    return sorted((str(r.get("quantity")) for r in lines), key=float)


async def test_the_next_page_is_written_before_the_current_one_commits(lab: Lab) -> None:
    """The first page's writes wait until the second page's writes have started: that
    happens only if the second page is read, planned and written while the first is not
    yet committed (one page at a time, the wait would never end)."""
    await _invoices(lab, 6)

    class FirstWaits(Gated):
        async def write(
            self, call: int, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
        ) -> list[WriteResult]:
            if call == 0:
                await asyncio.wait_for(self.started[1].wait(), GUARD)
            return await super().write(call, rule, actions, refs)

    first_waits = FirstWaits(lab.engine().sides[H])
    first_waits.links = lambda: len(lab.links(invoicing.INVOICES))
    set_up: Counter[str] = Counter()

    async def properties(request: httpx.Request) -> None:
        if request.url.path.startswith("/crm/v3/properties/"):
            set_up[request.url.path.split("/")[4]] += 1  # the object type

    before = lab.http.event_hooks
    lab.http.event_hooks = {**before, "request": [*before.get("request", []), properties]}
    try:
        result = await _backfill(lab, first_waits)
    finally:
        lab.http.event_hooks = before

    assert result.complete, result.as_dict()
    assert first_waits.links_at_start[:2] == [0, 0]  # page 2 written, page 1 not committed
    # Each unique property set up once (read: absent, its groups, create), not by both.
    assert set_up == {"invoices": 3, "line_items": 3}, set_up
    assert result.report.pairs[invoicing.INVOICES].created == 6
    assert len(lab.links(invoicing.INVOICES)) == 6
    assert await _hubspot_quantities(lab) == [str(n) for n in range(1, 7)]
    assert (await _backfill(lab)).report.writes == 0


async def test_a_crash_after_the_next_pages_writes_resumes_without_duplicates(lab: Lab) -> None:
    """Page 1 and page 2 are written, then the process dies before page 1 commits (page 2
    may commit or not): the next run writes every invoice once, none twice."""
    await _invoices(lab, 6)

    class CrashOnFirst(Gated):
        async def write(
            self, call: int, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
        ) -> list[WriteResult]:
            answers = await super().write(call, rule, actions, refs)
            if call == 0:
                await asyncio.wait_for(self.finished[1].wait(), GUARD)
                raise Crash("after page 2's writes, before page 1's commit")
            return answers

    crashing = CrashOnFirst(lab.engine().sides[H])

    with pytest.raises(Crash):
        await _backfill(lab, crashing)

    assert len(await lab.hs_all("invoices")) == 4  # both pages were written
    resumed = await _backfill(lab)

    assert resumed.complete, resumed.as_dict()
    assert len(await lab.hs_all("invoices")) == 6
    assert await _hubspot_quantities(lab) == [str(n) for n in range(1, 7)]
    assert len(lab.links(invoicing.INVOICES)) == 6
    assert (await _backfill(lab)).report.writes == 0


async def test_a_held_invoice_is_read_again_after_the_pages_in_flight(lab: Lab) -> None:
    """The first page's second invoice fails transiently once: the page commits short of
    its end while page 2 is in flight; page 2 commits its links without moving the
    position, and the window is served again from the held invoice."""
    await _invoices(lab, 6)

    class FailOnce(Gated):
        async def write(
            self, call: int, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
        ) -> list[WriteResult]:
            if call != 0:
                return await super().write(call, rule, actions, refs)
            await asyncio.wait_for(self.started[1].wait(), GUARD)  # page 2 in flight
            held = [a for a in actions if isinstance(a, Create)][-1]
            rest = [a for a in actions if a is not held]
            written = {id(r.action): r for r in await super().write(call, rule, rest, refs)}
            busy = TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "try again")
            written[id(held)] = WriteResult(held, error=busy)
            return [written[id(a)] for a in actions]

    failing = FailOnce(lab.engine().sides[H])
    failing.links = lambda: len(lab.links(invoicing.INVOICES))

    result = await _backfill(lab, failing)

    assert result.complete, result.as_dict()
    assert failing.links_at_start[1] == 0  # page 2 was written before page 1 committed
    assert result.report.pairs[invoicing.INVOICES].created == 6
    assert result.report.pairs[invoicing.INVOICES].pending == 1
    assert len(lab.links(invoicing.INVOICES)) == 6
    assert await _hubspot_quantities(lab) == [str(n) for n in range(1, 7)]
    assert (await _backfill(lab)).report.writes == 0


class Enough(Exception):
    """The progress callback's stop (as a distributed backfill's chunk stops)."""


async def test_a_stop_from_the_progress_callback_lets_the_page_in_flight_commit(
    lab: Lab,
) -> None:
    """The callback stops the run after the first page; the second page, already in
    flight, finishes and commits (its writes are not left for a replay), and the next
    run starts after it."""
    await _invoices(lab, 6)

    def stop_after_first_page(done: int, total: int) -> None:
        if done >= 2:
            raise Enough

    with pytest.raises(Enough):
        await _backfill(lab, progress=stop_after_first_page)

    assert len(lab.links(invoicing.INVOICES)) == 4
    resumed = await _backfill(lab)
    assert resumed.complete, resumed.as_dict()
    assert resumed.report.pairs[invoicing.INVOICES].created == 2
    assert await _hubspot_quantities(lab) == [str(n) for n in range(1, 7)]


async def test_towards_qbo_a_crash_after_the_next_pages_writes_resumes_without_duplicates(
    lab: Lab,
) -> None:
    """HubSpot → QBO (two turns at once since QBO batch calls share the room they
    promise): page 1 and page 2 are written to QBO, then the process dies before page 1
    commits; the next run leaves every invoice in QBO once (the write journal replays
    the creates already sent), none twice."""
    await invoicing.set_up(lab, sync_started_at=LATE)
    contact, _ = await invoicing.customer_and_contact(lab)
    product, _ = await invoicing.product_and_item(lab)
    for n in range(6):
        await invoicing.hs_invoice(lab, contact, [("Widget", f"{n + 1}x50", product)])

    class CrashOnFirst(Gated):
        async def write(
            self, call: int, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
        ) -> list[WriteResult]:
            if call == 0:  # page 1 is written only once page 2's writes have started
                await asyncio.wait_for(self.started[1].wait(), GUARD)
            answers = await super().write(call, rule, actions, refs)
            if call == 0:
                await asyncio.wait_for(self.finished[1].wait(), GUARD)
                raise Crash("after page 2's writes, before page 1's commit")
            return answers

    engine = lab.engine()
    crashing = CrashOnFirst(engine.sides[Q])

    async def run(qbo: SidePort | None = None) -> BackfillResult:
        fresh = lab.engine()
        return await backfill_ports(
            lab.store,
            lab.connection_id,
            hubspot=fresh.sides[H],
            qbo=qbo or fresh.sides[Q],
            name="invoices",
            since=START.date(),
            batch_size=2,
            clock=lab.time.now,
        )

    with pytest.raises(Crash):
        await run(crashing)

    assert len(await lab.qbo_all("Invoice")) == 4  # both pages were written
    resumed = await run()

    assert resumed.complete, resumed.as_dict()
    invoices = await lab.qbo_all("Invoice")
    quantities = sorted(float(i["Line"][0]["SalesItemLineDetail"]["Qty"]) for i in invoices)
    assert quantities == [float(n) for n in range(1, 7)]
    assert len(lab.links(invoicing.INVOICES)) == 6
    assert (await run()).report.writes == 0
