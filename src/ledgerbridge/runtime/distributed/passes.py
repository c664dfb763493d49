"""One connection's passes in a worker: the advisory lock and the generation counter.

`ConnectionPasses.sync(connection_id)` is the body of the `sync_connection` task:

1. a connection that is not `active` (or gone) is left alone;
2. try the connection's advisory lock (`store.locks.AdvisoryLocks`); when another worker
   holds it, return at once: the ask was counted (`request_pass`) before this job was
   deferred, and the holder runs one more pass for it when its pass ends;
3. holding the lock, run passes while `requested > done`: each pass covers the
   `requested` it read at its start (`begin_pass`) and moves `done` up to it
   (`finish_pass`); a change during the pass leaves `requested > done` → one more pass.
   After `max_passes` in a row the job hands the rest to a fresh job (`requeue`), so one
   busy connection cannot keep a worker slot for ever;
4. release the lock, then look once more: an ask that came after the last `begin_pass`
   and whose job found the lock still held would otherwise wait for the next poll;
5. a pass that raises `AuthenticationError` marks the connection `needs_reauth` (no retry);
   after any other error `done` stays behind, the connection backs off as in the embedded
   runtime (`RuntimeOptions.backoff`, or the error's `retry_after` when longer:
   `not_before`), a job is queued for the end of the backoff, and the error is raised (the
   job shows failed). Jobs that start earlier (webhooks, polls) queue that job and return.
   Not procrastinate's retry: retrying a job moves it back to `todo`, which conflicts with
   the `todo` job a webhook has queued meanwhile under the same queueing lock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Protocol

from ledgerbridge.runtime.embedded import PassRunner, RuntimeOptions
from ledgerbridge.store import ConnectionStatus, Store
from ledgerbridge.store.directory import StoreDirectory
from ledgerbridge.store.locks import (
    PassState,
    begin_pass,
    finish_pass,
    pass_state,
)
from ledgerbridge.sync.errors import AuthenticationError, TransientError

__all__ = ["ConnectionPasses", "Outcome", "PassLocks", "worker_name"]

log = logging.getLogger(__name__)

PassListener = Callable[[int, BaseException | None], None]
Requeue = Callable[[int, dt.datetime | None], Awaitable[None]]
"""`requeue(connection_id, at)`: defer a `sync_connection` job (at `at`, else now)."""


class PassLocks(Protocol):
    """One holder per key across every worker (`store.locks.AdvisoryLocks`)."""

    def try_acquire(self, key: int) -> bool: ...

    def release(self, key: int) -> bool: ...


def worker_name() -> str:
    """`host:pid`, shown on the status of a running pass (and used to find a worker)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Outcome(Enum):
    PASSED = "passed"  # ran at least one pass
    NOTHING = "nothing"  # held the lock, nothing was pending
    BUSY = "busy"  # another worker holds the connection
    INACTIVE = "inactive"  # not active (needs_reauth, paused) or gone
    NEEDS_REAUTH = "needs_reauth"  # its grant was refused during this job
    REQUEUED = "requeued"  # ran `max_passes`, handed the rest to a fresh job
    BACKING_OFF = "backing_off"  # failed lately: a job is queued for the end of the backoff


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ConnectionPasses:
    """The passes of the connections of one worker process (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        locks: PassLocks,
        runner: PassRunner,
        *,
        requeue: Requeue,
        options: RuntimeOptions | None = None,
        worker: str | None = None,
        max_passes: int = 3,
    ) -> None:
        self._store = store
        self._locks = locks
        self._runner = runner
        self._requeue = requeue
        self._directory = StoreDirectory(store)
        self.options = options or RuntimeOptions()
        self.worker = worker or worker_name()
        self.max_passes = max_passes
        self._listeners: list[PassListener] = []

    def add_listener(self, listener: PassListener) -> None:
        """`listener(connection_id, error or None)` after every pass (must not block), as
        the embedded runtime's (the workflow actions associate their documents with it)."""
        self._listeners.append(listener)

    def _tell(self, connection_id: int, error: BaseException | None) -> None:
        for listener in self._listeners:
            try:
                listener(connection_id, error)
            except Exception:
                log.exception("connection %s: a pass listener failed", connection_id)

    async def sync(self, connection_id: int) -> Outcome:
        """The `sync_connection` job: every pass asked of the connection and not done yet,
        unless another worker holds it; raises what a failed pass raised (after backing off
        and queueing the retry)."""
        outcome = Outcome.BUSY
        while True:
            status = await asyncio.to_thread(self._directory.status, connection_id)
            if status is not ConnectionStatus.ACTIVE:
                return Outcome.INACTIVE if outcome is Outcome.BUSY else outcome
            state = await asyncio.to_thread(self._state, connection_id)
            if state is not None and state.not_before and state.not_before > _now():
                await self._requeue(connection_id, state.not_before)
                return Outcome.BACKING_OFF
            if not await asyncio.to_thread(self._locks.try_acquire, connection_id):
                return outcome
            try:
                this = await self._passes(connection_id)
            finally:
                await asyncio.to_thread(self._locks.release, connection_id)
            if outcome in (Outcome.BUSY, Outcome.NOTHING) or this is not Outcome.NOTHING:
                outcome = this
            if this in (Outcome.NEEDS_REAUTH, Outcome.REQUEUED):
                return outcome
            state = await asyncio.to_thread(self._state, connection_id)
            if state is None or not state.pending:
                return outcome

    def _state(self, connection_id: int) -> PassState | None:
        with self._store.begin() as tx:
            return pass_state(tx, connection_id)

    async def _passes(self, connection_id: int) -> Outcome:
        """Passes while something is pending (the lock is held)."""
        ran = 0
        while True:
            if ran >= self.max_passes:
                await self._requeue(connection_id, None)
                return Outcome.REQUEUED
            generation = await asyncio.to_thread(self._begin, connection_id)
            if generation is None:
                return Outcome.PASSED if ran else Outcome.NOTHING
            try:
                await self._runner(connection_id)
            except AuthenticationError as exc:
                self._tell(connection_id, exc)
                log.warning("connection %s needs to be reconnected: %s", connection_id, exc)
                await asyncio.to_thread(self._finish, connection_id, None, str(exc), False)
                await asyncio.to_thread(self._directory.mark_needs_reauth, connection_id, str(exc))
                return Outcome.NEEDS_REAUTH
            except Exception as exc:
                self._tell(connection_id, exc)
                await self._failed(connection_id, exc)
                raise
            ran += 1
            self._tell(connection_id, None)
            state = await asyncio.to_thread(self._finish, connection_id, generation, None, False)
            if not state.pending:
                return Outcome.PASSED

    async def _failed(self, connection_id: int, exc: Exception) -> None:
        """Back off (as the embedded runtime does) and queue the retry for its end."""
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        error = f"{type(exc).__name__}: {exc}"
        state = await asyncio.to_thread(self._finish, connection_id, None, error, True, retry_after)
        log.warning(
            "connection %s: pass failed (%d in a row), retrying at %s: %s",
            connection_id,
            state.failures,
            state.not_before,
            error,
        )
        await self._requeue(connection_id, state.not_before)

    def _begin(self, connection_id: int) -> int | None:
        with self._store.begin() as tx:
            return begin_pass(tx, connection_id, self.worker, _now())

    def _finish(
        self,
        connection_id: int,
        generation: int | None,
        error: str | None,
        back_off: bool,
        retry_after: float | None = None,
    ) -> PassState:
        options = self.options

        def backoff(failures: int) -> float:
            delay = options.backoff(failures)
            if retry_after:
                delay = max(delay, min(retry_after, options.backoff_max))
            return delay

        with self._store.begin() as tx:
            return finish_pass(
                tx,
                connection_id,
                generation,
                _now(),
                error=error,
                backoff=backoff if back_off else None,
            )
