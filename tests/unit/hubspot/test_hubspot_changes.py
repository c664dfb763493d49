"""read_changes against a fake search API that enforces HubSpot's limits."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx

from ledgerbridge.hubspot.changes import read_changes
from ledgerbridge.hubspot.session import HubSpotLimits
from tests.unit.hubspot.hs_fakes import FakeTime, body_of, make_client

T0 = 1_714_564_800_000  # ms


def iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class FakeSearch:
    """Records as {id: modified ms}; search with HubSpot's 200-per-page and 10,000 caps."""

    def __init__(self) -> None:
        self.live: dict[int, int] = {}
        self.archived: dict[int, int] = {}
        self.bodies: list[dict[str, Any]] = []

    def _value(self, record_id: int, prop: str) -> int:
        return record_id if prop == "hs_object_id" else self.live[record_id]

    def _match(self, record_id: int, flt: dict[str, Any]) -> bool:
        value, target = self._value(record_id, flt["propertyName"]), int(flt["value"])
        return {
            "GTE": value >= target,
            "GT": value > target,
            "EQ": value == target,
            "LT": value < target,
        }[flt["operator"]]

    def _api(self, record_id: int, modified: int, archived: bool = False) -> dict[str, Any]:
        body = {
            "id": str(record_id),
            "properties": {"hs_lastmodifieddate": iso(modified), "hs_object_id": str(record_id)},
            "updatedAt": iso(modified),
            "archived": archived,
        }
        if archived:
            body["archivedAt"] = iso(modified)
        return body

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert request.url.params["archived"] == "true"
            ids = sorted(self.archived)
            after = int(request.url.params.get("after", 0))
            page = [i for i in ids if i > after][:100]
            body: dict[str, Any] = {"results": [self._api(i, self.archived[i], True) for i in page]}
            if page and page[-1] != ids[-1]:
                body["paging"] = {"next": {"after": str(page[-1])}}
            return httpx.Response(200, json=body)
        body = body_of(request)
        self.bodies.append(body)
        limit, offset = body["limit"], int(body.get("after") or 0)
        assert limit <= 200 and len(body["sorts"]) <= 1
        if offset + limit > 10_000:
            return httpx.Response(400, json={"category": "VALIDATION_ERROR", "message": "cap"})
        hits = [
            i
            for i in self.live
            if any(all(self._match(i, f) for f in g["filters"]) for g in body["filterGroups"])
        ]
        sort = body["sorts"][0]["propertyName"]
        # ties in a non-id sort come back in an arbitrary (here: descending id) order
        hits.sort(key=lambda i: -i)
        hits.sort(key=lambda i: self._value(i, sort))
        page = hits[offset : offset + limit]
        answer: dict[str, Any] = {
            "total": len(hits),
            "results": [self._api(i, self.live[i]) for i in page],
        }
        if offset + limit < min(len(hits), 10_000):
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        return httpx.Response(200, json=answer)


def client_for(fake: FakeSearch) -> Any:
    limits = HubSpotLimits(burst=0, daily=0, search_per_second=0)
    return make_client(fake.handler, FakeTime(), limits=limits)


async def test_more_than_10000_records_in_one_millisecond_are_all_read_once() -> None:
    fake = FakeSearch()
    next_id = 1
    for i in range(150):  # before the burst
        fake.live[next_id] = T0 + i
        next_id += 1
    for _ in range(10_050):  # a bulk import: one timestamp
        fake.live[next_id] = T0 + 500
        next_id += 1
    for i in range(250):  # after it
        fake.live[next_id] = T0 + 600 + i // 2
        next_id += 1
    client, http = client_for(fake)
    async with http:
        changes = await read_changes(client, "deals", None, ["dealname"])
    ids = [r.id for r in changes.records]
    assert len(ids) == len(set(ids)) == 10_450
    assert set(ids) == {str(i) for i in fake.live}
    stamps = [r.updated_at for r in changes.records]
    assert stamps == sorted(s for s in stamps if s is not None)
    assert changes.next_cursor == dt.datetime.fromtimestamp((T0 + 724) / 1000, tz=dt.UTC)
    assert all(int(b.get("after") or 0) == 0 for b in fake.bodies)  # never offset-paged
    tie = [b for b in fake.bodies if b["filterGroups"][0]["filters"][0]["operator"] == "EQ"]
    assert len(tie) == 10_050 // 200 + 1
    assert changes.searches == len(fake.bodies)


async def test_the_cursor_never_skips_a_change() -> None:
    fake = FakeSearch()
    for i in range(1, 401):
        fake.live[i] = T0 + i // 3  # several records per millisecond
    client, http = client_for(fake)
    async with http:
        first = await read_changes(client, "deals", None, [])
        assert len(first.records) == 400
        cursor = first.next_cursor
        assert cursor is not None
        # later edits, one of them in the very millisecond of the cursor
        fake.live[401] = T0 + 400 // 3
        fake.live[5] = T0 + 1000
        second = await read_changes(client, "deals", cursor, [])
        got = {r.id for r in second.records}
        assert {"401", "5"} <= got
        assert all(
            r.updated_at is not None and r.updated_at >= cursor for r in second.records
        )  # nothing older than the cursor is read again
        third = await read_changes(client, "deals", second.next_cursor, [])
        assert {r.id for r in third.records} == {"5"}  # only the boundary millisecond
        assert third.next_cursor == second.next_cursor


async def test_deletions_come_from_the_archived_list() -> None:
    fake = FakeSearch()
    fake.live[1] = T0 + 10
    fake.archived[2] = T0 + 5  # archived after the cursor
    fake.archived[3] = T0 - 5  # archived before it: already known
    since = dt.datetime.fromtimestamp(T0 / 1000, tz=dt.UTC)
    client, http = client_for(fake)
    async with http:
        changes = await read_changes(client, "invoices", since, [])
    assert [(r.id, r.deleted) for r in changes.records] == [("1", False), ("2", True)]


async def test_no_changes_keeps_the_cursor() -> None:
    fake = FakeSearch()
    since = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    client, http = client_for(fake)
    async with http:
        changes = await read_changes(client, "deals", since, [], include_deleted=False)
    assert changes.records == []
    assert changes.next_cursor == since


async def test_contacts_use_lastmodifieddate_and_overlap_moves_the_cursor_back() -> None:
    fake = FakeSearch()
    client, http = client_for(fake)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        if body is None:
            return httpx.Response(200, json={"results": []})
        seen.append(body["filterGroups"][0]["filters"][0]["propertyName"])
        result = {"id": "1", "properties": {"lastmodifieddate": iso(T0)}, "archived": False}
        return httpx.Response(200, json={"total": 1, "results": [result]})

    client, http = make_client(handler, FakeTime())
    async with http:
        changes = await read_changes(
            client, "contacts", None, ["email"], overlap=dt.timedelta(seconds=30)
        )
    assert seen == ["lastmodifieddate"]
    expected = dt.datetime.fromtimestamp(T0 / 1000, tz=dt.UTC) - dt.timedelta(seconds=30)
    assert changes.next_cursor == expected


class GatedSearch(FakeSearch):
    """Searches wait until the archived list has been asked for (when `gate` is set)."""

    def __init__(self, gate: bool) -> None:
        super().__init__()
        self.listed = asyncio.Event()
        self.gate = gate
        self.order: list[str] = []

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        self.order.append(request.method)
        if request.method == "GET":
            self.listed.set()
        elif self.gate:
            await self.listed.wait()
        return self.handler(request)


async def test_with_an_overlap_the_archived_list_is_read_beside_the_search() -> None:
    fake = GatedSearch(gate=True)
    fake.live[1] = T0 + 10
    fake.archived[2] = T0 + 5
    since = dt.datetime.fromtimestamp(T0 / 1000, tz=dt.UTC)
    limits = HubSpotLimits(burst=0, daily=0, search_per_second=0)
    client, http = make_client(fake.async_handler, FakeTime(), limits=limits)
    async with http:
        # The search waits for the list: read one after the other, this would not end.
        changes = await asyncio.wait_for(
            read_changes(client, "contacts", since, [], overlap=dt.timedelta(seconds=30)), 10
        )
    assert sorted((r.id, r.deleted) for r in changes.records) == [("1", False), ("2", True)]


async def test_without_an_overlap_the_archived_list_is_read_after_the_search() -> None:
    fake = GatedSearch(gate=False)
    fake.live[1] = T0 + 10
    fake.archived[2] = T0 + 5
    since = dt.datetime.fromtimestamp(T0 / 1000, tz=dt.UTC)
    limits = HubSpotLimits(burst=0, daily=0, search_per_second=0)
    client, http = make_client(fake.async_handler, FakeTime(), limits=limits)
    async with http:
        changes = await read_changes(client, "contacts", since, [])
    assert fake.order == ["POST", "GET"]
    assert [(r.id, r.deleted) for r in changes.records] == [("1", False), ("2", True)]
