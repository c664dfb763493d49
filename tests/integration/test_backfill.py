"""Historical backfill over both sandboxes (R-INV-3 Beyond, R-BEY-1, R-BEY-3)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.domain import System
from ledgerbridge.operations.backfill import (
    BackfillError,
    BackfillResult,
    HubSpotWindow,
    QboWindow,
    backfill_all,
    backfill_ports,
)
from ledgerbridge.operations.backfill import state as backfill_state
from ledgerbridge.sandbox.qbo.config import DEFAULT_REALM
from ledgerbridge.sync.ports import SidePort
from ledgerbridge.sync.rules import SYNC_STARTED, Direction, Filter, FilterOperator, ObjectPair
from tests.integration.conftest import configured_sandboxes, contacts_rule, products_rule
from tests.integration.faults import Crash, CrashingSide, WriteCounter
from tests.integration.harness import START, Lab
from tests.integration.invoicing import hs_invoice, qbo_invoice, qbo_item, set_up

CONTACTS, PRODUCTS = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS
H, Q = System.HUBSPOT, System.QUICKBOOKS
DAY = 86_400
WINDOW = dt.date(2026, 1, 17)  # the lab starts on 2026-01-15
LATE = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)  # a sync that "starts" after everything
AFTER_START = Filter(
    flow=Direction.HUBSPOT_TO_QBO,
    property="@updated_at",
    operator=FilterOperator.AFTER,
    value=SYNC_STARTED,
    label="Created or modified after the sync started",
)


async def _backfill(
    lab: Lab,
    name: str,
    *,
    dry_run: bool = False,
    batch_size: int = 100,
    hubspot: SidePort | None = None,
    qbo: SidePort | None = None,
    since: dt.date = WINDOW,
) -> BackfillResult:
    engine = lab.engine()
    return await backfill_ports(
        lab.store,
        lab.connection_id,
        hubspot=hubspot or engine.sides[H],
        qbo=qbo or engine.sides[Q],
        name=name,
        since=since,
        dry_run=dry_run,
        batch_size=batch_size,
        clock=lab.time.now,
    )


async def _history(lab: Lab, emails: list[str]) -> dict[str, str]:
    """One contact before the window, `emails` inside it, then the rule starts (the
    after-start filter keeps a normal pass away from all of them). Email → HubSpot id."""
    ids = {"old@x.io": await lab.hs_create("contacts", email="old@x.io", firstname="Old")}
    lab.time.advance(2 * DAY)
    for email in emails:
        ids[email] = await lab.hs_create("contacts", email=email, firstname=email[0].upper())
    lab.time.advance(DAY)
    lab.save_rule(contacts_rule(direction=Direction.HUBSPOT_TO_QBO, filters=(AFTER_START,)))
    lab.time.advance(60)
    report = await lab.engine().run_pass()
    assert report.writes == 0 and report.pairs[CONTACTS].excluded == len(ids)
    return ids


async def test_a_turn_s_commit_leaves_the_event_loop_free(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18: a turn's rows are written in a worker thread; on the loop's thread that
    write held the requests whose rate-limit slots freed meanwhile. Here each write takes
    0.2 s, and a ticker on the loop must keep ticking through it."""
    await _history(lab, ["bea@x.io", "cy@x.io", "dee@x.io"])
    real = backfill_state.write_commit
    ticks: list[float] = []
    during: list[int] = []

    def slow_write(*args: Any) -> None:
        before = len(ticks)
        time.sleep(0.2)
        during.append(len(ticks) - before)
        real(*args)

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    monkeypatch.setattr(backfill_state, "write_commit", slow_write)
    ticking = asyncio.create_task(ticker())
    try:
        result = await _backfill(lab, "contacts", batch_size=2)
    finally:
        ticking.cancel()
    assert result.complete, result.as_dict()
    assert await lab.qbo_emails() == ["bea@x.io", "cy@x.io", "dee@x.io"]
    assert len(during) == 2 and min(during) >= 5, during


async def test_R_INV_3_dry_run_previews_and_writes_nothing(lab: Lab) -> None:
    await _history(lab, ["bea@x.io", "cy@x.io"])
    existing = await lab.qbo_create(
        "Customer", {"DisplayName": "Cy", "PrimaryEmailAddr": {"Address": "cy@x.io"}}
    )
    with lab.store.begin() as tx:
        activity_before = len(tx.list_activity(lab.connection_id))

    result = await _backfill(lab, "contacts", dry_run=True)

    pair = result.report.pairs[CONTACTS]
    assert (pair.created, pair.linked, pair.failed) == (1, 1, 0), result.as_dict()
    planned = {a["action"]: a for a in result.as_dict()["report"]["pairs"][0]["actions"]}
    assert planned["create"]["fields"]["email"] == "bea@x.io"
    assert planned["link"]["qbo"] == f"quickbooks:{existing['Id']}"
    assert result.complete and result.dry_run
    assert await lab.qbo_emails() == ["cy@x.io"]
    assert lab.links(CONTACTS) == []
    with lab.store.begin() as tx:
        assert len(tx.list_activity(lab.connection_id)) == activity_before
        assert tx.get_cursor(lab.connection_id, H, "backfill:contacts") is None


async def test_R_INV_3_backfill_creates_historical_records_once(lab: Lab) -> None:
    ids = await _history(lab, ["bea@x.io", "cy@x.io", "dee@x.io"])
    cy = await lab.qbo_create(
        "Customer", {"DisplayName": "Cy", "PrimaryEmailAddr": {"Address": "CY@x.io"}}
    )

    result = await _backfill(lab, "contacts", batch_size=2)

    pair = result.report.pairs[CONTACTS]
    assert result.complete, result.as_dict()
    assert (pair.created, pair.linked, pair.failed, pair.excluded) == (2, 1, 0, 0)
    assert await lab.qbo_emails() == ["bea@x.io", "cy@x.io", "dee@x.io"]  # "old" is outside
    links = {x.hubspot_id: x.qbo_id for x in lab.links(CONTACTS)}
    assert links[ids["cy@x.io"]] == str(cy["Id"]) and ids["old@x.io"] not in links
    with lab.store.begin() as tx:
        audit = tx.list_activity(lab.connection_id)
    assert any(a.details.get("via") == "backfill" for a in audit)
    # Again: nothing to do; and the normal pass leaves the backfilled records alone.
    again = await _backfill(lab, "contacts")
    assert again.complete and again.report.writes == 0, again.as_dict()
    assert (await lab.engine().run_pass()).writes == 0
    assert await lab.qbo_emails() == ["bea@x.io", "cy@x.io", "dee@x.io"]


async def test_R_BEY_1_interrupted_backfill_resumes_without_duplicates(lab: Lab) -> None:
    emails = [f"p{n}@x.io" for n in range(6)]
    await _history(lab, emails)
    engine = lab.engine()
    crashing = CrashingSide(engine.sides[Q], WriteCounter(crash_after=3))

    with pytest.raises(Crash):
        await _backfill(lab, "contacts", batch_size=2, qbo=crashing)

    assert len(lab.links(CONTACTS)) == 2  # the first batch was recorded
    assert len(await lab.qbo_emails()) == 3  # the crash hit after the third write

    resumed = await _backfill(lab, "contacts", batch_size=2)

    assert resumed.complete, resumed.as_dict()
    # The first batch is not planned again; the interrupted one is, and the customer
    # its first write made is found by email and linked, not created twice.
    pair = resumed.report.pairs[CONTACTS]
    assert (pair.created, pair.linked) == (3, 1)
    assert await lab.qbo_emails() == emails
    assert len(lab.links(CONTACTS)) == 6
    assert (await _backfill(lab, "contacts")).report.writes == 0


async def test_R_INV_3_backfill_products_from_qbo(lab: Lab) -> None:
    account = await lab.income_account()
    lab.time.advance(2 * DAY)
    for sku in ("Q-1", "Q-2"):
        await lab.qbo_create(
            "Item",
            {
                "Name": f"Item {sku}",
                "Sku": sku,
                "Type": "Service",
                "UnitPrice": 7,
                "IncomeAccountRef": {"value": account},
            },
        )
    existing = await lab.hs_create("products", name="Item Q-2", hs_sku="Q-2", price="7")
    lab.time.advance(DAY)
    created_after_today = Filter(
        flow=Direction.QBO_TO_HUBSPOT,
        property="MetaData.CreateTime",
        operator=FilterOperator.AFTER,
        value=lab.time.now().isoformat(),
        label="Created after today",
    )
    rule = products_rule()
    lab.save_rule(rule.model_copy(update={"filters": (*rule.filters, created_after_today)}))
    assert (await lab.engine().run_pass()).writes == 0

    result = await _backfill(lab, "products")

    pair = result.report.pairs[PRODUCTS]
    assert result.complete and (pair.created, pair.linked) == (1, 1), result.as_dict()
    skus = sorted(str(p.get("hs_sku")) for p in await lab.hs_all("products", "hs_sku"))
    assert skus == ["Q-1", "Q-2"]
    assert existing in {x.hubspot_id for x in lab.links(PRODUCTS)}
    assert (await _backfill(lab, "products")).report.writes == 0


async def test_backfill_needs_a_rule_that_is_on(lab: Lab) -> None:
    with pytest.raises(BackfillError, match="no products_items rule"):
        await _backfill(lab, "products")
    lab.save_rule(contacts_rule(enabled=False))
    with pytest.raises(BackfillError, match="turned off"):
        await _backfill(lab, "contacts")
    with pytest.raises(BackfillError, match="cannot backfill"):
        await _backfill(lab, "deals")


# ---- the command ----


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    rule = contacts_rule(direction=Direction.HUBSPOT_TO_QBO, filters=(AFTER_START,))
    rule = rule.model_copy(update={"sync_started_at": LATE})
    with configured_sandboxes(tmp_path, monkeypatch, [rule]) as (_, hs_url, qbo_url):
        with httpx.Client(timeout=10) as http:
            for email in ("ann@x.io", "bob@x.io"):
                http.post(
                    f"{hs_url}/_sandbox/objects/contacts",
                    json={"properties": {"email": email, "firstname": email[:3]}},
                ).raise_for_status()
        yield hs_url, qbo_url


def _customers(qbo_url: str) -> list[str]:
    with httpx.Client(timeout=10) as http:
        body = http.get(
            f"{qbo_url}/v3/company/{DEFAULT_REALM}/query",
            params={"query": "SELECT * FROM Customer"},
            headers={"Authorization": "Bearer sandbox", "Accept": "application/json"},
        ).json()
    return sorted(
        c["PrimaryEmailAddr"]["Address"] for c in body["QueryResponse"].get("Customer", [])
    )


def test_R_INV_3_backfill_command(configured: tuple[str, str]) -> None:
    _, qbo_url = configured
    runner = CliRunner()
    args = ["backfill", "--object", "contacts", "--since", "2000-01-01"]

    preview = runner.invoke(app, [*args, "--dry-run", "--json"])
    assert preview.exit_code == 0, preview.output
    data = json.loads(preview.output)
    assert data["dry_run"] is True and data["report"]["pairs"][0]["created"] == 2
    assert _customers(qbo_url) == []

    done = runner.invoke(app, [*args, "--batch-size", "1"])
    assert done.exit_code == 0, done.output
    assert "complete" in done.output
    assert _customers(qbo_url) == ["ann@x.io", "bob@x.io"]

    again = runner.invoke(app, [*args, "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["report"]["pairs"][0]["created"] == 0
    assert _customers(qbo_url) == ["ann@x.io", "bob@x.io"]

    wrong = runner.invoke(app, ["backfill", "--object", "products", "--since", "2000-01-01"])
    assert wrong.exit_code == 2 and "there is no product sync rule" in wrong.output
    assert "run `ledgerbridge rules setup`" in wrong.output


async def test_R_INV_3_backfill_invoices_links_existing_and_creates_the_rest(lab: Lab) -> None:
    from tests.integration import invoicing

    await invoicing.set_up(lab, sync_started_at=LATE)  # every invoice is historical
    contact, customer = await invoicing.customer_and_contact(lab)
    product, item = await invoicing.product_and_item(lab)
    fresh = await invoicing.hs_invoice(lab, contact, [("Widget", "2x50", product)])
    twin = await invoicing.hs_invoice(lab, contact, [("Widget", "1x30", product)])
    made = await invoicing.hs_get(lab, "invoices", twin)
    number, issued = made.get("hs_number"), str(made.get("hs_invoice_date"))[:10]
    existing = await invoicing.qbo_invoice(
        lab, customer, [(item, "1", "30")], DocNumber=number, TxnDate=issued
    )
    await lab.engine().run_pass()  # the sync leaves historical invoices alone
    assert len(await lab.qbo_all("Invoice")) == 1
    day = START.date()

    preview = await _backfill(lab, "invoices", dry_run=True, since=day)
    key = f"{str(number).casefold()}|{contact}|{issued}|30 USD"
    assert preview.matched == [(twin, str(existing["Id"]), key)]
    assert preview.report.pairs[invoicing.INVOICES].created == 1
    assert len(await lab.qbo_all("Invoice")) == 1

    result = await _backfill(lab, "invoices", since=day)

    assert result.complete, result.as_dict()
    assert result.report.pairs[invoicing.INVOICES].created == 1
    links = {x.hubspot_id: x.qbo_id for x in lab.links(invoicing.INVOICES)}
    assert links[twin] == str(existing["Id"]) and fresh in links
    assert len(await lab.qbo_all("Invoice")) == 2
    assert (await _backfill(lab, "invoices", since=day)).report.writes == 0
    assert len(await lab.qbo_all("Invoice")) == 2


class UpdatingSide:
    """A HubSpot side that, during the first batch's writes, updates QBO items: one
    already served and one not served yet (a modification-time order would move it)."""

    def __init__(self, inner: SidePort, lab: Lab, items: dict[str, str]) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self.lab = lab
        self.items = items
        self.batches = 0

    @property
    def system(self) -> System:
        return self.inner.system

    async def read_changes(self, rule: Any, since: Any, refs: Any) -> Any:
        return await self.inner.read_changes(rule, since, refs)

    async def read_records(self, rule: Any, ids: Any, refs: Any) -> Any:
        return await self.inner.read_records(rule, ids, refs)

    async def find_candidates(self, rule: Any, keys: Any, refs: Any) -> Any:
        return await self.inner.find_candidates(rule, keys, refs)

    async def display_names(self) -> frozenset[str]:
        return await self.inner.display_names()

    async def apply(self, rule: Any, actions: Any, refs: Any) -> Any:
        self.batches += 1
        if self.batches == 1:
            for sku in ("Q-0", "Q-3"):
                await self.lab.qbo_update(
                    "Item", self.items[sku], {"UnitPrice": 99, "sparse": True}
                )
        return await self.inner.apply(rule, actions, refs)


async def test_R_INV_3_streamed_window_survives_updates_and_reads_each_page_once(lab: Lab) -> None:
    account = await lab.income_account()
    lab.time.advance(2 * DAY)
    items = {}
    for n in range(5):
        sku = f"Q-{n}"
        made = await lab.qbo_create(
            "Item",
            {
                "Name": f"Item {sku}",
                "Sku": sku,
                "Type": "Service",
                "UnitPrice": 7,
                "IncomeAccountRef": {"value": account},
            },
        )
        items[sku] = str(made["Id"])
    lab.save_rule(products_rule())
    engine = lab.engine()
    updating = UpdatingSide(engine.sides[H], lab, items)

    result = await _backfill(lab, "products", batch_size=2, hubspot=updating)

    assert result.complete, result.as_dict()
    skus = sorted(str(p.get("hs_sku")) for p in await lab.hs_all("products", "hs_sku"))
    assert skus == [f"Q-{n}" for n in range(5)]  # each once, none skipped
    assert result.report.pairs[PRODUCTS].created == 5
    # One read a page: the first, then one prefetch per batch. The third page came back
    # short (1 of 2): the window ends there, so no pass is run to find it done.
    assert result.passes == 3
    assert result.reads == 3


def test_R_INV_3_backfill_all_runs_every_rule_that_is_on(configured: tuple[str, str]) -> None:
    _, qbo_url = configured
    runner = CliRunner()
    args = ["backfill", "--object", "all", "--since", "2000-01-01", "--json"]

    preview = runner.invoke(app, [*args, "--dry-run"])
    assert preview.exit_code == 0, preview.output
    data = json.loads(preview.output)
    assert data["complete"] is True
    assert [o["object"] for o in data["objects"]] == ["contacts"]  # no product / invoice rule
    assert data["objects"][0]["report"]["pairs"][0]["created"] == 2
    assert _customers(qbo_url) == []

    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["objects"][0]["complete"] is True
    assert _customers(qbo_url) == ["ann@x.io", "bob@x.io"]

    table = runner.invoke(app, args[:-1])
    assert table.exit_code == 0 and "Backfill of contacts" in table.output, table.output
    assert _customers(qbo_url) == ["ann@x.io", "bob@x.io"]


@pytest.mark.parametrize("source", [H, Q])
async def test_R_INV_3_a_second_crowded_past_a_page_is_walked_in_pages(
    lab: Lab, source: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records created in the same second (a bulk import) beyond one read's worth: the
    window walks that second by id through the sandbox's real query (QBO `Id > …`,
    HubSpot `hs_object_id GT …`), a page at a time, and serves each record once."""
    monkeypatch.setattr(HubSpotWindow, "max_page", 3)
    monkeypatch.setattr(QboWindow, "max_page", 3)
    lab.time.advance(2 * DAY)
    emails = [f"bulk{n:02d}@x.io" for n in range(11)]
    qbo = lab.qbo_client()
    for n, email in enumerate(emails):  # the clock stands still: one creation second for all
        if source is H:
            made = await lab.http.post(
                f"{lab.hubspot_url}/_sandbox/objects/contacts",
                json={"properties": {"email": email, "firstname": "Bulk"}},
            )
            made.raise_for_status()
        else:
            customer = {"DisplayName": email, "PrimaryEmailAddr": {"Address": email}}
            await qbo.create("Customer", customer, request_id=f"bulk-{n}")
    lab.time.advance(DAY)
    flow = Direction.HUBSPOT_TO_QBO if source is H else Direction.QBO_TO_HUBSPOT
    after_start = AFTER_START.model_copy(update={"flow": flow})
    lab.save_rule(contacts_rule(direction=flow, filters=(after_start,)))
    assert (await lab.engine().run_pass()).writes == 0  # historical: only a backfill syncs them
    lab.time.advance(60)

    served: list[int] = []
    engine = lab.engine()
    result = await backfill_ports(
        lab.store,
        lab.connection_id,
        hubspot=engine.sides[H],
        qbo=engine.sides[Q],
        name="contacts",
        since=WINDOW,
        batch_size=2,
        progress=lambda done, total: served.append(done - sum(served)),
        clock=lab.time.now,
    )

    assert result.complete, result.as_dict()
    assert result.report.pairs[CONTACTS].created == len(emails)
    assert max(served) <= 3  # no batch larger than one read (never the whole second)
    if source is H:
        assert await lab.qbo_emails() == emails
    else:
        found = sorted(str(c.get("email")) for c in await lab.hs_all("contacts", "email"))
        assert found == emails
    assert len(lab.links(CONTACTS)) == len(emails)
    assert (await _backfill(lab, "contacts")).report.writes == 0


async def test_R_BEY_3_a_dry_run_of_every_object_plans_invoices_for_the_customers_it_would_make(
    lab: Lab,
) -> None:
    """Nothing is linked yet: the dry run of the contacts plans to create them, and the dry
    run of the invoices after it plans each invoice for the customer that would be made
    (as the backfill will), not a failure for a customer not linked yet."""
    await set_up(lab, Direction.TWO_WAY)
    contact = await lab.hs_create("contacts", email="ann@example.com", firstname="Ann")
    await hs_invoice(lab, contact, [("Thing", "1x10", None)])
    body = {"DisplayName": "Bo", "PrimaryEmailAddr": {"Address": "bo@example.com"}}
    customer = str((await lab.qbo_create("Customer", body))["Id"])
    item = await qbo_item(lab, "Widget", "W-1", "50")
    await qbo_invoice(lab, customer, [(item, "2", "50")])
    engine = lab.engine()

    results = await backfill_all(
        lab.store,
        lab.connection_id,
        hubspot=engine.sides[H],
        qbo=engine.sides[Q],
        since=START.date(),
        dry_run=True,
        clock=lab.time.now,
    )

    assert [r.name for r in results] == ["contacts", "products", "invoices"]
    invoices = results[-1].report.pairs[ObjectPair.INVOICES_INVOICES]
    assert (invoices.created, invoices.failed) == (2, 0), results[-1].as_dict()
    planned = results[-1].as_dict()["report"]["pairs"][0]["actions"]
    from_qbo = next(a for a in planned if a.get("source", "").startswith("quickbooks:"))
    assert from_qbo["fields"]["customer"] == f"new:quickbooks:{customer}"
    assert lab.links(CONTACTS) == [] and lab.links(ObjectPair.INVOICES_INVOICES) == []
    assert len(await lab.qbo_all("Invoice")) == 1 and len(await lab.qbo_all("Customer")) == 1
