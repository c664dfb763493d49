"""Backfill turns in a pipeline: while one turn's writes wait for the API (its rate
window, its answers) or its commit, the next turn reads and plans the next page and
sends its writes.

Each *lane* is an unchanged `SyncEngine` over its own views of the shared windows
(`LaneSide`) and state (`LaneState`); a lane runs one turn (one engine pass, one page
per side) at a time. Turns are numbered: pages are served in that order and commits are
written in that order (`BackfillState.commit_turn`), so the stored position only ever
moves over pages whose records are all recorded, and a crash resumes at the first page
not committed. Writes of a later turn may precede an earlier turn's commit: after a
crash they are planned again from the same source versions and replay idempotently
(the same upsert keys on HubSpot, the same request ids on QBO).

Only a turn of the invoice rule with one side to read runs beside another (`depth`):
its plan needs no other page's outcome (invoices are not matched by key, and its
writes go to the other side, which no page of this window reads). A turn that commits
short of its page's end (a held record) lets the turns in flight finish (their commits
record their links and leave the position), then the windows are served again from
the position.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from ledgerbridge.domain import System
from ledgerbridge.operations.backfill.state import BackfillState
from ledgerbridge.operations.backfill.windowed import Turn, WindowedSide
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.model import Link, RefIndex, SideRecord
from ledgerbridge.sync.ports import Capabilities, Changes, Commit, WriteAction, WriteResult
from ledgerbridge.sync.report import PassReport
from ledgerbridge.sync.rules import ObjectPair, SyncRule


@dataclass(eq=False, slots=True)
class Lane:
    """One engine and the turn it runs now."""

    turn: Turn = field(default_factory=lambda: Turn(-1))
    engine: SyncEngine | None = None


class LaneSide:
    """The `SidePort` a lane's engine sees: the shared window, served for the lane's turn."""

    def __init__(self, window: WindowedSide, lane: Lane) -> None:
        self.window = window
        self.lane = lane
        self.capabilities: Capabilities = window.capabilities

    @property
    def system(self) -> System:
        return self.window.system

    async def read_changes(
        self, rule: SyncRule, since: dt.datetime | None, refs: RefIndex
    ) -> Changes:
        return await self.window.serve(rule, self.lane.turn)

    async def read_records(
        self, rule: SyncRule, ids: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        return await self.window.read_records(rule, ids, refs)

    async def find_candidates(
        self, rule: SyncRule, keys: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        return await self.window.find_candidates(rule, keys, refs)

    async def display_names(self) -> frozenset[str]:
        return await self.window.display_names()

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        return await self.window.apply(rule, actions, refs)


class LaneState:
    """The `StatePort` a lane's engine sees: the shared state; commits in turn order."""

    payments = None
    """A backfill syncs records; payments follow in the live sync (no payment state)."""

    def __init__(self, state: BackfillState, lane: Lane) -> None:
        self.state = state
        self.lane = lane

    async def load_rules(self) -> list[SyncRule]:
        return await self.state.load_rules()

    async def load_links(self) -> list[Link]:
        return await self.state.load_links()

    async def load_links_for(
        self,
        object_type: ObjectPair,
        hubspot_ids: Collection[str] = (),
        qbo_ids: Collection[str] = (),
        keys: Collection[str] = (),
    ) -> list[Link]:
        return await self.state.load_links_for(object_type, hubspot_ids, qbo_ids, keys)

    async def load_link_ids(self, object_type: ObjectPair) -> list[tuple[str, str]]:
        return await self.state.load_link_ids(object_type)

    async def load_refs(self) -> RefIndex:
        return await self.state.load_refs()

    async def get_cursor(self, side: System, object_type: ObjectPair) -> dt.datetime | None:
        return await self.state.get_cursor(side, object_type)

    async def commit(self, commit: Commit) -> None:
        await self.state.commit_turn(self.lane.turn, commit)

    async def mark_needs_reauth(self, detail: str) -> None:
        await self.state.mark_needs_reauth(detail)


def make_lanes(
    state: BackfillState,
    windows: dict[System, WindowedSide],
    depth: int,
    clock: Callable[[], dt.datetime],
) -> list[Lane]:
    lanes = []
    for _ in range(depth):
        lane = Lane()
        sides = {s: LaneSide(windows[s], lane) for s in System}
        state_view = LaneState(state, lane)
        lane.engine = SyncEngine(
            hubspot=sides[System.HUBSPOT],
            qbo=sides[System.QUICKBOOKS],
            state=state_view,
            clock=clock,
        )
        lanes.append(lane)
    return lanes


async def run_turn(
    lane: Lane, turn: Turn, state: BackfillState, pair: ObjectPair, dry_run: bool
) -> PassReport:
    """One engine pass as `turn`; whatever happens, the turns after it may go on."""
    lane.turn = turn
    assert lane.engine is not None
    try:
        return await lane.engine.run_pass(dry_run=dry_run, only={pair})
    finally:
        for window in state.windows.values():
            await window.release(turn)
        await state.release(turn)


def _exhausted(state: BackfillState) -> bool:
    """Every window served its last page: no turn is needed to find it empty."""
    return all(w.exhausted for w in state.windows.values())


@dataclass(slots=True)
class Outcome:
    """What the turns done so far say: go on, rewind the windows, or stop."""

    stopped: str | None = None
    complete: bool = False
    rewind: bool = False

    @property
    def starting(self) -> bool:
        return self.stopped is None and not self.complete and not self.rewind


def judge(outcome: Outcome, turn: Turn, windows: dict[System, WindowedSide], dry_run: bool) -> None:
    """Take in the outcome of `turn` (turns are judged in order)."""
    if not outcome.starting:
        return  # draining the turns in flight
    if dry_run:
        outcome.complete = True
        return
    behind = any(w.position != w.end_of(turn) for s, w in windows.items() if s in turn.pages)
    if not behind:
        outcome.complete = turn.served == 0
    elif turn.current and not turn.moved:
        outcome.stopped = "no progress: some records wait for a retry (run again later)"
    else:
        outcome.rewind = True


async def run_turns(
    lanes: list[Lane],
    state: BackfillState,
    pair: ObjectPair,
    dry_run: bool,
    on_turn: Callable[[Turn, PassReport], str | None],
) -> Outcome:
    """Turns on `lanes` (as many in flight as lanes) until the window is done or a turn
    stops. `on_turn` takes each turn's report in order and says why to stop, if so."""
    outcome = Outcome()
    inflight: deque[tuple[Turn, asyncio.Task[PassReport]]] = deque()
    seq = 0
    try:
        while True:
            while outcome.starting and len(inflight) < len(lanes):
                for window in state.windows.values():  # so that `_exhausted` is known
                    await window.served_before(seq)
                if _exhausted(state):
                    break
                turn = Turn(seq)
                lane = lanes[seq % len(lanes)]
                inflight.append(
                    (turn, asyncio.create_task(run_turn(lane, turn, state, pair, dry_run)))
                )
                seq += 1
            if not inflight:
                if outcome.rewind and outcome.stopped is None:
                    for window in state.windows.values():
                        window.rewind()
                    outcome.rewind = False
                    continue
                outcome.complete = outcome.stopped is None
                return outcome
            turn, task = inflight.popleft()
            report = await task
            try:
                stop = on_turn(turn, report)
            except Exception:  # e.g. a chunk of a distributed backfill is full
                # The turns in flight finish (their writes are recorded), then it is raised.
                await asyncio.gather(*(t for _, t in inflight), return_exceptions=True)
                inflight.clear()
                raise
            if stop is not None:
                outcome.stopped = outcome.stopped or stop
            judge(outcome, turn, state.windows, dry_run)
    except BaseException:
        for _, task in inflight:
            task.cancel()
        await asyncio.gather(*(t for _, t in inflight), return_exceptions=True)
        raise
