"""The backfill window of one side: `WindowedSide` serves its pages in order, one per
`Turn` (prefetched while the engine works on the current one), and keeps the committed
position. The engine sees it through `operations.backfill.pipeline.LaneSide`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from ledgerbridge.domain import System
from ledgerbridge.operations.backfill.position import Position, read_page_to_end
from ledgerbridge.sync.engine import utc_now
from ledgerbridge.sync.model import RefIndex, SideRecord
from ledgerbridge.sync.ports import Capabilities, Changes, SidePort, WriteAction, WriteResult
from ledgerbridge.sync.rules import SyncRule
from ledgerbridge.sync.window import Entry, WindowReader

FRESH_FOR = dt.timedelta(seconds=30)


@dataclass(eq=False, slots=True)
class Turn:
    """One engine pass of a backfill: its place in the order (pages are served and
    committed in `seq` order) and the page it was served on each side (start, entries)."""

    seq: int
    pages: dict[System, tuple[Position, list[Entry]]] = field(default_factory=dict)
    committed: bool = False
    current: bool = False
    """At its commit, every page it was served started at the committed position."""
    moved: bool = False
    """Its commit moved a position."""

    @property
    def served(self) -> int:
        return sum(len(page) for _, page in self.pages.values())


class Order:
    """Turns take their turn in `seq` order: `wait(seq)` until every earlier turn is
    `done`."""

    def __init__(self) -> None:
        self.next = 0
        self._changed = asyncio.Condition()

    async def wait(self, seq: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.next >= seq)

    async def done(self, seq: int) -> None:
        async with self._changed:
            if self.next == seq:
                self.next = seq + 1
                self._changed.notify_all()

    async def skip(self, seq: int) -> None:
        """`seq` took no turn (it stopped before): let the next one go."""
        await self.wait(seq)
        await self.done(seq)


@dataclass(slots=True)
class _Prefetch:
    start: Position
    task: asyncio.Task[list[Entry]]
    read_at: dt.datetime | None = None


class WindowedSide:
    """The pages of one side's backfill window, served one per turn in order (the
    engine's cursor is ignored: the position lives here and in `BackfillState`). The
    page served next starts where the last one served ended (`_serve_at`), which is
    ahead of the committed `position` while earlier turns are still in flight."""

    def __init__(
        self,
        inner: SidePort,
        reader: WindowReader,
        position: Position,
        *,
        until: dt.datetime | None,
        batch_size: int | None,
        hide: Collection[str] = (),
        clock: Callable[[], dt.datetime] = utc_now,
        fresh_for: dt.timedelta = FRESH_FOR,
        prefetch: bool = True,
        empty: bool = False,
    ) -> None:
        self.inner = inner
        self.reader = reader
        self.position = position
        self.until = until
        self.batch_size = batch_size
        self.hide = set(hide)
        self.clock = clock
        self.fresh_for = fresh_for
        self.prefetch = prefetch and batch_size is not None
        self._serve_at = position
        self._order = Order()
        self.reads = 0
        """Pages read for the engine (prefetched or not), re-reads included."""
        self._next: _Prefetch | None = None
        self.empty = empty
        """The side held no record at all when the backfill started: no window read, no
        match look-up (see `operations.backfill.run._empty_side`)."""
        self._end: Position | None = position if empty else None
        """Where the window is known to end (a read from there finds nothing): set by a
        read that came back short, or from the start when the side is `empty`."""
        self.capabilities = Capabilities(
            custom_line_item=inner.capabilities.custom_line_item,
            sent_creates=inner.capabilities.sent_creates,
        )
        """The inner side's custom line item and journal of creates; not its window (this
        is the window) nor its payments (a backfill syncs records; payments follow in the
        live sync)."""

    @property
    def system(self) -> System:
        return self.inner.system

    async def _read(self, rule: SyncRule, position: Position) -> list[Entry]:
        if position == self._end:
            return []  # the window ends there: no request
        self.reads += 1
        page, ended = await read_page_to_end(
            self.reader, rule, position, self.until, self.batch_size
        )
        if ended:
            self._end = position.after(page, self.reader.floor)
        return page

    async def peek(self, rule: SyncRule) -> int | None:
        """Read the next page now (it is served next). Its size when it holds the rest
        of the window (then no count is needed), else None."""
        if self._next is None or self._next.start != self._serve_at:
            await _cancel(self._next)
            start = self._serve_at
            self._next = _Prefetch(start, asyncio.create_task(self._prefetched(rule, start)))
        ahead = self._next
        page = await ahead.task
        return len(page) if self._end == ahead.start.after(page, self.reader.floor) else None

    async def _take(self, rule: SyncRule, start: Position) -> list[Entry]:
        if start == self._end:
            await _cancel(self._next)
            self._next = None
            return []
        ahead, self._next = self._next, None
        if ahead is None or ahead.start != start:
            await _cancel(ahead)
            return await self._read(rule, start)
        page = await ahead.task
        read_at = ahead.read_at or self.clock()
        if self.clock() - read_at > self.fresh_for:
            return await self._read(rule, start)  # too old: read it again, once
        return page

    async def serve(self, rule: SyncRule, turn: Turn) -> Changes:
        """The next page, for `turn` (after every earlier turn was served or skipped)."""
        await self._order.wait(turn.seq)
        try:
            start = self._serve_at
            page = await self._take(rule, start)
            turn.pages[self.system] = (start, page)
            self._serve_at = after = start.after(page, self.reader.floor)
            if self.prefetch and page and after != self._end:
                self._next = _Prefetch(after, asyncio.create_task(self._prefetched(rule, after)))
        finally:
            await self._order.done(turn.seq)
        records = [
            e.record
            for e in page
            if e.record is not None and not e.record.deleted and e.id not in self.hide
        ]
        return Changes(records, None)

    async def served_before(self, seq: int) -> None:
        """Wait until every turn before `seq` was served (or skipped) here."""
        await self._order.wait(seq)

    async def release(self, turn: Turn) -> None:
        """`turn` is over; if it was never served (it stopped before), the next one may be."""
        await self._order.skip(turn.seq)

    def end_of(self, turn: Turn) -> Position | None:
        """Where `turn`'s page ends (None: it was served none)."""
        served = turn.pages.get(self.system)
        return None if served is None else served[0].after(served[1], self.reader.floor)

    @property
    def exhausted(self) -> bool:
        """Every page of the window was served (the last one came back short)."""
        return self._serve_at == self._end

    def rewind(self) -> None:
        """Serve next from the committed position (a turn committed short of its page's
        end; the turns after it, served further on, are over)."""
        self._serve_at = self.position

    async def _prefetched(self, rule: SyncRule, start: Position) -> list[Entry]:
        page = await self._read(rule, start)
        if self._next is not None and self._next.start == start:
            self._next.read_at = self.clock()
        return page

    def position_after(self, turn: Turn, held: Collection[str]) -> Position:
        """Where the next batch starts: after `turn`'s page, or at its first held record."""
        start, page = turn.pages[self.system]
        stop = next((n for n, e in enumerate(page) if e.id in held), len(page))
        return start.after(page[:stop], self.reader.floor)

    async def committed(self, rule: SyncRule, position: Position, touched: Collection[str]) -> None:
        """A page is recorded: go on from `position`. Records of the prefetched page that
        this batch linked or wrote are read again (their read may predate it)."""
        self.position = position
        ahead = self._next
        if ahead is None or ahead.start != position or not touched:
            return
        page = await ahead.task
        stale = [e.id for e in page if e.id in touched and e.record is not None]
        if stale:
            fresh = {r.ref.id: r for r in await self.inner.read_records(rule, stale, RefIndex())}
            page = [Entry(e.id, e.created, fresh.get(e.id)) if e.id in fresh else e for e in page]
            done: asyncio.Future[list[Entry]] = asyncio.get_running_loop().create_future()
            done.set_result(page)
            self._next = _Prefetch(ahead.start, asyncio.ensure_future(done), ahead.read_at)

    async def aclose(self) -> None:
        ahead, self._next = self._next, None
        await _cancel(ahead)

    async def read_records(
        self, rule: SyncRule, ids: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        return await self.inner.read_records(rule, ids, refs)

    async def find_candidates(
        self, rule: SyncRule, keys: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        """The side's records with these match keys; none when the side was `empty` (what
        this backfill made there is found by the engine through its links)."""
        if self.empty:
            return []
        return await self.inner.find_candidates(rule, keys, refs)

    async def display_names(self) -> frozenset[str]:
        return await self.inner.display_names()

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        return await self.inner.apply(rule, actions, refs)


async def _cancel(ahead: _Prefetch | None) -> None:
    if ahead is None:
        return
    ahead.task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await ahead.task
