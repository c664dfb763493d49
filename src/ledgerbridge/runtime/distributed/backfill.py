"""Backfills as chunked tasks: `ledgerbridge.backfill_chunk(connection_id, names, since)`.

A backfill (`operations.backfill`) is resumable: its position is written with every batch
it commits. So a chunk is simply a run of `backfill_ports` stopped once it has served
`chunk` records (the stop comes from its progress callback, after a batch's commit); the
chunk then queues the next one, which any worker may take and which resumes from the
stored position. A worker killed mid-chunk loses at most the batch in flight (replayed
idempotently by the next chunk, queued by `recover_stalled`).

* One chunk per connection at a time: an advisory lock of its own namespace (not the
  pass lock: the live sync goes on beside the backfill, as with `ledgerbridge backfill`);
  a chunk that finds it taken returns (the holder queues the next chunk).
* Objects in dependency order (contacts, products, invoices): when one completes, the next
  object's chunks follow; one that stops (an error, no progress) ends the backfill, logged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from procrastinate import App, JobContext
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.types import JSONValue

from ledgerbridge.domain import System
from ledgerbridge.operations.backfill import (
    OBJECTS,
    BackfillError,
    BackfillResult,
    backfill_ports,
)
from ledgerbridge.store.locks import AdvisoryLocks

__all__ = ["BACKFILL_CHUNK", "BACKFILL_LOCKS", "queue_backfill", "register_backfill"]

log = logging.getLogger(__name__)

BACKFILL_CHUNK = "ledgerbridge.backfill_chunk"
BACKFILL_LOCKS = 0x4C42_0005
"""Advisory-lock namespace of backfill chunks (second key: the connection id)."""
CHUNK_RECORDS = 1000


class _ChunkDone(Exception):
    """Raised by the progress callback once a chunk has served its records."""


async def queue_backfill(
    app: App,
    connection_id: int,
    names: list[str],
    since: dt.date,
    *,
    chunk: int = CHUNK_RECORDS,
    batch_size: int = 100,
) -> bool:
    """Queue the first chunk of a backfill of `names` (in dependency order); False when
    a chunk of this connection's backfill is already waiting."""
    unknown = [n for n in names if n not in OBJECTS]
    if unknown or not names:
        raise BackfillError(f"cannot backfill {unknown or names}; choose from {', '.join(OBJECTS)}")
    ordered: list[JSONValue] = [n for n in OBJECTS if n in names]
    try:
        await app.configure_task(
            BACKFILL_CHUNK, queueing_lock=f"backfill:{connection_id}"
        ).defer_async(
            connection_id=connection_id,
            names=ordered,
            since=since.isoformat(),
            chunk=chunk,
            batch_size=batch_size,
        )
    except AlreadyEnqueued:
        return False
    return True


async def _chunk(
    ctx: Any, connection_id: int, name: str, since: str, chunk: int, batch_size: int
) -> BackfillResult | None:
    """Backfill `name` until `chunk` records are served; None when the chunk filled up."""

    def stop_after_chunk(done: int, _total: int) -> None:
        if done >= chunk:
            raise _ChunkDone

    async with ctx.kept.using(connection_id):
        engine = await ctx.runner.engine(connection_id)
        try:
            return await backfill_ports(
                ctx.store,
                connection_id,
                hubspot=engine.sides[System.HUBSPOT],
                qbo=engine.sides[System.QUICKBOOKS],
                name=name,
                since=dt.date.fromisoformat(since),
                batch_size=batch_size,
                progress=stop_after_chunk,
            )
        except _ChunkDone:
            return None


def register_backfill(app: App, context_of: Any) -> None:
    """Register the chunk task; `context_of(job_context)` gives the `WorkerContext`."""

    @app.task(name=BACKFILL_CHUNK, pass_context=True)
    async def backfill_chunk(
        context: JobContext,
        connection_id: int,
        names: list[str],
        since: str,
        chunk: int = CHUNK_RECORDS,
        batch_size: int = 100,
    ) -> str:
        ctx = context_of(context)
        locks: AdvisoryLocks = ctx.backfill_locks
        if not await asyncio.to_thread(locks.try_acquire, connection_id):
            return "busy"
        try:
            result = await _chunk(ctx, connection_id, names[0], since, chunk, batch_size)
        finally:
            await asyncio.to_thread(locks.release, connection_id)
        if result is None:
            rest = names  # the same object goes on from its stored position
        elif not result.complete:
            log.warning(
                "connection %s: backfill of %s stopped: %s", connection_id, names[0], result.stopped
            )
            return f"stopped: {result.stopped}"
        else:
            rest = names[1:]
        if rest:
            await queue_backfill(
                context.app,
                connection_id,
                rest,
                dt.date.fromisoformat(since),
                chunk=chunk,
                batch_size=batch_size,
            )
            return f"continues: {rest[0]}"
        return "complete"

    _ = backfill_chunk
