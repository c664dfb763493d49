"""Benchmark scenario (d): the distributed runtime on 1, 2 and 4 worker processes.

```sh
.venv/bin/python -m bench.scenario_d [--connections 200] [--records 300] [--workers 1,2,4]
                                     [--seconds 60] [--rate 5] [--concurrency 4]
```

Per worker count, from scratch: a throw-away PostgreSQL database (one server for the whole
run, started from the machine's binaries), `--connections` connections each with its own
HubSpot portal (portals mounted under /p<i> of one HubSpot sandbox server) and its own QBO
company (one QBO sandbox with every realm), each portal seeded with `--records` contacts.
Then `--workers` × `ledgerbridge worker --concurrency C` processes and:

1. initial sync: one pass of every connection asked at once; done when every connection's
   generation is done → records synced per second (contacts → QBO customers);
2. a stream of changes for `--seconds`: `--rate` new HubSpot contacts per second, each on a
   random connection, each followed by the webhook's ask (a pass `webhook_delay_seconds`
   later); its change-to-visible latency is until the customer is in the QBO company
   (read from the sandbox's memory every 20 ms) → p50 / p99;
3. database time per pass: PostgreSQL's `pg_stat_database.active_time` (time the server
   spent executing statements, every backend) and commits, over the passes of 1 + 2.

The sandboxes are served by threads of this process (not by their own processes as in
(a)–(c)): 200 portals in one process is what the HubSpot sandbox server can do here, and
reading the QBO companies from memory keeps the latency probe off the API. On a 2-core
machine the sandboxes, PostgreSQL and the workers share the cores: that, not the queue,
bounds the 1 → 4 scaling there (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from starlette.applications import Starlette
from starlette.routing import Mount

from ledgerbridge.commands._demo_distributed import worker_env
from ledgerbridge.runtime.clients import sandbox_options
from ledgerbridge.runtime.distributed.throwaway import throwaway_postgres
from ledgerbridge.runtime.distributed.worker import Queue, open_distributed
from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.settings import DistributedSettings, Settings
from ledgerbridge.store import generate_key
from ledgerbridge.store.state import save_rule
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import ObjectPair
from tests.support.servers import serve_in_thread

TOKEN = {"Authorization": "Bearer sandbox"}


@dataclass
class RunD:
    workers: int
    connections: int
    records: int
    initial_seconds: float
    records_per_second: float
    changes: int
    latencies: list[float]
    passes: int
    db_ms_per_pass: float
    commits_per_pass: float

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")

    def line(self) -> str:
        return (
            f"| {self.workers} | {self.connections} × {self.records} | "
            f"{self.initial_seconds:.1f} s | {self.records_per_second:.0f} | "
            f"{self.changes} | {self.pct(0.5):.2f} s | {self.pct(0.99):.2f} s | "
            f"{self.passes} | {self.db_ms_per_pass:.1f} ms | {self.commits_per_pass:.1f} |"
        )


HEADER = (
    "| workers | connections × records | initial sync | records/s | changes | p50 | p99 "
    "| passes | DB time / pass | commits / pass |\n|---|---|---|---|---|---|---|---|---|---|"
)


class Fleet:
    """The sandboxes (threads of this process) and the connections of one run."""

    def __init__(self, connections: int) -> None:
        self.portals = {i: hubspot_cli.build_config(seed=None) for i in range(connections)}
        for i, config in self.portals.items():
            config.portal_id = 80000 + i
        self.realms = {i: str(9130000000000000 + i) for i in range(connections)}
        self.hubspot = Starlette(
            routes=[Mount(f"/p{i}", app=hubspot_app(c)) for i, c in self.portals.items()]
        )
        self.qbo = qbo_app(qbo_cli.build_config(realms=list(self.realms.values()), seed=None))

    def customers(self, realm: str) -> set[str]:
        table = self.qbo.state.sandbox.realms[realm].table("Customer")
        for _ in range(5):  # the sandbox's thread may be inserting right now
            try:
                values = list(table.values())
            except RuntimeError:
                continue
            return {c["PrimaryEmailAddr"]["Address"] for c in values if c.get("PrimaryEmailAddr")}
        return set()


def seed(hubspot_url: str, index: int, emails: list[str]) -> None:
    for start in range(0, len(emails), 100):
        inputs = [{"properties": {"email": e}} for e in emails[start : start + 100]]
        httpx.post(
            f"{hubspot_url}/p{index}/crm/v3/objects/contacts/batch/create",
            json={"inputs": inputs},
            headers=TOKEN,
            timeout=60,
        ).raise_for_status()


def db_counters(url: str) -> tuple[float, int, int]:
    """(active ms, commits, passes) of the database so far."""
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            active, commits = db.execute(
                text(
                    "SELECT active_time, xact_commit FROM pg_stat_database"
                    " WHERE datname = current_database()"
                )
            ).one()
            passes = db.execute(text("SELECT coalesce(sum(passes), 0) FROM connection_passes"))
            return float(active or 0.0), int(commits), int(passes.scalar_one())
    finally:
        engine.dispose()


async def settled(queue: Queue, ids: list[int]) -> None:
    query = text("SELECT count(*) FROM connection_passes WHERE requested > done OR requested = 0")
    while True:
        with queue.store.begin() as tx:
            pending = tx.connection.execute(query).scalar_one()
        if pending == 0:
            return
        await asyncio.sleep(0.2)


async def registered(queue: Queue, workers: int) -> None:
    """Until `workers` workers have registered with the queue (they are ready)."""
    query = text("SELECT count(*) FROM procrastinate_workers")
    while True:
        with queue.store.begin() as tx:
            if tx.connection.execute(query).scalar_one() >= workers:
                return
        await asyncio.sleep(0.2)


def start_workers(settings: Settings, count: int, concurrency: int, logs: Path) -> list[Any]:
    env = {**os.environ, **worker_env(settings), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "ledgerbridge.cli", "worker", "--concurrency"]
    processes = []
    for n in range(count):
        with (logs / f"worker-{n}.log").open("wb") as sink:  # the child keeps its own copy
            processes.append(
                subprocess.Popen(
                    [*command, str(concurrency)], stdout=sink, stderr=subprocess.STDOUT, env=env
                )
            )
    return processes


async def stream(
    queue: Queue, fleet: Fleet, hs_url: str, ids: list[int], seconds: float, rate: float
) -> list[float]:
    """`rate` new contacts a second for `seconds`; their change-to-visible latencies."""
    pending: list[tuple[int, str, float]] = []
    latencies: list[float] = []
    rng = random.Random(4)
    end = time.monotonic() + seconds
    next_change, n = time.monotonic(), 0
    async with httpx.AsyncClient(headers=TOKEN, timeout=60) as http:
        while time.monotonic() < end or pending:
            now = time.monotonic()
            if now < end and now >= next_change:
                index = rng.randrange(len(ids))
                email = f"change-{n}@stream.example"
                n += 1
                response = await http.post(
                    f"{hs_url}/p{index}/crm/v3/objects/contacts",
                    json={"properties": {"email": email}},
                )
                response.raise_for_status()
                pending.append((index, email, time.monotonic()))
                await queue.deferrer.request(ids[index], queue.deferrer.wake_delay)
                next_change += 1.0 / rate
            still = []
            for index, email, t0 in pending:
                if email in fleet.customers(fleet.realms[index]):
                    latencies.append(time.monotonic() - t0)
                else:
                    still.append((index, email, t0))
            pending = still
            if time.monotonic() > end + 300:
                raise RuntimeError(f"{len(pending)} changes never became visible")
            await asyncio.sleep(0.02)
    return latencies


async def one_run(base_url: str, args: argparse.Namespace, workers: int, logs: Path) -> RunD:
    name = f"bench_d_{workers}_{os.getpid()}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        db.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base_url.rsplit("/", 1)[0] + f"/{name}"
    settings = Settings(
        database_url=url,
        secret_key=SecretStr(generate_key()),
        runtime="distributed",
        poll_interval_seconds=3600,
        distributed=DistributedSettings(webhook_delay_seconds=0.5),
    )
    fleet = Fleet(args.connections)
    with serve_in_thread(fleet.hubspot) as hs_url, serve_in_thread(fleet.qbo) as qbo_url:
        queue = await open_distributed(settings)
        ids: list[int] = []
        with queue.store.begin() as tx:
            for i in range(args.connections):
                cid = tx.create_connection(
                    name=f"client {i}",
                    hubspot_base_url=f"{hs_url}/p{i}",
                    qbo_base_url=qbo_url,
                    hubspot_portal_id=str(fleet.portals[i].portal_id),
                    qbo_realm_id=fleet.realms[i],
                    options=sandbox_options("sandbox"),
                )
                save_rule(tx, cid, wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS))
                ids.append(cid)
        for i in range(args.connections):
            seed(hs_url, i, [f"c{j}-{i}@seed.example" for j in range(args.records)])
        processes = start_workers(settings, workers, args.concurrency, logs)
        try:
            await registered(queue, workers)  # their start-up is not part of the timing
            active0, commits0, _ = db_counters(url)
            start = time.monotonic()
            await queue.deferrer.request_all(ids)
            await settled(queue, ids)
            initial = time.monotonic() - start
            latencies = await stream(queue, fleet, hs_url, ids, args.seconds, args.rate)
            await settled(queue, ids)
            active1, commits1, passes = db_counters(url)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=90)
            await queue.aclose()
    records = args.connections * args.records
    return RunD(
        workers=workers,
        connections=args.connections,
        records=args.records,
        initial_seconds=initial,
        records_per_second=records / initial,
        changes=len(latencies),
        latencies=latencies,
        passes=passes,
        db_ms_per_pass=(active1 - active0) / max(passes, 1),
        commits_per_pass=(commits1 - commits0) / max(passes, 1),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scenario_d")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=5.0)
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    runs: list[RunD] = []
    with throwaway_postgres() as url, tempfile.TemporaryDirectory() as logs:
        for workers in counts:
            runs.append(asyncio.run(one_run(url, args, workers, Path(logs))))
            print(runs[-1].line(), flush=True)
    print(HEADER)
    for run in runs:
        print(run.line())
    if len(runs) > 1:
        ratio = runs[-1].records_per_second / runs[0].records_per_second
        print(f"scaling {runs[0].workers} → {runs[-1].workers} workers: {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
