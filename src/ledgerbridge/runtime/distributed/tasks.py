"""The tasks of the distributed runtime, and how the web process and the tasks defer them.

* `ledgerbridge.sync_connection(connection_id)`: the passes of one connection
  (`passes.ConnectionPasses`). Deferred under the queueing lock `sync:<id>`, so a burst of
  webhooks leaves ONE job waiting (procrastinate refuses a second `todo` job with the same
  queueing lock: `AlreadyEnqueued`, which `Deferrer` takes as "already asked").
* `ledgerbridge.reconcile_connection(connection_id)`: the daily full reconciliation, under
  the connection's advisory lock (never beside a pass); when a pass holds it, the job is
  queued again a minute later.
* periodic (procrastinate's periodic deferrer in every worker; its
  `procrastinate_periodic_defers` row makes each period's job unique, so one job per period
  whatever the number of workers):
  - `ledgerbridge.poll_all`: every `poll_interval_seconds`, one more pass asked of every
    active connection (a webhook can be lost);
  - `ledgerbridge.reconcile_all`: at `distributed.reconcile_cron`, a reconciliation job per
    active connection;
  - `ledgerbridge.recover_stalled`: the jobs of a worker that stopped sending heartbeats
    (killed) are marked failed and their connections asked again. The dead worker's
    advisory locks went with its database session, so the new job can pass at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from procrastinate import App, JobContext
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import DEFAULT_QUEUE, Job, Status

from ledgerbridge.runtime.distributed.kept import KeptConnections
from ledgerbridge.runtime.distributed.passes import ConnectionPasses
from ledgerbridge.runtime.runner import EngineRunner
from ledgerbridge.settings import Settings
from ledgerbridge.store import ConnectionStatus, Store
from ledgerbridge.store.locks import AdvisoryLocks, request_pass, request_passes
from ledgerbridge.sync.rules import ObjectPair

__all__ = [
    "CONTEXT_KEY",
    "RECONCILE_CONNECTION",
    "SYNC_CONNECTION",
    "Deferrer",
    "WorkerContext",
    "cron_every",
    "register_tasks",
]

log = logging.getLogger(__name__)

SYNC_CONNECTION = "ledgerbridge.sync_connection"
RECONCILE_CONNECTION = "ledgerbridge.reconcile_connection"
POLL_ALL = "ledgerbridge.poll_all"
RECONCILE_ALL = "ledgerbridge.reconcile_all"
RECOVER_STALLED = "ledgerbridge.recover_stalled"
CONTEXT_KEY = "ledgerbridge"
RECONCILE_BUSY_RETRY = 60
BATCH = 500
"""Jobs per statement when the poll asks every connection."""


def cron_every(seconds: float) -> str:
    """A cron schedule that fires every `seconds` (rounded to what cron can say)."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"* * * * * */{whole}"  # procrastinate (croniter): a 6th column is seconds
    minutes = max(1, round(whole / 60))
    if minutes < 60:
        return f"*/{minutes} * * * *"
    return f"0 */{min(max(1, round(minutes / 60)), 23)} * * *"


def _sync_job(connection_id: int) -> Job:
    return Job(
        id=None,
        queue=DEFAULT_QUEUE,
        lock=None,
        queueing_lock=f"sync:{connection_id}",
        task_name=SYNC_CONNECTION,
        task_kwargs={"connection_id": connection_id},
    )


def active_ids(store: Store) -> list[int]:
    with store.begin() as tx:
        return [c.id for c in tx.list_connections() if c.status is ConnectionStatus.ACTIVE]


class Deferrer:
    """Asks for passes: counts the ask (generation), then defers the coalescing job."""

    def __init__(self, app: App, store: Store, *, wake_delay: float = 0.0) -> None:
        self._app = app
        self._store = store
        self.wake_delay = wake_delay
        self._background: set[asyncio.Task[None]] = set()

    async def _defer(self, task: str, connection_id: int, at: dt.datetime | None) -> bool:
        prefix = "sync" if task == SYNC_CONNECTION else "reconcile"
        try:
            await self._app.configure_task(
                task, queueing_lock=f"{prefix}:{connection_id}", schedule_at=at
            ).defer_async(connection_id=connection_id)
        except AlreadyEnqueued:
            return False  # a job is already waiting: it will see the new generation
        return True

    async def request(self, connection_id: int, delay: float = 0.0) -> None:
        """One more pass of the connection, `delay` seconds from now at the earliest."""
        await asyncio.to_thread(self._request_pass, connection_id)
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay) if delay > 0 else None
        await self._defer(SYNC_CONNECTION, connection_id, at)

    def _request_pass(self, connection_id: int) -> None:
        with self._store.begin() as tx:
            request_pass(tx, connection_id)

    async def requeue(self, connection_id: int, at: dt.datetime | None) -> None:
        """A job for what is already asked (no new generation), at `at` or now."""
        await self._defer(SYNC_CONNECTION, connection_id, at)

    async def request_all(self, connection_ids: list[int]) -> int:
        """One more pass of each (the periodic poll); returns how many jobs were queued
        (the others had one waiting). The jobs go in batches of `BATCH`, one statement
        each, leaving out connections whose job is already waiting; a batch that meets
        one queued meanwhile (the batch is refused whole) is deferred one by one."""

        def count() -> None:
            with self._store.begin() as tx:
                request_passes(tx, connection_ids)

        await asyncio.to_thread(count)
        waiting = await self._waiting(SYNC_CONNECTION)
        todo = [c for c in connection_ids if f"sync:{c}" not in waiting]
        queued = 0
        for start in range(0, len(todo), BATCH):
            chunk = todo[start : start + BATCH]
            try:
                await self._app.job_manager.batch_defer_jobs_async([_sync_job(c) for c in chunk])
                queued += len(chunk)
            except AlreadyEnqueued:
                for connection_id in chunk:
                    queued += await self._defer(SYNC_CONNECTION, connection_id, None)
        return queued

    async def _waiting(self, task: str) -> set[str]:
        """The queueing locks of the `task` jobs waiting in the queue."""
        rows = await self._app.connector.execute_query_all_async(
            "SELECT queueing_lock FROM procrastinate_jobs"
            " WHERE status = 'todo' AND task_name = %(task)s",
            task=task,
        )
        return {str(row["queueing_lock"]) for row in rows}

    async def reconcile(self, connection_id: int, at: dt.datetime | None = None) -> None:
        await self._defer(RECONCILE_CONNECTION, connection_id, at)

    def wake(
        self,
        connection_id: int,
        pairs: Iterable[ObjectPair] | None = None,
        known: Mapping[ObjectPair, frozenset[str]] | None = None,
    ) -> None:
        """The webhook endpoints' `wake`: defer in the background (call on the loop), to run
        `wake_delay` seconds later, so that a burst of webhooks (a bulk edit, an import)
        finds one job waiting and becomes one pass. Every distributed pass covers every
        rule and searches every change, so `pairs` and `known` only say that something
        changed."""
        task = asyncio.get_running_loop().create_task(self._wake(connection_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _wake(self, connection_id: int) -> None:
        try:
            await self.request(connection_id, self.wake_delay)
        except Exception:  # the poll catches up with a wake that could not be queued
            log.exception("connection %s: could not queue a pass", connection_id)

    async def drain(self) -> None:
        """Wait for the wakes still being queued."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


@dataclass
class WorkerContext:
    """What the tasks of one worker process share (procrastinate's `additional_context`)."""

    settings: Settings
    store: Store
    locks: AdvisoryLocks
    runner: EngineRunner
    kept: KeptConnections
    passes: ConnectionPasses
    deferrer: Deferrer
    backfill_locks: AdvisoryLocks


def _context(context: JobContext) -> WorkerContext:
    found = context.additional_context[CONTEXT_KEY]
    assert isinstance(found, WorkerContext)
    return found


def register_tasks(app: App, settings: Settings) -> None:
    """Register the tasks and the periodic schedules on `app`."""
    from ledgerbridge.runtime.distributed.backfill import BACKFILL_CHUNK, register_backfill

    register_backfill(app, _context)

    @app.task(name=SYNC_CONNECTION, pass_context=True)
    async def sync_connection(context: JobContext, connection_id: int) -> str:
        outcome = await _context(context).passes.sync(connection_id)
        return outcome.value

    @app.task(name=RECONCILE_CONNECTION, pass_context=True)
    async def reconcile_connection(context: JobContext, connection_id: int) -> str:
        ctx = _context(context)
        if not await asyncio.to_thread(ctx.locks.try_acquire, connection_id):
            later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=RECONCILE_BUSY_RETRY)
            await ctx.deferrer.reconcile(connection_id, later)
            return "busy"
        try:
            async with ctx.kept.using(connection_id):
                await ctx.runner.reconcile(connection_id)
        finally:
            await asyncio.to_thread(ctx.locks.release, connection_id)
        return "reconciled"

    @app.task(name=POLL_ALL, pass_context=True)
    async def poll_all(context: JobContext, timestamp: int) -> int:
        ctx = _context(context)
        ids = await asyncio.to_thread(active_ids, ctx.store)
        return await ctx.deferrer.request_all(ids)

    if settings.distributed.poll:
        app.periodic(cron=cron_every(settings.poll_interval_seconds), periodic_id="poll")(poll_all)

    @app.periodic(cron=settings.distributed.reconcile_cron, periodic_id="daily")
    @app.task(name=RECONCILE_ALL, pass_context=True)
    async def reconcile_all(context: JobContext, timestamp: int) -> int:
        ctx = _context(context)
        ids = await asyncio.to_thread(active_ids, ctx.store)
        for connection_id in ids:
            await ctx.deferrer.reconcile(connection_id)
        return len(ids)

    stalled_after = settings.distributed.stalled_after_seconds

    @app.periodic(cron=cron_every(stalled_after), periodic_id="stalled")
    @app.task(name=RECOVER_STALLED, pass_context=True)
    async def recover_stalled(context: JobContext, timestamp: int) -> int:
        ctx = _context(context)
        manager = context.app.job_manager
        recovered = 0
        for task in (SYNC_CONNECTION, RECONCILE_CONNECTION, BACKFILL_CHUNK):
            stalled = await manager.get_stalled_jobs(
                task_name=task, seconds_since_heartbeat=stalled_after
            )
            for job in stalled:
                assert job.id is not None
                await manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
                connection_id = int(str(job.task_kwargs["connection_id"]))
                log.warning(
                    "job %s of a dead worker (connection %s) queued again", job.id, connection_id
                )
                if task == SYNC_CONNECTION:
                    await ctx.deferrer.requeue(connection_id, None)
                elif task == RECONCILE_CONNECTION:
                    await ctx.deferrer.reconcile(connection_id)
                else:  # the same chunk again: it resumes from the stored position
                    await context.app.configure_task(
                        task, queueing_lock=f"backfill:{connection_id}"
                    ).defer_async(**job.task_kwargs)
                recovered += 1
        return recovered

    _ = (sync_connection, reconcile_connection, poll_all, reconcile_all, recover_stalled)
