"""`ledgerbridge backfill` on the distributed runtime: queue the backfill as chunked tasks
(`runtime.distributed.backfill`) that the workers run, and return."""

from __future__ import annotations

import datetime as dt

import typer

from ledgerbridge.settings import Settings
from ledgerbridge.store import Store

CHUNK_BATCHES = 10
"""Batches per chunk (one job): a worker lost mid-chunk redoes at most one batch."""


def queue_backfill_command(
    settings: Settings,
    store: Store,
    *,
    name: str,
    since: dt.date,
    connection_id: int | None,
    batch_size: int,
) -> None:
    import asyncio

    from ledgerbridge.operations.backfill import BackfillError, enabled_objects
    from ledgerbridge.runtime.connection import pick_connection
    from ledgerbridge.runtime.distributed.app import create_app, ensure_queue_schema
    from ledgerbridge.runtime.distributed.backfill import queue_backfill

    chosen = pick_connection(store, connection_id)
    names = enabled_objects(store, chosen) if name == "all" else [name]
    if not names:
        raise BackfillError(f"no rule is set up and on for connection {chosen}")

    async def queue() -> bool:
        await ensure_queue_schema(settings)
        app = create_app(settings, min_size=1, max_size=1)
        async with app.open_async():
            return await queue_backfill(
                app,
                chosen,
                names,
                since,
                chunk=CHUNK_BATCHES * batch_size,
                batch_size=batch_size,
            )

    if asyncio.run(queue()):
        typer.echo(
            f"Backfill of {', '.join(names)} since {since} queued for connection {chosen}: "
            "the workers (`ledgerbridge worker`) run it in chunks.",
            err=True,
        )
    else:
        typer.echo(f"A backfill of connection {chosen} is already queued; it goes on.", err=True)
