"""The backfill window's keyset paging (`operations.backfill.read_page` / `Position`): pages
in creation order that neither skip nor repeat records when records are updated,
created or deleted between pages, and that get past a second more crowded than a page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Collection, Sequence

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.operations.backfill import Entry, Position, id_order, read_page, stream
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.model import SideRecord
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.sync.window import Span

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RULE = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)


class Table:
    """A service's records keyed by id: (created, updated) in seconds after T0. Queries
    answer as QBO's does: `created >= t` (or `>`), ordered by creation time only (ties
    in whatever order `tie_order` says), at most `limit` rows."""

    max_page = 4

    def __init__(self, created: dict[str, int]) -> None:
        self.rows = {i: [c, c] for i, c in created.items()}
        self.queries = 0
        self.tie_order = sorted
        self.tie_limits: list[int] = []
        self.decoded: list[str] = []
        """The ids each read was asked to decode into records (`Span.keep`)."""

    def floor(self, moment: dt.datetime) -> dt.datetime:
        return moment.replace(microsecond=0)

    def _entry(self, record_id: str) -> Entry:
        created, updated = self.rows[record_id]
        at = T0 + dt.timedelta(seconds=created)
        ref = RecordRef(System.QUICKBOOKS, record_id)
        record = SideRecord(ref, str(updated), T0 + dt.timedelta(seconds=updated), None)
        return Entry(record_id, at, record)

    def _ordered(self, ids: Collection[str]) -> list[str]:
        by_time: dict[int, list[str]] = {}
        for i in ids:
            by_time.setdefault(self.rows[i][0], []).append(i)
        return [i for t in sorted(by_time) for i in self.tie_order(by_time[t])]

    async def query(
        self, span: Span, after: dt.datetime, limit: int, *, strict: bool = False
    ) -> list[Entry]:
        self.queries += 1
        until = span.until
        entries = [self._entry(i) for i in self._ordered(self.rows)]
        found = [
            e
            for e in entries
            if (e.created > after or (not strict and e.created == after))
            and (until is None or e.created <= until)
        ][:limit]
        self.decoded += [e.id for e in found if span.wanted(e.id)]
        return found

    async def tie(self, span: Span, at: dt.datetime, *, after: str, limit: int) -> list[Entry]:
        self.queries += 1
        self.tie_limits.append(limit)
        found = sorted(
            (e for e in (self._entry(i) for i in self.rows) if e.created == at),
            key=lambda e: id_order(e.id),
        )
        start = id_order(after) if after else None
        rows = [
            dataclasses.replace(e, tie=True)
            for e in found
            if start is None or id_order(e.id) > start
        ][:limit]
        self.decoded += [e.id for e in rows if span.wanted(e.id)]
        return rows

    async def count(self, span: Span, after: dt.datetime) -> int:
        return len(self.rows)


def ids(entries: Sequence[Entry]) -> list[str]:
    return [e.id for e in entries]


async def test_pages_follow_creation_order_and_an_update_moves_nothing() -> None:
    table = Table({f"r{n}": n for n in range(10)})
    position = Position(T0)
    first = await read_page(table, RULE, position, None, 4)
    assert ids(first) == ["r0", "r1", "r2", "r3"]
    position = position.after(first, table.floor)
    # Records of the next pages change (r1 done already, r5 not yet): with a modification
    # order they would jump to the end, or out of reach of an offset.
    table.rows["r1"][1] = table.rows["r5"][1] = 100
    seen = list(first)
    async for page in stream(table, RULE, position, None, 4):
        seen += page
    assert ids(seen) == [f"r{n}" for n in range(10)]  # each once, none skipped


async def test_created_and_deleted_records_between_pages() -> None:
    table = Table({f"r{n}": n for n in range(8)})
    first = await read_page(table, RULE, Position(T0), None, 3)
    position = Position(T0).after(first, table.floor)
    del table.rows["r1"], table.rows["r4"]  # one done, one to come
    table.rows["new"] = [20, 20]  # created during the backfill: at the end of the window
    rest = [e async for page in stream(table, RULE, position, None, 3) for e in page]
    assert ids(rest) == ["r3", "r5", "r6", "r7", "new"]
    capped = [
        e
        async for page in stream(table, RULE, position, T0 + dt.timedelta(seconds=10), 3)
        for e in page
    ]
    assert ids(capped) == ["r3", "r5", "r6", "r7"]  # created after `until`: not ours


async def test_records_sharing_a_second_are_served_once() -> None:
    # Six records in second 1, in no particular order, pages of two.
    table = Table({"a": 0, **{f"t{n}": 1 for n in range(6)}, "z": 2})
    table.tie_order = lambda found: sorted(found, reverse=True)
    seen = [e async for page in stream(table, RULE, Position(T0), None, 2) for e in page]
    assert sorted(ids(seen)) == sorted(table.rows) and len(seen) == len(table.rows)


async def test_a_second_more_crowded_than_a_page_is_walked_in_pages_then_left() -> None:
    table = Table({"a": 0, **{f"t{n}": 1 for n in range(9)}, "z": 2})  # 9 > max_page 4
    pages = [page async for page in stream(table, RULE, Position(T0), None, 2)]
    seen = [e for page in pages for e in page]
    assert sorted(ids(seen)) == sorted(table.rows) and len(seen) == len(table.rows)
    # The crowded second is read a page at a time, never whole: no page (and no read of
    # the tie) is larger than one request's worth, so memory stays bounded.
    assert max(len(page) for page in pages) <= table.max_page
    assert table.tie_limits and max(table.tie_limits) <= table.max_page


async def test_a_large_crowded_second_costs_one_query_per_page() -> None:
    # 40 records created in the same second (a bulk import), pages of 4 (= max_page):
    # each page is one read; the second is not re-read whole for every page.
    table = Table({f"{n}": 1 for n in range(1, 41)})
    position, seen, pages = Position(T0), [], 0
    while page := await read_page(table, RULE, position, None, 4):
        assert len(page) <= table.max_page
        seen += page
        pages += 1
        position = position.after(page, table.floor)
    assert sorted(ids(seen), key=int) == [str(n) for n in range(1, 41)]
    assert pages <= 12  # 40 / 4, and pages cut short where the walk begins and ends
    assert table.queries <= pages + 4  # entering and leaving the tie, and the empty end


async def test_a_full_page_of_one_second_goes_on_by_walking_that_second() -> None:
    # Ten records created in the same second, pages of 4 (= max_page). After the first
    # page the second is known to hold more than a page: the next page walks it by id at
    # once. Before, it first read the second in creation order again, which could only
    # bring back the page already done (one request and a page of decoding for nothing).
    table = Table({f"{n}": 1 for n in range(10, 20)})
    first = await read_page(table, RULE, Position(T0), None, 4)
    assert ids(first) == ["10", "11", "12", "13"] and table.queries == 1
    position = Position(T0).after(first, table.floor)
    second = await read_page(table, RULE, position, None, 4)
    assert ids(second) == ["14", "15", "16", "17"]
    assert table.queries == 1 + 2  # the walk's first read brings back 10-13 again, then 14-17
    # The records done already are read only to be passed over, not decoded again.
    assert table.decoded == [str(n) for n in range(10, 18)]


async def test_a_walk_through_a_crowded_second_resumes_from_its_saved_position() -> None:
    # A crash between pages: the position saved as JSON takes the walk on where it was,
    # past records deleted meanwhile, and without repeating one.
    table = Table({"a": 0, **{f"{n}": 1 for n in range(10, 30)}, "z": 2})
    position, done = Position(T0), []
    while not (position.tie and position.tie != "29"):  # stop inside the walk
        page = await read_page(table, RULE, position, None, 4)
        assert page
        done += ids(page)
        position = position.after(page, table.floor)
    restored = Position.from_json(json.loads(json.dumps(position.as_json())))
    assert restored == position
    del table.rows["10"], table.rows[position.tie]  # done already; gone now
    del table.rows["29"]  # to come; gone now
    done += [e.id async for page in stream(table, RULE, restored, None, 4) for e in page]
    assert len(done) == len(set(done))  # nothing served twice
    assert set(done) >= set(table.rows)  # nothing left out


async def test_one_query_per_full_page() -> None:
    table = Table({f"r{n}": n for n in range(12)})
    position = Position(T0)
    for _ in range(3):
        page = await read_page(table, RULE, position, None, 4)
        assert len(page) >= 3
        position = position.after(page, table.floor)
    assert table.queries == 3


def test_position_round_trips_and_keeps_the_ids_of_its_second() -> None:
    table = Table({"a": 0, "b": 1, "c": 1})
    done = [table._entry(i) for i in ("a", "b", "c")]
    position = Position(T0).after(done, table.floor)
    assert position == Position(T0 + dt.timedelta(seconds=1), frozenset({"b", "c"}))
    assert Position.from_json(position.as_json()) == position
    assert Position.from_json({"cursor": T0.isoformat()}) is None  # an older format
