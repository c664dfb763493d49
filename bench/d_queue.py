"""`python -m bench.d_queue [--connections 2000] [--concurrency 4]`: what the queue itself
costs, without passes — the "queueing the poll" and "job overhead" rows of
docs/distributed.md's cost at 10,000 connections.

On a throw-away PostgreSQL server: `--connections` connections (no services behind them),
then
1. the periodic poll's ask of every connection (`Deferrer.request_all`: one statement for
   the generations, the jobs in batches of 500), timed; and again while every job is
   still waiting (nothing to queue);
2. one worker (in this process, `--concurrency`) whose pass runner does nothing: the time
   until every job has been fetched, locked, counted and finished → jobs per second of the
   machinery around a pass.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text

from ledgerbridge.runtime.clients import sandbox_options
from ledgerbridge.runtime.distributed.throwaway import throwaway_postgres
from ledgerbridge.runtime.distributed.worker import open_distributed, run_worker
from ledgerbridge.runtime.embedded import PassRunner
from ledgerbridge.settings import DistributedSettings, Settings
from ledgerbridge.store import generate_key


def no_pass(_: PassRunner) -> PassRunner:
    async def nothing(connection_id: int, **_: Any) -> None:
        return None

    return nothing


async def measure(url: str, connections: int, concurrency: int) -> dict[str, float]:
    settings = Settings(
        database_url=url,
        secret_key=SecretStr(generate_key()),
        runtime="distributed",
        poll_interval_seconds=3600,
        distributed=DistributedSettings(poll=False),
    )
    queue = await open_distributed(settings)
    try:
        with queue.store.begin() as tx:
            ids = [
                tx.create_connection(
                    name=f"client {i}",
                    hubspot_base_url="http://127.0.0.1:9/hubspot",
                    qbo_base_url="http://127.0.0.1:9/qbo",
                    hubspot_portal_id=str(i),
                    qbo_realm_id=str(i),
                    options=sandbox_options("sandbox"),
                )
                for i in range(connections)
            ]
        start = time.monotonic()
        queued = await queue.deferrer.request_all(ids)
        first = time.monotonic() - start
        start = time.monotonic()
        again = await queue.deferrer.request_all(ids)
        second = time.monotonic() - start
        worker = asyncio.create_task(
            run_worker(
                settings,
                concurrency=concurrency,
                wrap_runner=no_pass,
                install_signal_handlers=False,
            )
        )
        pending = text("SELECT count(*) FROM connection_passes WHERE requested > done")
        start = time.monotonic()
        while True:
            with queue.store.begin() as tx:
                if tx.connection.execute(pending).scalar_one() == 0:
                    break
            if worker.done():
                worker.result()  # the worker's error, if it stopped
            await asyncio.sleep(0.05)
        drained = time.monotonic() - start
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    finally:
        await queue.aclose()
    return {
        "connections": connections,
        "queued": queued,
        "queue_seconds": first,
        "queued_again": again,
        "again_seconds": second,
        "drain_seconds": drained,
        "jobs_per_second": connections / drained,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.d_queue", description=__doc__)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    with throwaway_postgres() as url:
        r = asyncio.run(measure(url, args.connections, args.concurrency))
    print(
        f"poll ask of {r['connections']:.0f} connections: {r['queued']:.0f} jobs queued in "
        f"{r['queue_seconds']:.2f} s ({r['queued'] / r['queue_seconds']:.0f} jobs/s); again "
        f"while all wait: {r['queued_again']:.0f} queued in {r['again_seconds']:.2f} s"
    )
    print(
        f"one worker, concurrency {args.concurrency}, passes that do nothing: "
        f"{r['drain_seconds']:.1f} s for {r['connections']:.0f} jobs "
        f"({r['jobs_per_second']:.0f} jobs/s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
