"""A worker process of the distributed runtime, and the opening both kinds of process share.

`open_distributed(settings)` opens the store (our Alembic migrations, one process at a time)
and the queue (procrastinate's schema when absent). `run_worker(...)` runs procrastinate's
worker with this process's `WorkerContext` until it is stopped (SIGINT/SIGTERM, or the
task running it is cancelled): the pass in flight finishes first, bounded by
`shutdown_timeout`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import psycopg
from procrastinate import App

from ledgerbridge.errors import ConfigError, StoreError
from ledgerbridge.operations.workflow_actions import WorkflowActionService
from ledgerbridge.runtime.distributed.app import create_app, ensure_queue_schema
from ledgerbridge.runtime.distributed.backfill import BACKFILL_LOCKS
from ledgerbridge.runtime.distributed.budgets import shared_budgets
from ledgerbridge.runtime.distributed.kept import KeptConnections
from ledgerbridge.runtime.distributed.metrics_server import serving_metrics
from ledgerbridge.runtime.distributed.passes import ConnectionPasses, worker_name
from ledgerbridge.runtime.distributed.tasks import CONTEXT_KEY, Deferrer, WorkerContext
from ledgerbridge.runtime.embedded import PassRunner, RuntimeOptions
from ledgerbridge.runtime.observe import PassObserver
from ledgerbridge.runtime.runner import EngineRunner
from ledgerbridge.runtime.workflow_actions import clients_factory
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store
from ledgerbridge.store.configured import open_store
from ledgerbridge.store.locks import AdvisoryLocks
from ledgerbridge.web.metrics import Metrics

__all__ = ["MetricsEndpoint", "Queue", "open_distributed", "run_worker"]

log = logging.getLogger(__name__)


@dataclass
class Queue:
    """An open store and procrastinate app (the web process and the workers both)."""

    settings: Settings
    store: Store
    app: App
    deferrer: Deferrer

    async def aclose(self) -> None:
        await self.app.close_async()
        self.store.close()


def _check_key(settings: Settings) -> None:
    if settings.secret_key is None and not settings.key_file.is_file():
        raise ConfigError(
            "the distributed runtime needs the same token-encryption key in every process, "
            "and no secret_key is set",
            fix="make one with `ledgerbridge keygen` and set LEDGERBRIDGE_SECRET_KEY (or "
            f"secret_key) to it in every process, or give every process the key file "
            f"{settings.key_file}",
        )


async def open_distributed(settings: Settings, *, pool_max: int = 10) -> Queue:
    """Open the store and the queue of the distributed runtime (schemas applied)."""
    if settings.runtime != "distributed":
        raise ConfigError(
            "the distributed runtime is not configured",
            fix='set runtime = "distributed" (LEDGERBRIDGE_RUNTIME) and a postgresql:// '
            "database_url; the embedded runtime syncs inside `ledgerbridge run`",
        )
    _check_key(settings)
    store = await asyncio.to_thread(open_store, settings)  # StoreError when unreachable
    try:
        await ensure_queue_schema(settings)
    except (OSError, psycopg.Error) as exc:
        store.close()
        raise StoreError(
            f"cannot set up the job queue's schema: {str(exc).strip().splitlines()[0]}",
            fix="check that the database_url's user may create tables, then try again",
        ) from exc
    app = create_app(settings, min_size=1, max_size=pool_max)
    await app.open_async()
    deferrer = Deferrer(app, store, wake_delay=settings.distributed.webhook_delay_seconds)
    return Queue(settings, store, app, deferrer)


RunnerWrapper = Callable[[PassRunner], PassRunner]
JOB_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class MetricsEndpoint:
    """Where a worker serves its `/metrics` (`metrics_server`); port 0: any free port.
    `started` is told the base URL once it listens."""

    host: str = "127.0.0.1"
    port: int = 0
    started: Callable[[str], None] | None = None


def _serve_metrics(
    queue: Queue, endpoint: MetricsEndpoint | None, serving: ExitStack
) -> Metrics | None:
    """The worker's registry, served at `endpoint` until `serving` closes (None: off)."""
    if endpoint is None:
        return None
    registry = Metrics()
    allowed = queue.settings.allowed_hosts
    url = serving.enter_context(
        serving_metrics(queue.store, registry, endpoint.host, endpoint.port, allowed)
    )
    log.info("event=metrics_serving url=%s/metrics", url)
    if endpoint.started is not None:
        endpoint.started(url)
    return registry


async def run_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    name: str | None = None,
    wrap_runner: RunnerWrapper | None = None,
    install_signal_handlers: bool = True,
    shutdown_timeout: float = 60.0,
    delete_jobs: str = "successful",
    metrics: MetricsEndpoint | None = None,
) -> None:
    """Run one worker until stopped. `wrap_runner` wraps the pass runner (tests observe
    passes with it); `delete_jobs`: procrastinate's (finished jobs kept or not);
    `metrics`: serve this worker's pass metrics there (off when None)."""
    queue = await open_distributed(settings)
    serving = ExitStack()
    try:
        registry = _serve_metrics(queue, metrics, serving)
    except BaseException:
        await queue.aclose()
        raise
    locks = AdvisoryLocks(queue.store.engine)
    runner = EngineRunner(
        queue.store,
        settings,
        on_clients=shared_budgets(queue.store),
        observer=PassObserver(registry),
    )
    kept = KeptConnections(runner, settings.distributed.kept_connections)
    worker = name or worker_name()
    passes = ConnectionPasses(
        queue.store,
        locks,
        wrap_runner(kept) if wrap_runner else kept,
        requeue=queue.deferrer.requeue,
        options=RuntimeOptions(poll_interval=settings.poll_interval_seconds),
        worker=worker,
    )
    workflows = WorkflowActionService(queue.store, clients_factory(settings, queue.store))
    passes.add_listener(workflows.after_pass)  # R-WF-4: associate what the pass synced
    backfill_locks = AdvisoryLocks(queue.store.engine, BACKFILL_LOCKS)
    context = WorkerContext(
        settings, queue.store, locks, runner, kept, passes, queue.deferrer, backfill_locks
    )
    stalled = settings.distributed.stalled_after_seconds
    try:
        await queue.app.run_worker_async(
            name=worker,
            concurrency=concurrency or settings.distributed.concurrency,
            additional_context={CONTEXT_KEY: context},
            install_signal_handlers=install_signal_handlers,
            shutdown_graceful_timeout=shutdown_timeout,
            update_heartbeat_interval=max(stalled / 3, 0.5),
            stalled_worker_timeout=stalled,
            delete_jobs=delete_jobs,
            # Jobs deferred for later (a webhook's, a backoff's) are found by polling, not
            # by LISTEN/NOTIFY: poll every second, so a webhook's pass is not 5 s late.
            fetch_job_polling_interval=JOB_POLL_SECONDS,
        )
    finally:
        await workflows.drain()
        await runner.aclose()
        locks.close()
        backfill_locks.close()
        serving.close()
        await queue.aclose()
