"""The embedded runtime: one asyncio task per connection, in the process that serves the web app.

Each connection's worker runs one sync pass (a `PassRunner`):

* at start, then whenever it is woken (`wake(connection_id, pairs)`, called by the
  webhook endpoints); wakes that arrive while a pass is running or waiting coalesce into
  ONE pending pass. A wake that names the object pairs that changed (a webhook says
  which objects) runs a pass of only those rules, so a new contact is not held up by a
  read of every invoice and payment; a wake without pairs runs every rule. When every
  wake gathered for a pair also said which HubSpot records changed (`known`), the pass
  reads those by id instead of searching HubSpot's changes (`web.webhooks`);
* wakes are gathered for `coalesce` seconds from the OLDEST one not yet served (issue
  18): a burst of webhooks, and the webhooks of both services for the same few hundred
  milliseconds, make ONE pass, and no change waits longer than `coalesce` plus the pass
  in flight before its pass starts (the latency target bounds `coalesce`; 0: no wait);
* a full pass (every rule) at least every `poll_interval` seconds anyway (a webhook can be
  lost); scoped passes do not postpone it, and a gathering lengthened by the pacer
  (`runtime.pacing`: QBO writes keep coming) by at most that gathering;
* after a pass that raised: the error is logged and the pass is retried after a backoff
  delay (exponential, capped; the error's `retry_after` when longer), and not earlier
  whatever the wakes say, so a failing connection never becomes a crash loop;
* never while the connection is not `active`: a pass that raises `AuthenticationError`
  marks it `needs_reauth`, and from then on the worker only re-reads the status (on a wake
  or every `poll_interval`) until `ledgerbridge connect` makes it active again;
* a daily full reconciliation (`reconcile`, an optional hook run after a successful pass
  once `reconcile_interval` has passed).

`stop()` (or cancelling `run()`, which is what `serve_all` does on SIGINT/SIGTERM) lets the
pass in flight finish (bounded by `stop_timeout`), starts no new pass, and returns.

Time is injected (`clock`, `sleep`), so tests drive the runtime with a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ledgerbridge.runtime.pacing import Pacer
from ledgerbridge.store.rows import ConnectionStatus
from ledgerbridge.sync.errors import AuthenticationError, TransientError
from ledgerbridge.sync.report import PassReport
from ledgerbridge.sync.rules import ObjectPair

__all__ = [
    "ConnectionDirectory",
    "EmbeddedRuntime",
    "PassRunner",
    "ReconcileHook",
    "RuntimeOptions",
    "WorkerStats",
]

log = logging.getLogger(__name__)

PassRunner = Callable[..., Awaitable[object]]
"""Run one sync pass for connection id N: `runner(N)` for every rule, or
`runner(N, only=pairs, known=ids)` for the rules of those object pairs (`known`: for
some of them, the HubSpot records that changed)."""
Known = Mapping[ObjectPair, frozenset[str]]
"""Per object pair, the ids of every HubSpot record the wakes say changed (empty: none)."""
ReconcileHook = Callable[[int], Awaitable[object]]
"""Run the daily full reconciliation of connection id N."""
Sleep = Callable[[float], Awaitable[None]]
PassListener = Callable[[int, BaseException | None], None]


class ConnectionDirectory(Protocol):
    """What the runtime needs to know about the stored connections (`StoreDirectory`)."""

    def connection_ids(self) -> list[int]: ...

    def status(self, connection_id: int) -> ConnectionStatus | None: ...

    def mark_needs_reauth(self, connection_id: int, detail: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    poll_interval: float = 60.0
    reconcile_interval: float = 86_400.0
    backoff_base: float = 5.0
    backoff_max: float = 900.0
    stop_timeout: float = 60.0
    coalesce: float = 0.0
    """Seconds a woken worker gathers further wakes before its pass, counted from the
    oldest wake not yet served (not from the last: a steady stream cannot postpone it)."""
    qbo_share: float = 0.0
    """When > 0: while QBO writes keep coming, the gathering is lengthened (up to
    `coalesce_max`) so that live passes keep QBO's minute under this share of its budget
    (`runtime.pacing`); 0: always `coalesce`."""
    coalesce_max: float = 2.0

    def backoff(self, failures: int) -> float:
        """Seconds to wait after `failures` failed passes in a row (5, 10, 20 … ≤ 15 min)."""
        exponent = min(max(failures - 1, 0), 30)
        return float(min(self.backoff_base * 2**exponent, self.backoff_max))


@dataclass(slots=True)
class WorkerStats:
    passes: int = 0  # passes that completed without raising
    failures: int = 0  # passes that raised, in total
    failures_in_row: int = 0
    skipped: int = 0  # times a pass was due but the connection was not active
    reconciliations: int = 0
    last_error: str | None = None


@dataclass(slots=True)
class _Worker:
    connection_id: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stats: WorkerStats = field(default_factory=WorkerStats)
    task: asyncio.Task[None] | None = None
    full: bool = True
    """The next pass covers every rule (at start, on a wake without pairs, when due)."""
    pairs: set[ObjectPair] = field(default_factory=set)
    """The pairs named by the wakes since the last pass."""
    known: dict[ObjectPair, set[str]] = field(default_factory=dict)
    """Per pair, the HubSpot records that changed, when every wake naming the pair said
    which (the pass reads them by id); a pair of `pairs` missing here is searched."""
    asked_at: float | None = None
    """When the oldest wake not yet served arrived (clock seconds)."""
    pacer: Pacer | None = None
    """Lengthens the gathering while QBO writes keep coming (`RuntimeOptions.qbo_share`)."""
    paced: float = 0.0
    """The gathering last logged."""

    def ask(
        self, pairs: Iterable[ObjectPair] | None, now: float, known: Known | None = None
    ) -> None:
        if self.asked_at is None:
            self.asked_at = now
        if pairs is None:
            self.full = True
        else:
            for pair in pairs:
                ids = known.get(pair) if known is not None else None
                if ids is None:  # this wake did not say which: the pair is searched
                    self.known.pop(pair, None)
                elif pair not in self.pairs or pair in self.known:  # no wake said "search"
                    self.known.setdefault(pair, set()).update(ids)
                self.pairs.add(pair)
        self.wake.set()

    def take(self) -> tuple[frozenset[ObjectPair] | None, dict[ObjectPair, frozenset[str]]]:
        """The scope of the pass about to run (None: every rule) and, for a scoped pass,
        the HubSpot records known to have changed per pair; and reset them."""
        scope = None if self.full else frozenset(self.pairs)
        known = {} if self.full else {p: frozenset(ids) for p, ids in self.known.items()}
        self.full = False
        self.pairs = set()
        self.known = {}
        self.asked_at = None
        self.wake.clear()
        return scope, known


class EmbeddedRuntime:
    def __init__(
        self,
        runner: PassRunner,
        directory: ConnectionDirectory,
        *,
        options: RuntimeOptions | None = None,
        reconcile: ReconcileHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        on_pass: PassListener | None = None,
    ) -> None:
        self._runner = runner
        self._directory = directory
        self.options = options or RuntimeOptions()
        self._reconcile = reconcile
        self._clock = clock
        self._sleep = sleep
        self._listeners: list[PassListener] = [on_pass] if on_pass is not None else []
        self._workers: dict[int, _Worker] = {}
        self._stopping = asyncio.Event()
        self._running = False

    # -- public --------------------------------------------------------------------------

    def wake(
        self,
        connection_id: int,
        pairs: Iterable[ObjectPair] | None = None,
        known: Known | None = None,
    ) -> None:
        """Ask for a pass of `connection_id` soon: of the rules of `pairs` when given (the
        objects a webhook says changed), else of every rule. `known`: for some of those
        pairs, the HubSpot records that changed (the pass reads them by id, not by a
        search, when every wake gathered into it said which). Call from the loop's thread."""
        worker = self._workers.get(connection_id)
        if worker is None:
            worker = self._workers[connection_id] = _Worker(connection_id)
            if self._running:
                self._start(worker)
        worker.ask(pairs, self._clock(), known)

    def add_listener(self, listener: PassListener) -> None:
        """`listener(connection_id, error or None)` after every pass (must not block)."""
        self._listeners.append(listener)

    def stats(self, connection_id: int) -> WorkerStats | None:
        worker = self._workers.get(connection_id)
        return worker.stats if worker else None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Finish the passes in flight, start no new one; `run()` returns afterwards."""
        self._stopping.set()

    async def run(self) -> None:
        """Run every connection's worker until `stop()` or cancellation."""
        self._running = True
        try:
            await self._refresh()
            while not self._stopping.is_set():
                await self._wait(self._clock() + self.options.poll_interval, None)
                if not self._stopping.is_set():
                    await self._refresh()
        except asyncio.CancelledError:
            self.stop()
            await self._drain()
            raise
        await self._drain()

    # -- supervisor ----------------------------------------------------------------------

    async def _refresh(self) -> None:
        """Start a worker for every stored connection that has none (new `connect`s). A
        store that cannot be read now is asked again at the next poll: the runtime (and
        the process serving it) never stops for it."""
        try:
            ids = await asyncio.to_thread(self._directory.connection_ids)
        except Exception:
            log.exception(
                "could not list the connections; trying again in %s s", self.options.poll_interval
            )
            return
        for connection_id in ids:
            self._workers.setdefault(connection_id, _Worker(connection_id))
        for worker in self._workers.values():
            if worker.task is None:
                self._start(worker)

    def _start(self, worker: _Worker) -> None:
        worker.task = asyncio.create_task(
            self._work(worker), name=f"ledgerbridge-connection-{worker.connection_id}"
        )

    async def _drain(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None and not w.task.done()]
        if tasks:
            timer: asyncio.Future[None] = asyncio.ensure_future(
                self._sleep(self.options.stop_timeout)
            )
            pending: Iterable[asyncio.Future[None]] = tasks
            while pending and not timer.done():
                _, pending = await asyncio.wait(
                    [*pending, timer], return_when=asyncio.FIRST_COMPLETED
                )
                pending = [t for t in pending if t is not timer]
            timer.cancel()
            await asyncio.gather(timer, return_exceptions=True)
            for task in pending:
                log.warning("stop timeout: cancelling a pass still running")
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._running = False

    async def _wait(self, deadline: float, wake: asyncio.Event | None) -> None:
        """Until `deadline` (clock seconds), `stop()`, or `wake` is set (when given)."""
        delay = deadline - self._clock()
        if delay <= 0 or self._stopping.is_set() or (wake is not None and wake.is_set()):
            return
        waiters: list[asyncio.Future[object]] = [
            asyncio.ensure_future(self._sleep(delay)),
            asyncio.ensure_future(self._stopping.wait()),
        ]
        if wake is not None:
            waiters.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    # -- one connection ------------------------------------------------------------------

    async def _work(self, worker: _Worker) -> None:
        cid, stats, options = worker.connection_id, worker.stats, self.options
        next_due = self._clock()  # a pass at start: catch up with what happened while down
        not_before = next_due
        next_reconcile = next_due + options.reconcile_interval
        while not self._stopping.is_set():
            await self._wait(not_before, None)  # backoff: wakes wait for it (and coalesce)
            await self._wait(next_due, worker.wake)
            coalesce = options.coalesce
            if worker.asked_at is not None:
                # Woken: gather the wakes of the next moments into this pass; the poll's
                # full pass when due cuts the gathering short, unless the gathering is
                # paced (a pass of its own would spend QBO's minute: the poll waits it out).
                coalesce = self._coalesce(worker)
                until = worker.asked_at + coalesce
                if worker.pacer is None or not worker.pacer.pacing:
                    until = min(until, next_due)
                await self._wait(until, None)
            if self._stopping.is_set():
                break
            if self._clock() >= next_due:
                worker.full = True  # the poll is due: every rule
            scope, known = worker.take()
            if scope is not None and not scope:
                continue  # woken for objects no rule syncs
            try:
                status = await asyncio.to_thread(self._directory.status, cid)
            except Exception:  # the store cannot be read now: as a failed pass, retried
                log.exception("connection %s: could not read its status", cid)
                stats.failures += 1
                stats.failures_in_row += 1
                not_before = next_due = self._clock() + options.backoff(stats.failures_in_row)
                worker.full = True
                continue
            if status is None:
                log.info("connection %s no longer exists; its worker stops", cid)
                break
            now = self._clock()
            if status is not ConnectionStatus.ACTIVE:
                stats.skipped += 1
                worker.full = True
                next_due = now + options.poll_interval  # re-read the status, nothing more
                continue
            started = self._clock()
            error, result = await self._one_pass(cid, scope, known)
            now = self._clock()
            if worker.pacer is not None and isinstance(result, PassReport):
                worker.pacer.record(started, coalesce, result.qbo_reads, result.qbo_writes)
            if scope is None:
                next_due = now + options.poll_interval
            if error is None:
                stats.passes += 1
                stats.failures_in_row = 0
                stats.last_error = None
                due = self._reconcile is not None and now >= next_reconcile
                if due and await self._reconcile_once(cid):
                    stats.reconciliations += 1
                    next_reconcile = self._clock() + options.reconcile_interval
                continue
            stats.failures += 1
            stats.last_error = f"{type(error).__name__}: {error}"
            if isinstance(error, AuthenticationError):
                stats.failures_in_row = 0
                log.warning("connection %s needs to be reconnected: %s", cid, error)
                await asyncio.to_thread(self._directory.mark_needs_reauth, cid, str(error))
                continue
            stats.failures_in_row += 1
            delay = options.backoff(stats.failures_in_row)
            if isinstance(error, TransientError) and error.retry_after:
                delay = max(delay, min(error.retry_after, options.backoff_max))
            not_before = next_due = now + delay  # retry then, and not earlier
            worker.full = True  # and then every rule
            log.warning(
                "connection %s: pass failed (%d in a row), retrying in %.0f s",
                cid,
                stats.failures_in_row,
                delay,
            )

    def _coalesce(self, worker: _Worker) -> float:
        """The gathering of the pass about to run: `coalesce`, lengthened by the worker's
        pacer while QBO writes keep coming (logged when it moves by 0.1 s or more)."""
        options = self.options
        if options.qbo_share <= 0:
            return options.coalesce
        if worker.pacer is None:
            worker.pacer = Pacer(
                options.coalesce, share=options.qbo_share, longest=options.coalesce_max
            )
            worker.paced = options.coalesce
        pacer = worker.pacer
        wait = pacer.coalesce(self._clock())
        if abs(wait - worker.paced) >= 0.1 or (wait == options.coalesce) != (
            worker.paced == options.coalesce
        ):
            aim = f"{options.qbo_share:.0%}"
            if wait > options.coalesce:
                why = (
                    f"{pacer.rate:.1f} QBO writes a second: more of them ride in each batch; "
                    f"QBO's minute projected at {pacer.projected:.0%}, aim {aim}"
                )
            elif pacer.rate > 0:
                why = f"the default; QBO's minute projected at {pacer.projected:.0%}, aim {aim}"
            else:
                why = "the default; no QBO writes lately"
            log.info(
                "connection %s: gathering webhooks for %.2f s before a pass (%s)",
                worker.connection_id,
                wait,
                why,
            )
            worker.paced = wait
        return wait

    async def _one_pass(
        self, cid: int, scope: frozenset[ObjectPair] | None, known: Known
    ) -> tuple[Exception | None, object]:
        error: Exception | None = None
        result: object = None
        try:
            if scope is None:
                result = await self._runner(cid)
            else:
                result = await self._runner(cid, only=scope, known=known)
        except Exception as exc:  # a failing pass must never kill the worker
            error = exc
            if not isinstance(exc, AuthenticationError):
                log.exception("connection %s: sync pass failed", cid)
        for listener in self._listeners:
            with contextlib.suppress(Exception):
                listener(cid, error)
        return error, result

    async def _reconcile_once(self, cid: int) -> bool:
        assert self._reconcile is not None
        try:
            await self._reconcile(cid)
        except Exception:
            log.exception("connection %s: daily reconciliation failed; retried after a pass", cid)
            return False
        return True
