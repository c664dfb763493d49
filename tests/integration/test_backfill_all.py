"""`backfill_all` over both sandboxes: the order of its objects and the set-up it does
ahead (R-INV-3 Beyond; issue 18: the start of a backfill)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from ledgerbridge.domain import System
from ledgerbridge.operations.backfill import BackfillResult, Progress, backfill_all
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.ports import SidePort, WriteAction, WriteResult
from ledgerbridge.sync.rules import Direction, ObjectPair, SyncRule
from tests.integration.harness import START, Lab
from tests.integration.invoicing import qbo_invoice, qbo_item, set_up
from tests.support.forwarding import ForwardingSide

CONTACTS, PRODUCTS = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS
INVOICES = ObjectPair.INVOICES_INVOICES
H, Q = System.HUBSPOT, System.QUICKBOOKS
UNIQUE_TYPES = ("contacts", "products", "invoices", "line_items")
WRITES = ("/batch/upsert", "/batch/create", "/batch/update")


class Meeting(ForwardingSide):
    """Holds the contacts' and the products' first writes until the other one's has
    come too (a backfill that runs them one after the other never gets past the first),
    and notes which of the two were done when the invoices' writes came."""

    def __init__(self, inner: SidePort) -> None:
        super().__init__(inner)
        self.came = {CONTACTS: asyncio.Event(), PRODUCTS: asyncio.Event()}
        self.done: set[ObjectPair] = set()
        self.done_before_invoices: set[ObjectPair] | None = None

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        pair = rule.object_pair
        if pair in self.came:
            self.came[pair].set()
            other = PRODUCTS if pair is CONTACTS else CONTACTS
            await asyncio.wait_for(self.came[other].wait(), timeout=10)
        elif pair is INVOICES and self.done_before_invoices is None:
            self.done_before_invoices = set(self.done)
        results = await self.inner.apply(rule, actions, refs)
        self.done.add(pair)
        return results


async def _qbo_books(lab: Lab) -> None:
    """One QBO customer, one item and one invoice of the two, none in HubSpot yet."""
    body = {"DisplayName": "Bo", "PrimaryEmailAddr": {"Address": "bo@example.com"}}
    customer = str((await lab.qbo_create("Customer", body))["Id"])
    item = await qbo_item(lab, "Widget", "W-1", "50")
    await qbo_invoice(lab, customer, [(item, "2", "50")])


async def _backfill_all(
    lab: Lab,
    *,
    hubspot: SidePort | None = None,
    dry_run: bool = False,
    shown: list[tuple[str, int, int]] | None = None,
) -> list[BackfillResult]:
    engine = lab.engine()

    def progress(name: str) -> Progress | None:
        if shown is None:
            return None
        return lambda done, total: shown.append((name, done, total))

    return await backfill_all(
        lab.store,
        lab.connection_id,
        hubspot=hubspot or engine.sides[H],
        qbo=engine.sides[Q],
        since=START.date(),
        dry_run=dry_run,
        progress=progress,
        clock=lab.time.now,
    )


async def test_R_INV_3_contacts_and_products_are_backfilled_at_once_then_invoices(
    lab: Lab,
) -> None:
    await set_up(lab, Direction.QBO_TO_HUBSPOT)
    await _qbo_books(lab)
    hubspot = Meeting(lab.engine().sides[H])

    results = await _backfill_all(lab, hubspot=hubspot)

    assert [(r.name, r.complete, r.report.writes) for r in results] == [
        ("contacts", True, 1),
        ("products", True, 1),
        ("invoices", True, 1),
    ]
    assert hubspot.done_before_invoices == {CONTACTS, PRODUCTS}
    assert len(lab.links(INVOICES)) == 1


async def test_R_INV_3_a_backfill_sets_up_every_unique_property_once_before_writing(
    lab: Lab,
) -> None:
    """The unique property of every object type the backfill writes to HubSpot is set up
    ahead, at once (not type after type, each before its first write), and once each."""
    await set_up(lab, Direction.QBO_TO_HUBSPOT)
    await _qbo_books(lab)
    sent: list[str] = []

    async def note(request: httpx.Request) -> None:
        path = request.url.path
        if path.startswith("/crm/v3/properties/") or path.endswith(WRITES):
            sent.append(f"{request.method} {path}")

    lab.http.event_hooks["request"].append(note)
    await _backfill_all(lab)

    property_calls = [s for s in sent if s.split()[1].startswith("/crm/v3/properties/")]
    reads = [s for s in property_calls if s.endswith("/ledgerbridge_qbo_id")]
    first_create = next(i for i, s in enumerate(property_calls) if s.startswith("POST"))
    assert len(reads) == len(UNIQUE_TYPES) and all(
        property_calls.index(s) < first_create for s in reads
    ), property_calls  # all four started before the first one was done: at once
    for kind in UNIQUE_TYPES:
        path = f"/crm/v3/properties/{kind}"
        counts = (sent.count(f"GET {path}/ledgerbridge_qbo_id"), sent.count(f"POST {path}"))
        assert counts == (1, 1), (kind, sent)
        first_write = next(i for i, s in enumerate(sent) if f"/objects/{kind}/batch/" in s)
        assert sent.index(f"POST {path}") < first_write, (kind, sent)


async def test_R_BEY_3_a_dry_run_sets_nothing_up_in_hubspot(lab: Lab) -> None:
    await set_up(lab, Direction.QBO_TO_HUBSPOT)
    await _qbo_books(lab)
    sent: list[str] = []

    async def note(request: httpx.Request) -> None:
        if request.method != "GET" and request.url.path.startswith("/crm/v3/properties/"):
            sent.append(request.url.path)

    lab.http.event_hooks["request"].append(note)
    results = await _backfill_all(lab, dry_run=True)

    pairs = (CONTACTS, PRODUCTS, INVOICES)
    planned = [r.report.pairs[pair].created for r, pair in zip(results, pairs, strict=True)]
    assert planned == [1, 1, 1]
    assert sent == []


class HeldContacts(ForwardingSide):
    """Holds the contacts' first write until `ready` is set; notes the objects of the
    writes in the order they came."""

    def __init__(self, inner: SidePort, ready: asyncio.Event) -> None:
        super().__init__(inner)
        self.ready = ready
        self.writes: list[ObjectPair] = []

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        if rule.object_pair is CONTACTS:
            await asyncio.wait_for(self.ready.wait(), timeout=10)
        self.writes.append(rule.object_pair)
        return await self.inner.apply(rule, actions, refs)


async def test_R_INV_3_the_invoices_first_page_is_read_while_contacts_are_written(
    lab: Lab,
) -> None:
    """The invoices' window is counted and its first page read while their customers and
    items are still being backfilled (those reads need no link), so the first invoice
    write follows the last contact write without that chain of round trips; no invoice
    is planned or written before (here the contacts' write waits for that page: a
    backfill that read it only after the contacts never gets past them)."""
    await set_up(lab, Direction.QBO_TO_HUBSPOT)
    await _qbo_books(lab)
    page_read = asyncio.Event()

    async def note(request: httpx.Request) -> None:
        if request.url.params.get("query", "").startswith("SELECT * FROM Invoice"):
            page_read.set()

    lab.http.event_hooks["request"].append(note)
    hubspot = HeldContacts(lab.engine().sides[H], page_read)

    results = await _backfill_all(lab, hubspot=hubspot)

    assert [(r.name, r.complete, r.report.writes) for r in results] == [
        ("contacts", True, 1),
        ("products", True, 1),
        ("invoices", True, 1),
    ]
    assert hubspot.writes.index(INVOICES) > hubspot.writes.index(CONTACTS)
    assert len(lab.links(INVOICES)) == 1


async def test_the_invoices_progress_begins_once_their_customers_and_items_are_done(
    lab: Lab,
) -> None:
    """Each object's progress starts at 0 as its writes begin; the invoices', whose
    window is read ahead meanwhile, only after the contacts and products completed (its
    bar used to sit at 0/? from the start, as if stuck)."""
    await set_up(lab, Direction.QBO_TO_HUBSPOT)
    await _qbo_books(lab)
    shown: list[tuple[str, int, int]] = []

    await _backfill_all(lab, shown=shown)

    names = [name for name, _, _ in shown]
    for name in ("contacts", "products", "invoices"):
        calls = [(done, total) for n, done, total in shown if n == name]
        assert calls[0][0] == 0 and calls[-1] == (1, 1), shown
    first_invoice = names.index("invoices")
    assert {"contacts", "products"}.isdisjoint(names[first_invoice:]), shown


async def test_an_empty_window_s_progress_ends_at_nothing_of_nothing(lab: Lab) -> None:
    await set_up(lab, Direction.QBO_TO_HUBSPOT)
    shown: list[tuple[str, int, int]] = []

    results = await _backfill_all(lab, shown=shown)

    assert all(r.complete for r in results)
    for name in ("contacts", "products", "invoices"):
        assert [(d, t) for n, d, t in shown if n == name][-1] == (0, 0), shown


async def test_R_INV_3_invoices_read_ahead_write_nothing_when_their_customers_fail(
    lab: Lab,
) -> None:
    """The contacts' backfill stops (QBO refuses every read of its customers): the
    invoices, whose window was counted and first page read meanwhile, are neither
    planned, written nor reported."""
    await set_up(lab, Direction.QBO_TO_HUBSPOT)
    await _qbo_books(lab)

    invoice_pages = 0

    async def refuse(request: httpx.Request) -> None:
        nonlocal invoice_pages
        statement = request.url.params.get("query", "")
        if statement.startswith("SELECT * FROM Customer"):
            raise httpx.ConnectError("QuickBooks is down for customers", request=request)
        invoice_pages += statement.startswith("SELECT * FROM Invoice")

    lab.http.event_hooks["request"].append(refuse)
    ready = asyncio.Event()
    ready.set()
    hubspot = HeldContacts(lab.engine().sides[H], ready)

    results = await _backfill_all(lab, hubspot=hubspot)

    assert [(r.name, r.complete) for r in results] == [("contacts", False), ("products", True)]
    assert invoice_pages == 1  # read ahead, then left
    assert INVOICES not in hubspot.writes
    assert lab.links(INVOICES) == []
