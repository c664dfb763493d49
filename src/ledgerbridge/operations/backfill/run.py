"""Running a backfill: existing invoices matched by key first, then the engine over the
windowed sides, batch by batch, until the window is done (`backfill_ports`,
`backfill_all`)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.domain import System
from ledgerbridge.operations.backfill.pipeline import Lane, make_lanes, run_turns
from ledgerbridge.operations.backfill.position import Position, reader_for, stream
from ledgerbridge.operations.backfill.rule import OBJECTS, BackfillError, backfill_rule, window_of
from ledgerbridge.operations.backfill.state import BackfillState
from ledgerbridge.operations.backfill.windowed import FRESH_FOR, Turn, WindowedSide
from ledgerbridge.store import Store
from ledgerbridge.store.state import load_rules
from ledgerbridge.sync.engine import utc_now
from ledgerbridge.sync.filters import passes
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.ports import ActivityEntry, Commit, RecordOutcome, SidePort
from ledgerbridge.sync.reconcile import invoice_key, link_as_is
from ledgerbridge.sync.report import COUNTERS, PassReport, planned_links
from ledgerbridge.sync.rules import ObjectPair, SyncRule
from ledgerbridge.sync.window import EPOCH, Span, WindowReader

H, Q = System.HUBSPOT, System.QUICKBOOKS
LINK_CHUNK = 100
PIPELINE_DEPTH = 2
"""Turns of the invoice rule in flight at once (memory: a page each, and one prefetched)."""


@dataclass(slots=True)
class BackfillResult:
    name: str
    since: dt.date
    dry_run: bool
    report: PassReport
    matched: list[tuple[str, str, str]] = field(default_factory=list)
    """Invoices linked (or, in a dry run, to be linked) by key: (HubSpot id, QBO id, key)."""
    passes: int = 0
    complete: bool = False
    stopped: str | None = None
    reads: int = 0
    """Window pages read for the engine (prefetched and re-read ones included)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.name,
            "since": self.since.isoformat(),
            "dry_run": self.dry_run,
            "complete": self.complete,
            "stopped": self.stopped,
            "passes": self.passes,
            "matched": [{"hubspot": h, "qbo": q, "key": k} for h, q, k in self.matched],
            "report": self.report.as_dict(),
        }


Progress = Callable[[int, int], None]
"""`progress(done, total)`: first `(0, total)` as this object's turns begin (`total` 0 while
it is still being counted), then after every turn; a window with nothing in it ends with
`(0, 0)`. An object that waits for another stage (invoices for their customers) gets no
call before that stage completed."""


def _stored_rule(store: Store, connection_id: int, pair: ObjectPair) -> SyncRule:
    with store.begin() as tx:
        rules = {r.object_pair: r for r in load_rules(tx, connection_id)}
    rule = rules.get(pair)
    if rule is None:
        raise BackfillError(f"no {pair.value} rule is set up for connection {connection_id}")
    if not rule.enabled:
        raise BackfillError(f"the {pair.value} rule is turned off; turn it on to backfill")
    return rule


async def _key_index(
    reader: WindowReader,
    rule: SyncRule,
    side: System,
    linked: set[str],
    refs: RefIndex,
    until: dt.datetime | None,
    page: int,
    wanted: Collection[str] | None = None,
) -> dict[str, list[tuple[str, bool]]]:
    """Invoice key → [(id, in the window)] of `side`'s live unlinked invoices (only keys
    in `wanted`, when given), streamed: only the keys stay in memory."""
    window = window_of(rule, side)
    index: dict[str, list[tuple[str, bool]]] = {}
    async for entries in stream(
        reader, rule, Position(EPOCH), until, page, keep=lambda i: i not in linked
    ):
        for entry in entries:
            record = entry.record
            if record is None or record.deleted:
                continue
            key = invoice_key(rule, record, refs)
            if key is not None and (wanted is None or key in wanted):
                inside = window is not None and passes(window, record)
                index.setdefault(key, []).append((entry.id, inside))
    return index


async def _match_existing(
    rule: SyncRule,
    state: BackfillState,
    sides: dict[System, SidePort],
    readers: dict[System, WindowReader],
    until: dt.datetime | None,
    dry_run: bool,
    page: int,
) -> list[tuple[str, str, str]]:
    """Invoices that exist on both sides unlinked, one to one by key, at least one of
    them in the window: link them (as `sync.reconcile.pair_unlinked` would). The side that
    is not the only source is indexed first. (Not called when a side is empty.)"""
    first = Q if rule.direction.sources == {H} else H
    links = [x for x in await state.load_links() if x.object_type is rule.object_pair]
    refs = RefIndex.from_links(await state.load_links())
    linked = {H: {x.hubspot_id for x in links}, Q: {x.qbo_id for x in links}}
    mine = await _key_index(readers[first], rule, first, linked[first], refs, until, page)
    if not mine:
        return []
    theirs = await _key_index(
        readers[first.other], rule, first.other, linked[first.other], refs, until, page, mine
    )
    found: list[tuple[str, str, str]] = []
    for key, ours in mine.items():
        others = theirs.get(key, [])
        if len(ours) == 1 and len(others) == 1 and (ours[0][1] or others[0][1]):
            ids = {first: ours[0][0], first.other: others[0][0]}
            found.append((ids[H], ids[Q], key))
    found.sort()
    if dry_run:
        return found
    for start in range(0, len(found), LINK_CHUNK):
        chunk = found[start : start + LINK_CHUNK]
        got = {
            s: {r.ref.id: r for r in await sides[s].read_records(rule, [c[n] for c in chunk], refs)}
            for n, s in enumerate((H, Q))
        }
        pairs = [(got[H][h], got[Q][q], k) for h, q, k in chunk if h in got[H] and q in got[Q]]
        await state.commit(
            Commit(
                rule.object_pair,
                links=[link_as_is(rule, h, q, refs) for h, q, _ in pairs],
                records=[RecordOutcome(r.ref, "synced") for h, q, _ in pairs for r in (h, q)],
                activity=[
                    ActivityEntry(h.ref, "none", "link", "ok", {"matched_on": k, "qbo": q.ref.id})
                    for h, q, k in pairs
                ],
            )
        )
    return found


async def _empty_side(
    rule: SyncRule, readers: dict[System, WindowReader], until: dt.datetime | None
) -> System | None:
    """A side that holds no record of the rule's object at all (created up to `until`),
    found by counting (one request a side, the other only when the first is not empty),
    or None. Its window is empty, and it has no record an existing-record look-up (a
    match candidate, an invoice to link) could find: the backfill sends neither. Records
    made there after `until` (by a user, meanwhile) are the live sync's.

    HubSpot is counted first only when QBO is the rule's only source (the side a one-way
    backfill writes to is the one likely empty); else QBO: its count is one request of a
    500-a-minute budget, HubSpot's a search, of the 4-a-second budget that the windows'
    page reads queue behind (on a two-way rule with QBO empty that is a search saved,
    ~0.25 s of the search window before the first page)."""
    first = H if rule.direction.sources == {Q} else Q
    for side in (first, first.other):
        if await readers[side].count(Span(rule, until), EPOCH) == 0:
            return side
    return None


def _add(total: PassReport, report: PassReport, pair: ObjectPair, keep_actions: bool) -> None:
    if pair not in report.pairs:
        return
    mine, theirs = total.pair(pair), report.pairs[pair]
    for name in (*COUNTERS, "pending"):
        setattr(mine, name, mine.count(name) + theirs.count(name))
    mine.error = theirs.error or mine.error
    if keep_actions:
        mine.actions.extend(theirs.actions)


async def backfill_ports(
    store: Store,
    connection_id: int,
    *,
    hubspot: SidePort,
    qbo: SidePort,
    name: str,
    since: dt.date,
    dry_run: bool = False,
    batch_size: int = 100,
    progress: Progress | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    fresh_for: dt.timedelta = FRESH_FOR,
    planned: RefIndex | None = None,
    after: Awaitable[bool] | None = None,
) -> BackfillResult:
    """Backfill object `name` (contacts, products, invoices) created on or after `since`.
    `planned`: in a dry run, the links the earlier objects' dry runs would make.
    `after`: the end of the objects this one names (True: they completed). Meanwhile,
    when one side is empty, the window is counted and its first page read; no record is
    matched, planned or written before it; when it says False, nothing is."""
    pair = OBJECTS.get(name)
    if pair is None:
        raise BackfillError(f"cannot backfill {name!r}; choose one of {', '.join(OBJECTS)}")
    if batch_size < 1:
        raise BackfillError("the batch size must be at least 1")
    rule = backfill_rule(_stored_rule(store, connection_id, pair), since)
    state = BackfillState(store, connection_id, rule, name, since)
    state.planned = planned if dry_run else None
    result = BackfillResult(name, since, dry_run, PassReport(dry_run=dry_run))
    until = clock()
    ports: dict[System, SidePort] = {H: hubspot, Q: qbo}
    readers = {s: reader_for(port) for s, port in ports.items()}
    hide: dict[System, set[str]] = {H: set(), Q: set()}
    total = Total()
    warm = _warm_custom_item(ports[Q], rule)

    async def cleared() -> bool:  # the objects this one names are done (or none was asked)
        return after is None or await after

    try:
        empty = await _empty_side(rule, readers, until)
        ahead = after is not None and empty is not None and not dry_run
        if not ahead and not await cleared():
            return result
        if pair is ObjectPair.INVOICES_INVOICES and empty is None:
            found = await _match_existing(rule, state, ports, readers, until, dry_run, batch_size)
            result.matched = found
            if dry_run:  # not linked yet: keep the engine from planning them as new
                hide = {H: {h for h, _, _ in found}, Q: {q for _, q, _ in found}}
        sides = {
            s: WindowedSide(
                ports[s],
                readers[s],
                state.position(s),
                until=until,
                batch_size=None if dry_run else batch_size,
                hide=hide[s],
                clock=clock,
                fresh_for=fresh_for,
                empty=s is empty,
            )
            for s in System
        }
        sources = sorted(rule.direction.sources)
        state.windows = {s: sides[s] for s in sources}
        try:
            for s in sources if progress is not None or ahead else ():
                known = await sides[s].peek(rule)  # the first page, read now
                if progress is None:
                    continue
                if known is None:  # more than a page: counted while the first turns go on
                    total.add(readers[s].count(Span(rule, until), state.position(s).bound))
                else:
                    total.known += known
            if ahead and not await cleared():
                return result
            lanes = make_lanes(state, sides, pipeline_depth(rule, empty, dry_run), clock)
            await _turns(lanes, state, pair, result, progress, total)
        finally:
            for side in sides.values():
                await side.aclose()
            result.reads = sum(s.reads for s in sides.values())
        return result
    finally:  # the look-up ahead and the progress bar's counts, if still on their way
        for task in (*total.counting, *([warm] if warm is not None else [])):
            task.cancel()


class Total:
    """The records a backfill's progress counts to: those known (a first page that held
    the whole window) and the counts still on their way (the first turns do not wait
    for them); a count that fails is left out (it is only for the progress bar)."""

    def __init__(self) -> None:
        self.known = 0
        self.counting: list[asyncio.Task[int]] = []

    def add(self, count: Awaitable[int]) -> None:
        task = asyncio.ensure_future(count)
        task.add_done_callback(_retrieved)
        self.counting.append(task)

    def now(self) -> int:
        total = self.known
        for task in self.counting:
            if task.done() and not task.cancelled() and task.exception() is None:
                total += task.result()
        return total


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A count that failed after the last turn looked is not an unretrieved error."""
    if not task.cancelled():
        task.exception()


def _warm_custom_item(qbo: SidePort, rule: SyncRule) -> asyncio.Task[None] | None:
    """Look QBO's "Custom line item" up now, beside the counts and the first page: the
    invoice rule's first turn needs it (one query, cached; a failure here is left for
    that turn's own look-up to report)."""
    custom = qbo.capabilities.custom_line_item
    if rule.object_pair is not ObjectPair.INVOICES_INVOICES or custom is None:
        return None

    async def look() -> None:
        with contextlib.suppress(Exception):
            await custom.custom_line_item(rule)

    return asyncio.create_task(look())


def pipeline_depth(rule: SyncRule, empty: System | None, dry_run: bool) -> int:
    """How many turns run at once: two for the invoice rule when one side alone is read
    (the writes go to the other; see `operations.backfill.pipeline`), else one. Towards
    QBO, the client splits each apply's writes between batches and plain requests from
    the budgets' room less what applies still running have promised (`QboClient.batch`),
    so two applies at once do not count the same room; the next turn's page is read and
    its writes queue while this one's wait for batch slots."""
    if rule.object_pair is not ObjectPair.INVOICES_INVOICES or dry_run:
        return 1
    read = set(rule.direction.sources) - ({empty} if empty is not None else set())
    return PIPELINE_DEPTH if len(read) == 1 else 1


async def _turns(
    lanes: list[Lane],
    state: BackfillState,
    pair: ObjectPair,
    result: BackfillResult,
    progress: Progress | None,
    total: Total,
) -> None:
    """Engine passes over the window, a page each, until it is done or stops."""
    done = 0

    def on_turn(turn: Turn, report: PassReport) -> str | None:
        nonlocal done
        result.passes += 1
        _add(result.report, report, pair, keep_actions=result.dry_run)
        done += turn.served
        if progress is not None:
            progress(done, max(total.now(), done))
        error = report.pairs[pair].error if pair in report.pairs else None
        return report.stopped or error

    if progress is not None:  # the bar shows once this object's writes start (not before)
        progress(0, total.now())
    outcome = await run_turns(lanes, state, pair, result.dry_run, on_turn)
    if progress is not None and result.passes == 0 and outcome.complete:
        progress(0, 0)  # nothing to read: the bar ends at 0/0
    result.report.pair(pair)  # zero counts when no turn was needed (nothing to read)
    result.stopped = outcome.stopped
    result.complete = outcome.stopped is None and outcome.complete


def enabled_objects(store: Store, connection_id: int) -> list[str]:
    """The objects whose rule is set up and on, in dependency order."""
    with store.begin() as tx:
        rules = {r.object_pair: r for r in load_rules(tx, connection_id)}
    return [n for n, p in OBJECTS.items() if (r := rules.get(p)) is not None and r.enabled]


STAGES: tuple[tuple[str, ...], ...] = (("contacts", "products"), ("invoices",))
"""The order of `backfill_all`: the objects of a stage run at once (neither needs the
other's links), a stage after the one before it has completed (invoices name their
customers and items)."""


async def backfill_all(
    store: Store,
    connection_id: int,
    *,
    hubspot: SidePort,
    qbo: SidePort,
    since: dt.date,
    names: Sequence[str] | None = None,
    dry_run: bool = False,
    batch_size: int = 100,
    progress: Callable[[str], Progress | None] | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> list[BackfillResult]:
    """Backfill several objects in dependency order (`STAGES`: contacts and products at
    once, then invoices; all whose rule is on when `names` is None). Stops after the first
    stage with an object that does not complete: invoices need their customers and items
    linked first. Unless it is a dry run, what the first writes would set up (HubSpot's
    unique properties) is set up at the start, while the first pages are read."""
    chosen = enabled_objects(store, connection_id) if names is None else list(names)
    if not chosen:
        raise BackfillError(f"no rule is set up and on for connection {connection_id}")
    unknown = [n for n in chosen if n not in OBJECTS]
    if unknown:
        raise BackfillError(f"cannot backfill {unknown[0]!r}; choose one of {', '.join(OBJECTS)}")
    results: list[BackfillResult] = []
    planned = RefIndex()
    stages = [stage for stage in ([n for n in s if n in chosen] for s in STAGES) if stage]
    rules = [_stored_rule(store, connection_id, OBJECTS[n]) for n in OBJECTS if n in chosen]
    setting_up = [
        asyncio.ensure_future(prepare(rules))
        for port in (hubspot, qbo)
        if (prepare := port.capabilities.prepare) is not None and not dry_run
    ]
    started: dict[str, asyncio.Future[BackfillResult]] = {}
    gates: list[asyncio.Future[bool]] = []

    def begin(name: str, after: asyncio.Future[bool] | None = None) -> None:
        started[name] = asyncio.ensure_future(
            backfill_ports(
                store,
                connection_id,
                hubspot=hubspot,
                qbo=qbo,
                name=name,
                since=since,
                dry_run=dry_run,
                batch_size=batch_size,
                progress=progress(name) if progress is not None else None,
                clock=clock,
                planned=planned,
                after=after,
            )
        )

    try:
        for index, stage in enumerate(stages):
            for name in stage:
                if name not in started:
                    begin(name)
            gate: asyncio.Future[bool] | None = None
            if index + 1 < len(stages) and not dry_run:  # the next stage reads ahead
                gate = asyncio.get_running_loop().create_future()
                gates.append(gate)
                for name in stages[index + 1]:
                    begin(name, after=gate)
            # return_exceptions: the others end their own way before one is raised
            done = await asyncio.gather(*(started[n] for n in stage), return_exceptions=True)
            finished = [o for o in done if not isinstance(o, BaseException)]
            if gate is not None:
                gate.set_result(len(finished) == len(done) and all(r.complete for r in finished))
            for outcome in done:
                if isinstance(outcome, BaseException):
                    raise outcome
            results.extend(finished)
            if dry_run:
                for result in finished:
                    planned = planned_links(planned, result.report)
            if not all(r.complete for r in finished):
                break
    finally:
        for gate in gates:  # a stage that ended in an error: the next one reads no more
            if not gate.done():
                gate.set_result(False)
        await asyncio.gather(*started.values(), *setting_up, return_exceptions=True)
    return results
