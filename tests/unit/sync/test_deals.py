"""The R-INV-6 deal roll-up: which invoice a deal follows, and what it writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence

from ledgerbridge.domain import InvoiceStatus, RecordRef
from ledgerbridge.sync.deals import (
    BALANCE,
    NUMBER,
    QBO_ID,
    STATUS,
    TOTAL,
    DealPort,
    deal_invoices,
    differs,
    invoice_values,
    most_recent,
    plan_deals,
    run_deal_pass,
)
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.errors import ErrorCategory, SyncError, TransientError
from ledgerbridge.sync.model import Link, RefIndex, SideRecord
from ledgerbridge.sync.ports import Commit
from ledgerbridge.sync.report import PairReport
from ledgerbridge.sync.rules import ObjectPair, SyncRule
from tests.unit.sync.factories import LATER, T0, Q, invoice

PAIR = ObjectPair.INVOICES_INVOICES


def qbo(id_: str, at: dt.datetime, **kwargs: object) -> SideRecord:
    return invoice(Q, id_, customer_id="c1", source=Q, updated_at=at, **kwargs)  # type: ignore[arg-type]


def link(hubspot_id: str, qbo_id: str, pair: ObjectPair = PAIR) -> Link:
    return Link(pair, hubspot_id, qbo_id, None, None, "", "", {})


def values(
    number: str, total: str = "100.00", balance: str = "100.00", **kw: str
) -> dict[str, str]:
    return {NUMBER: number, STATUS: "open", TOTAL: total, BALANCE: balance, **kw}


# ---- pure ----


def test_invoice_values_from_the_domain_invoice() -> None:
    record = qbo("7", LATER, number="1007", lines=((None, "2", "12.5"),))
    assert invoice_values(record) == {
        QBO_ID: "7",
        NUMBER: "1007",
        STATUS: "open",
        TOTAL: "25.00",
        BALANCE: "25.00",
    }
    voided = qbo("8", LATER, status=InvoiceStatus.VOIDED)
    assert invoice_values(voided)[STATUS] == "voided"
    assert invoice_values(voided)[TOTAL] == "0.00"


def test_invoice_values_fall_back_to_the_raw_json() -> None:
    raw = {"DocNumber": "X-1", "TotalAmt": 40, "Balance": "15.5"}
    record = SideRecord(RecordRef(Q, "9"), "0", LATER, None, raw)
    assert invoice_values(record) == {
        QBO_ID: "9",
        NUMBER: "X-1",
        STATUS: "",
        TOTAL: "40.00",
        BALANCE: "15.50",
    }


def test_most_recent_by_update_time_then_id_and_never_deleted() -> None:
    old, new = qbo("10", T0), qbo("2", LATER)
    assert most_recent([new, old]) is new
    assert most_recent([old, new]) is new
    tie_low, tie_high = qbo("9", LATER), qbo("10", LATER)
    assert most_recent([tie_high, tie_low]) is tie_high
    gone = SideRecord(RecordRef(Q, "11"), "0", LATER + dt.timedelta(days=1), None, {}, True)
    assert most_recent([old, gone]) is old
    assert most_recent([gone]) is None
    assert most_recent([]) is None


def test_differs_compares_numbers_as_numbers() -> None:
    assert not differs(TOTAL, "100", "100.00")
    assert not differs(BALANCE, "0.0", "0.00")
    assert differs(TOTAL, "100", "100.01")
    assert differs(TOTAL, None, "1.00")
    assert differs(TOTAL, "abc", "1.00")
    assert not differs(NUMBER, None, "")
    assert differs(NUMBER, "1001", "1001.0")


def test_deal_invoices_keeps_linked_invoices_only() -> None:
    links = [link("h1", "q1"), link("h2", "q2"), link("h3", "q3", ObjectPair.PRODUCTS_ITEMS)]
    found = deal_invoices({"h1": ["d1", "d2"], "h2": ["d1"], "h3": ["d3"], "hx": ["d4"]}, links)
    assert {d: [x.qbo_id for x in ls] for d, ls in found.items()} == {
        "d1": ["q1", "q2"],
        "d2": ["q1"],
    }


def test_plan_deals_takes_the_most_recent_and_writes_only_differences() -> None:
    deals = {"d1": [link("h1", "1"), link("h2", "2")], "d2": [link("h1", "1")]}
    records = {"1": qbo("1", LATER, number="1001"), "2": qbo("2", T0, number="1002")}
    current: dict[str, dict[str, str | None]] = {
        "d1": {},
        "d2": {QBO_ID: "1", **values("1001", total="100", balance="100.0")},
    }
    updates = plan_deals(deals, records, current)
    assert [(u.deal_id, u.qbo_id, u.hubspot_invoice_id) for u in updates] == [("d1", "1", "h1")]
    assert updates[0].changes == {QBO_ID: "1", **values("1001")}


def test_plan_deals_skips_missing_deals_and_invoices() -> None:
    deals = {"d1": [link("h1", "1")], "d2": [link("h2", "2")]}
    records = {"1": qbo("1", LATER)}
    # d1 was deleted in HubSpot; d2's invoice is gone from QBO: the deal keeps its values.
    assert plan_deals(deals, records, {"d2": {}}) == []


def test_plan_deals_writes_only_the_changed_property() -> None:
    deals = {"d1": [link("h1", "1")]}
    records = {"1": qbo("1", LATER, number="1001")}
    current: dict[str, dict[str, str | None]] = {"d1": {QBO_ID: "1", **values("1000")}}
    (update,) = plan_deals(deals, records, current)
    assert update.changes == {NUMBER: "1001"}


# ---- the step, over fakes ----


class FakeDeals:
    def __init__(self, associations: dict[str, list[str]]) -> None:
        self.associations = associations
        self.deals: dict[str, dict[str, str | None]] = {
            d: {} for a in associations.values() for d in a
        }
        self.fail: dict[str, SyncError] = {}
        self.writes: list[tuple[str, dict[str, str]]] = []
        self.asked_invoices: list[list[str]] = []

    async def invoice_deals(self, invoice_ids: Sequence[str]) -> dict[str, list[str]]:
        self.asked_invoices.append(list(invoice_ids))
        return {i: list(self.associations.get(i, [])) for i in invoice_ids}

    async def deal_invoices(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        return {d: [i for i, ds in self.associations.items() if d in ds] for d in deal_ids}

    async def read_deals(self, deal_ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
        return {d: dict(self.deals[d]) for d in deal_ids if d in self.deals}

    async def write_deals(
        self, updates: Sequence[tuple[str, Mapping[str, str]]]
    ) -> list[SyncError | None]:
        out: list[SyncError | None] = []
        for deal_id, props in updates:
            self.writes.append((deal_id, dict(props)))
            error = self.fail.get(deal_id)
            if error is None:
                self.deals[deal_id].update(props)
            out.append(error)
        return out


class FakeQbo:
    def __init__(self, records: Sequence[SideRecord]) -> None:
        self.records = {r.ref.id: r for r in records}
        self.asked: list[set[str]] = []

    async def read_records(
        self, rule: SyncRule, ids: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        self.asked.append(set(ids))
        return [self.records[i] for i in ids if i in self.records]


class FakeState:
    def __init__(self, links: Sequence[Link] = ()) -> None:
        self.commits: list[Commit] = []
        self.links = list(links)
        self.loaded: list[set[str]] = []

    async def commit(self, commit: Commit) -> None:
        self.commits.append(commit)

    async def load_links_for(
        self, object_type: ObjectPair, hubspot_ids: Collection[str] = ()
    ) -> list[Link]:
        self.loaded.append(set(hubspot_ids))
        return [
            x for x in self.links if x.object_type is object_type and x.hubspot_id in hubspot_ids
        ]


async def _run(deals: FakeDeals, side: FakeQbo, state: FakeState, links: list[Link]) -> PairReport:
    report = PairReport(PAIR)
    rule = wizard_defaults(PAIR)
    await run_deal_pass(rule, deals, side, state, links, RefIndex(), report)  # type: ignore[arg-type]
    return report


async def test_run_deal_pass_writes_once_and_records_activity() -> None:
    deals = FakeDeals({"h1": ["d1"], "h2": ["d1"], "h3": []})
    port: DealPort = deals  # a DealPort (checked statically; the engine takes it explicitly)
    assert port is deals
    side = FakeQbo([qbo("1", T0, number="1001"), qbo("2", LATER, number="1002")])
    state = FakeState()
    links = [link("h1", "1"), link("h2", "2"), link("h3", "3")]

    report = await _run(deals, side, state, links)

    assert report.deals == {"updated": 1}
    assert side.asked == [{"1", "2"}]
    assert deals.writes == [("d1", {QBO_ID: "2", **values("1002")})]
    (commit,) = state.commits
    (entry,) = commit.activity
    assert (entry.ref.id, entry.operation, entry.outcome, entry.object_type) == (
        "d1",
        "update",
        "ok",
        "deals",
    )
    assert entry.details["invoice"] == "2"
    assert entry.details["hubspot_invoice"] == "h2"

    again = await _run(deals, side, state, links)
    assert again.deals == {}
    assert len(deals.writes) == 1
    assert len(state.commits) == 1


async def test_run_deal_pass_failed_write_is_recorded_and_retried() -> None:
    deals = FakeDeals({"h1": ["d1"]})
    deals.fail["d1"] = TransientError(ErrorCategory.RATE_LIMITED, "slow down")
    side, state, links = FakeQbo([qbo("1", T0)]), FakeState(), [link("h1", "1")]

    report = await _run(deals, side, state, links)

    assert report.deals == {"failed": 1}
    (entry,) = state.commits[0].activity
    assert entry.outcome == "failed"
    assert entry.details["category"] == ErrorCategory.RATE_LIMITED.value
    deals.fail.clear()
    assert (await _run(deals, side, state, links)).deals == {"updated": 1}


async def test_run_deal_pass_without_deals_reads_nothing_more() -> None:
    deals, side, state = FakeDeals({"h1": []}), FakeQbo([]), FakeState()
    assert (await _run(deals, side, state, [link("h1", "1")])).deals == {}
    assert (await _run(deals, side, state, [])).deals == {}
    assert side.asked == []
    assert state.commits == []


async def test_run_deal_pass_for_touched_invoices_reads_only_their_deals() -> None:
    # d1 has h1 and h2, d2 has h3; a pass changed h1 only.
    deals = FakeDeals({"h1": ["d1"], "h2": ["d1"], "h3": ["d2"], "h4": []})
    side = FakeQbo([qbo("1", T0), qbo("2", LATER, number="1002"), qbo("3", LATER)])
    links = [link("h1", "1"), link("h2", "2"), link("h3", "3"), link("h4", "4")]
    state = FakeState(links)
    report = PairReport(PAIR)
    rule = wizard_defaults(PAIR)

    await run_deal_pass(rule, deals, side, state, (), RefIndex(), report, touched={"h1"})  # type: ignore[arg-type]

    assert deals.asked_invoices == [["h1"]]  # not every invoice
    assert state.loaded == [{"h1", "h2"}]  # the links of d1's invoices only
    assert side.asked == [{"1", "2"}]  # d1's invoices, the later one wins
    assert deals.writes == [("d1", {QBO_ID: "2", **values("1002")})]
    assert report.deals == {"updated": 1}

    # Nothing touched, or touched invoices without a deal: no read at all.
    await run_deal_pass(rule, deals, side, state, (), RefIndex(), report, touched=set())  # type: ignore[arg-type]
    await run_deal_pass(rule, deals, side, state, (), RefIndex(), report, touched={"h4"})  # type: ignore[arg-type]
    assert side.asked == [{"1", "2"}] and len(state.loaded) == 1
