from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from ledgerbridge.qbo.changes import (
    CDC_MAX_OBJECTS,
    DEFAULT_OVERLAP,
    IDLE_LAG,
    QboRecord,
    next_cursor,
    read_changes,
)

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def row(entity_id: str, minutes_ago: int, **extra: Any) -> dict[str, Any]:
    stamp = (NOW - dt.timedelta(minutes=minutes_ago)).isoformat()
    return {"Id": entity_id, "SyncToken": "0", "MetaData": {"LastUpdatedTime": stamp}, **extra}


class FakeSource:
    def __init__(self, cdc: dict[str, list[dict[str, Any]]], rows: dict[str, list[Any]]) -> None:
        self.cdc_data = cdc
        self.rows = rows
        self.cdc_calls: list[tuple[list[str], str]] = []
        self.queries: list[str] = []

    async def cdc(self, entities: Sequence[str], changed_since: str) -> list[dict[str, Any]]:
        self.cdc_calls.append((list(entities), changed_since))
        pages, total = [], 0
        for entity in entities:
            objs = self.cdc_data.get(entity, [])[: CDC_MAX_OBJECTS - total]
            total += len(objs)
            pages.append({entity: objs} if objs else {})
        return pages

    async def query_all(self, statement: str, *, page_size: int = 1000) -> list[dict[str, Any]]:
        self.queries.append(statement)
        entity = statement.split(" FROM ")[1].split()[0]
        return self.rows.get(entity, [])


async def test_cdc_within_the_window_includes_deletes() -> None:
    source = FakeSource(
        {
            "Invoice": [
                row("1", 30),
                {
                    "Id": "2",
                    "status": "Deleted",
                    "MetaData": {"LastUpdatedTime": (NOW - dt.timedelta(minutes=10)).isoformat()},
                },
            ],
            "Customer": [row("7", 20)],
        },
        {},
    )
    since = NOW - dt.timedelta(days=2)
    changes = await read_changes(source, ["Invoice", "Customer"], since, NOW)
    assert changes.method == "cdc"
    assert [(r.entity, r.id, r.deleted) for r in changes.records] == [
        ("Invoice", "1", False),
        ("Customer", "7", False),
        ("Invoice", "2", True),
    ]
    assert source.cdc_calls == [(["Invoice", "Customer"], "2026-02-27T12:00:00+00:00")]
    assert source.queries == []
    assert changes.one_answer  # one moment of QBO's for both entities
    # the latest change seen, minus the overlap: not "now"
    assert changes.next_cursor == NOW - dt.timedelta(minutes=10) - DEFAULT_OVERLAP


async def test_an_old_cursor_falls_back_to_a_query() -> None:
    source = FakeSource({}, {"Invoice": [row("1", 5)], "Customer": [row("3", 9)]})
    since = NOW - dt.timedelta(days=31)
    changes = await read_changes(source, ["Invoice", "Customer"], since, NOW)
    assert changes.method == "query"
    assert source.cdc_calls == []
    assert source.queries == [
        "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2026-01-29T12:00:00+00:00' "
        "ORDERBY MetaData.LastUpdatedTime",
        "SELECT * FROM Customer WHERE Active IN (true, false) AND MetaData.LastUpdatedTime >= "
        "'2026-01-29T12:00:00+00:00' ORDERBY MetaData.LastUpdatedTime",
    ]
    assert {r.id for r in changes.records} == {"1", "3"}


async def test_a_capped_cdc_answer_is_not_trusted() -> None:
    many = [row(str(i), 100 - i % 50) for i in range(CDC_MAX_OBJECTS)]
    deleted = {"Id": "x", "status": "Deleted", "MetaData": {"LastUpdatedTime": NOW.isoformat()}}
    source = FakeSource(
        {"Invoice": [*many, deleted], "Customer": [row("c", 3)]},
        {"Invoice": [*many, row("late", 1)]},
    )
    since = NOW - dt.timedelta(days=1)
    changes = await read_changes(source, ["Customer", "Invoice"], since, NOW)
    assert changes.method == "mixed" and not changes.one_answer
    # all entities together hit the cap, then each alone: Customer fits, Invoice does not
    assert [c[0] for c in source.cdc_calls] == [["Customer", "Invoice"], ["Customer"], ["Invoice"]]
    assert len(source.queries) == 1 and "FROM Invoice" in source.queries[0]
    ids = {(r.entity, r.id) for r in changes.records}
    assert ("Invoice", "late") in ids
    assert ("Customer", "c") in ids
    assert len(changes.records) == CDC_MAX_OBJECTS + 2


async def test_a_full_read_and_an_empty_change_set() -> None:
    source = FakeSource({}, {"Item": [row("1", 60), row("2", 30)]})
    full = await read_changes(source, ["Item"], None, NOW)
    assert full.method == "full"
    assert source.queries == [
        "SELECT * FROM Item WHERE Active IN (true, false) ORDERBY MetaData.LastUpdatedTime"
    ]
    assert full.next_cursor == NOW - dt.timedelta(minutes=30) - DEFAULT_OVERLAP
    quiet = await read_changes(FakeSource({}, {}), ["Invoice"], NOW - dt.timedelta(hours=1), NOW)
    assert quiet.records == []
    # nothing changed: stay in CDC's window, behind our clock by more than QBO's may lag it
    assert quiet.next_cursor == NOW - IDLE_LAG


def test_the_cursor_never_moves_backwards() -> None:
    since = NOW - dt.timedelta(minutes=1)
    record = QboRecord.from_raw("Invoice", row("1", 2))
    assert next_cursor([record], since, NOW) == since


async def test_duplicates_keep_the_latest_version() -> None:
    source = FakeSource({"Invoice": [row("1", 30), {**row("1", 10), "SyncToken": "4"}]}, {})
    changes = await read_changes(source, ["Invoice"], NOW - dt.timedelta(hours=1), NOW)
    assert [(r.id, r.sync_token) for r in changes.records] == [("1", "4")]


async def test_bad_arguments() -> None:
    source = FakeSource({}, {})
    with pytest.raises(ValueError):
        await read_changes(source, [], None, NOW)
    with pytest.raises(ValueError):
        await read_changes(source, ["Invoice"], None, NOW.replace(tzinfo=None))


class StreamSource:
    """A company where a customer changes every 0.1 s (scenario (c)'s 5 + 5 a second):
    CDC answers what changed at or after `changedSince` up to the reader's `now` (QBO's
    changedSince has whole seconds), capped like QBO's."""

    def __init__(self) -> None:
        self.now = NOW
        self.cdc_sizes: list[int] = []
        self.queries: list[str] = []

    def stamp(self, i: int) -> dt.datetime:
        return NOW + dt.timedelta(milliseconds=100 * i)

    async def cdc(self, entities: Sequence[str], changed_since: str) -> list[dict[str, Any]]:
        since = dt.datetime.fromisoformat(changed_since)
        first = max(0, -(-int((since - NOW).total_seconds() * 1000) // 100))
        last = int((self.now - NOW).total_seconds() * 10)
        rows = [
            {"Id": str(i), "SyncToken": "0", "MetaData": {"LastUpdatedTime": self.stamp(i)}}
            for i in range(first, last + 1)
        ]
        self.cdc_sizes.append(len(rows[:CDC_MAX_OBJECTS]))
        return [
            {
                "Customer": [
                    {
                        **r,
                        "MetaData": {
                            "LastUpdatedTime": r["MetaData"]["LastUpdatedTime"].isoformat()
                        },
                    }
                    for r in rows[:CDC_MAX_OBJECTS]
                ]
            }
        ]

    async def query_all(self, statement: str, *, page_size: int = 1000) -> list[dict[str, Any]]:
        self.queries.append(statement)
        return []


async def test_a_steady_stream_is_read_by_cdc_alone_however_long_it_lasts() -> None:
    """Issue 18, (c) for longer than a minute: each read goes back only the overlap before
    the newest change, so at 10 changes a second it stays far below CDC's 1,000 objects
    (with 5 minutes of overlap every read after ~100 s hit the cap and paged the query
    fallback), and no change is skipped."""
    source = StreamSource()
    since: dt.datetime | None = NOW - dt.timedelta(seconds=1)
    seen: set[str] = set()
    for _ in range(500):  # a read every 0.66 s for 5.5 minutes
        source.now += dt.timedelta(milliseconds=660)
        found = await read_changes(source, ["Customer"], since, source.now)
        seen.update(r.id for r in found.records)
        since = found.next_cursor
    assert source.queries == []
    assert max(source.cdc_sizes) <= 10 * DEFAULT_OVERLAP.total_seconds() + 20
    assert seen == {str(i) for i in range(int((source.now - NOW).total_seconds() * 10) + 1)}


async def test_a_capped_answer_asked_again_per_entity_is_not_one_answer() -> None:
    """Each entity fits on its own, so the method stays CDC; but the records come from
    separate answers (separate moments), which `ChangeFeed` must not treat as one."""
    customers = [row(f"c{i}", 100 - i % 50) for i in range(600)]
    invoices = [row(f"i{i}", 100 - i % 50) for i in range(600)]
    source = FakeSource({"Customer": customers, "Invoice": invoices}, {})
    changes = await read_changes(source, ["Customer", "Invoice"], NOW - dt.timedelta(days=1), NOW)
    assert [c[0] for c in source.cdc_calls] == [["Customer", "Invoice"], ["Customer"], ["Invoice"]]
    assert changes.method == "cdc" and not changes.one_answer
    assert len(changes.records) == 1200
