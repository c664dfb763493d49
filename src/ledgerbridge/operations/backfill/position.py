"""Where a backfill window read stands (`Position`, keyset by creation time), and reading
the window page by page from any `WindowReader` (`read_page`, `stream`)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ledgerbridge.domain import System
from ledgerbridge.hubspot.objects import parse_timestamp
from ledgerbridge.hubspot.side.window import HUBSPOT_CREATED
from ledgerbridge.qbo.side.window import QBO_CREATED
from ledgerbridge.sync.filters import property_value
from ledgerbridge.sync.model import RefIndex, SideRecord
from ledgerbridge.sync.ports import SidePort
from ledgerbridge.sync.rules import SyncRule
from ledgerbridge.sync.window import Entry, Keep, Span, WindowReader, id_order


@dataclass(frozen=True, slots=True)
class Position:
    """Where a window read goes on: records created at or after `bound` (after it when
    `past`: every record of that second is done), except the ids in `skip` (done
    already; all created at or after `bound`). When `tie` is set, the second `bound`
    holds more records than a page and is walked in id order: those with an id up to
    `tie` are done ("" : none yet)."""

    bound: dt.datetime
    skip: frozenset[str] = frozenset()
    tie: str | None = None
    past: bool = False

    def after(self, done: Sequence[Entry], floor: Callable[[dt.datetime], dt.datetime]) -> Position:
        """The position once `done` (in creation order, read from here) is done."""
        if not done:
            return self
        last = done[-1]
        if last.tie:  # inside a crowded second: its records in creation order, then by id
            at = floor(last.created)
            plain = {e.id for e in done if not e.tie and e.created >= at}
            kept = self.skip if self.bound == at else frozenset()
            return Position(at, frozenset(plain | kept), tie=last.id)
        bound = max(self.bound, floor(last.created))
        skip = {e.id for e in done if e.created >= bound}
        if bound == self.bound:
            skip |= self.skip
        return Position(bound, frozenset(skip), past=self.past and bound == self.bound)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"created": self.bound.isoformat(), "skip": sorted(self.skip)}
        if self.tie is not None:
            out["tie"] = self.tie
        if self.past:
            out["past"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Position | None:
        if "created" not in data:
            return None  # another format (an older version's cursor): start over
        tie = data.get("tie")
        return cls(
            dt.datetime.fromisoformat(data["created"]),
            frozenset(data.get("skip", ())),
            tie=str(tie) if tie is not None else None,
            past=bool(data.get("past", False)),
        )


class LoadedWindow:
    """Any other `SidePort`: its whole `read_changes(None)`, read once, sorted by creation
    (the window filter's property, else `updated_at`). Not streamed: for in-memory fakes."""

    max_page = 1000

    def __init__(self, port: SidePort, refs: RefIndex) -> None:
        self.port = port
        self.refs = refs
        self.entries: list[Entry] | None = None

    def floor(self, moment: dt.datetime) -> dt.datetime:
        return moment

    async def _all(self, rule: SyncRule, until: dt.datetime | None) -> list[Entry]:
        if self.entries is None:
            found = await self.port.read_changes(rule, None, self.refs)
            prop = (
                HUBSPOT_CREATED[rule.object_pair]
                if self.port.system is System.HUBSPOT
                else QBO_CREATED
            )
            entries = [
                Entry(r.ref.id, _created(r, prop), r) for r in found.records if not r.deleted
            ]
            self.entries = sorted(entries, key=lambda e: (e.created, id_order(e.id)))
        return [e for e in self.entries if until is None or e.created <= until]

    async def query(
        self, span: Span, after: dt.datetime, limit: int, *, strict: bool = False
    ) -> list[Entry]:
        rows = await self._all(span.rule, span.until)
        return [e for e in rows if e.created > after or (not strict and e.created == after)][:limit]

    async def tie(self, span: Span, at: dt.datetime, *, after: str, limit: int) -> list[Entry]:
        start = id_order(after) if after else None
        found = [
            dataclasses.replace(e, tie=True)
            for e in await self._all(span.rule, span.until)
            if e.created == at and (start is None or id_order(e.id) > start)
        ]
        return found[:limit]

    async def count(self, span: Span, after: dt.datetime) -> int:
        return len([e for e in await self._all(span.rule, span.until) if e.created >= after])


def _created(record: SideRecord, prop: str) -> dt.datetime:
    value = property_value(record, prop)
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str | int) and value:
        with contextlib.suppress(ValueError):
            return parse_timestamp(value) or record.updated_at
    return record.updated_at


def reader_for(port: SidePort, refs: RefIndex | None = None) -> WindowReader:
    """The side's own window port, else its whole `read_changes` (`LoadedWindow`)."""
    window = port.capabilities.window
    return window if window is not None else LoadedWindow(port, refs or RefIndex())


async def read_page(
    reader: WindowReader,
    rule: SyncRule,
    position: Position,
    until: dt.datetime | None,
    limit: int | None,
    keep: Keep | None = None,
) -> list[Entry]:
    """The next records after `position`, in creation order: about `limit` of them (the
    rows read count, skipped ones too, so a page of `max_page` is one request), all of
    them when `limit` is None."""
    page, _ = await read_page_to_end(reader, rule, position, until, limit, keep)
    return page


async def read_page_to_end(
    reader: WindowReader,
    rule: SyncRule,
    position: Position,
    until: dt.datetime | None,
    limit: int | None,
    keep: Keep | None = None,
) -> tuple[list[Entry], bool]:
    """`read_page`, and whether the page reached the end of the window (a read came back
    shorter than asked): then a read after it would find nothing more, and need not be
    sent."""
    got: list[Entry] = []
    remaining = limit
    pos = position
    while remaining is None or remaining > 0 or not got:
        room = reader.max_page if remaining is None else max(remaining, 1)
        want = min(reader.max_page, room + len(pos.skip))
        if pos.tie is None and not pos.past and len(pos.skip) >= reader.max_page:
            # A page of that second is done already: it holds more than a page, and a
            # read from it in creation order could bring back only those: walk it.
            pos = Position(pos.bound, pos.skip, tie="")
        span = Span(rule, until, _unless(pos.skip, keep))  # done ones are not decoded
        if pos.tie is not None:  # a crowded second, walked in id order, a page at a time
            rows = await reader.tie(span, pos.bound, after=pos.tie, limit=want)
            got += [e for e in rows if e.id not in pos.skip]
            if len(rows) < want:  # the second is done: go on after it
                pos = Position(pos.bound, past=True)
            else:
                pos = Position(pos.bound, pos.skip, tie=rows[-1].id)
        else:
            rows = await reader.query(span, pos.bound, want, strict=pos.past)
            new = [e for e in rows if e.id not in pos.skip]
            if not new and len(rows) == want:  # a full page done already at `bound`: more
                pos = Position(pos.bound, pos.skip, tie="")  # than a page share that second
                continue
            got += new
            if len(rows) < want:
                return got, True
            pos = pos.after(new, reader.floor)
        if remaining is not None:
            remaining -= len(rows)
    return got, False


def _unless(done: frozenset[str], keep: Keep | None) -> Keep | None:
    """`keep`, and not the ids in `done` (they are read only to be passed over)."""
    if not done:
        return keep
    if keep is None:
        return lambda record_id: record_id not in done
    return lambda record_id: record_id not in done and keep(record_id)


async def stream(
    reader: WindowReader,
    rule: SyncRule,
    position: Position,
    until: dt.datetime | None,
    page: int,
    keep: Keep | None = None,
) -> AsyncIterator[list[Entry]]:
    """The whole window after `position`, one page at a time."""
    while True:
        entries = await read_page(reader, rule, position, until, page, keep)
        if not entries:
            return
        yield entries
        position = position.after(entries, reader.floor)
