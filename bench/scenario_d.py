"""Benchmark scenario (d): the distributed runtime on 1, 2 and 4 worker processes.

```sh
.venv/bin/python -m bench.scenario_d [--connections 200] [--records 300] [--workers 1,2,4]
                                     [--seconds 60] [--rate 5] [--concurrency 4]
                                     [--sandboxes process|thread] [--json FILE] [--logs DIR]
```

Per worker count, from scratch: a fresh database on one throw-away PostgreSQL server
(started from the machine's binaries for the whole run), `--connections` connections each
with its own HubSpot portal (portals mounted under /p<i> of one HubSpot sandbox server)
and its own QBO company (one QBO sandbox with every realm), each portal seeded with
`--records` contacts (`bench.d_fleet`). Then `--workers` × `ledgerbridge worker
--concurrency C` processes and, once they have registered with the queue:

1. initial sync: one pass of every connection asked at once; done when every connection's
   generation is done → records synced per second (contacts → QBO customers);
2. a stream of changes for `--seconds`: `--rate` new HubSpot contacts per second, each on a
   random connection, each followed by the webhook's ask (a pass `webhook_delay_seconds`
   later); its change-to-visible latency is until the customer is in the QBO company
   (read from the sandbox's memory every 20 ms, not through the API) → p50 / p99;
3. database time per pass: PostgreSQL's `pg_stat_database.active_time` (time the server
   spent executing statements, every backend: heartbeats, job polling and the bench's
   probes included) and commits, over the passes of 1 + 2.

During 1 and 2 the CPU of each process group is read from /proc (`bench.d_cpu`): the
workers, PostgreSQL, the bench process, the sandbox processes, and others (the rest of the
machine), as cores kept busy on average. On a 2-core machine they all share two cores:
the table's "cores busy" says which of them bounds the 1 → 4 ratio.

Robustness: workers and sandbox processes die with the bench (`bench.d_child`), are
stopped (SIGTERM, then SIGKILL) on every exit including Ctrl-C and SIGTERM, and a worker
that exits during a run stops the run with its exit code and the end of its log; the
PostgreSQL server is stopped and its directory removed on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from bench import d_fleet, d_report
from bench.d_cpu import Processes, Usage, parent_of, usage
from bench.d_fleet import Fleet, SandboxDied, child, process_fleet, thread_fleet
from bench.stats import LoadWatch
from ledgerbridge.commands._demo_distributed import worker_env
from ledgerbridge.runtime.clients import sandbox_options
from ledgerbridge.runtime.distributed.throwaway import throwaway_postgres
from ledgerbridge.runtime.distributed.worker import Queue, open_distributed
from ledgerbridge.settings import DistributedSettings, Settings
from ledgerbridge.store import generate_key
from ledgerbridge.store.state import save_rule
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import ObjectPair

TOKEN = {"Authorization": "Bearer sandbox"}
Check = Callable[[], None]


class WorkerDied(RuntimeError):
    pass


class Stalled(RuntimeError):
    pass


@dataclass
class RunD:
    workers: int
    concurrency: int
    sandboxes: str
    connections: int
    records: int
    synced: int
    initial_seconds: float
    records_per_second: float
    changes: int
    latencies: list[float]
    passes: int
    db_ms_per_pass: float
    commits_per_pass: float
    initial_cpu: Usage
    stream_cpu: Usage

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")

    def as_dict(self, commit: str) -> dict[str, Any]:
        """The run as `--json` writes it and `bench.d_report` reads it."""
        return {
            "commit": commit,
            "scenario": "d",
            "workers": self.workers,
            "concurrency": self.concurrency,
            "sandboxes": self.sandboxes,
            "connections": self.connections,
            "records": self.records,
            "synced": self.synced,
            "initial_seconds": round(self.initial_seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            "changes": self.changes,
            "latency_p50": round(self.pct(0.5), 3),
            "latency_p99": round(self.pct(0.99), 3),
            "passes": self.passes,
            "db_ms_per_pass": round(self.db_ms_per_pass, 2),
            "commits_per_pass": round(self.commits_per_pass, 2),
            "initial_cpu": self.initial_cpu.as_json(),
            "stream_cpu": self.stream_cpu.as_json(),
            "cores": os.cpu_count() or 1,
        }


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


def postmaster_of(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            return parent_of(int(db.execute(text("SELECT pg_backend_pid()")).scalar_one()))
    finally:
        engine.dispose()


async def settled(queue: Queue, check: Check, patience: float) -> None:
    """Until no connection has an ask without its pass; `Stalled` when the count of such
    connections has not moved for `patience` seconds."""
    query = text("SELECT count(*) FROM connection_passes WHERE requested > done OR requested = 0")
    last, since = -1, time.monotonic()
    while True:
        check()
        with queue.store.begin() as tx:
            pending = tx.connection.execute(query).scalar_one()
        if pending == 0:
            return
        if pending != last:
            last, since = pending, time.monotonic()
        elif time.monotonic() - since > patience:
            raise Stalled(f"{pending} connections still waiting for a pass after {patience:.0f} s")
        await asyncio.sleep(0.2)


async def registered(queue: Queue, workers: int, check: Check) -> None:
    """Until `workers` workers have registered with the queue (they are ready)."""
    query = text("SELECT count(*) FROM procrastinate_workers")
    while True:
        check()
        with queue.store.begin() as tx:
            if tx.connection.execute(query).scalar_one() >= workers:
                return
        await asyncio.sleep(0.2)


@contextmanager
def worker_processes(
    settings: Settings, count: int, concurrency: int, logs: Path
) -> Iterator[tuple[list[int], Check]]:
    """`count` × `ledgerbridge worker`; yields their pids and a check that raises
    `WorkerDied` (exit code and the end of its log) when one has exited."""
    command = ["-m", "ledgerbridge.cli", "worker", "--concurrency", str(concurrency)]
    paths = [logs / f"worker-{count}-{n}.log" for n in range(count)]
    with ExitStack() as stack:
        processes = [
            stack.enter_context(child(command, path, worker_env(settings))) for path in paths
        ]

        def check() -> None:
            for process, path in zip(processes, paths, strict=True):
                if process.poll() is not None:
                    tail = path.read_text(errors="replace")[-3000:]
                    raise WorkerDied(
                        f"worker pid {process.pid} exited with code {process.returncode} "
                        f"during the run; the end of its log ({path}):\n{tail}"
                    )

        yield [p.pid for p in processes], check


def create_connections(queue: Queue, fleet: Fleet, count: int) -> list[int]:
    ids: list[int] = []
    with queue.store.begin() as tx:
        for i in range(count):
            cid = tx.create_connection(
                name=f"client {i}",
                hubspot_base_url=f"{fleet.hubspot_url}/p{i}",
                qbo_base_url=fleet.qbo_url,
                hubspot_portal_id=str(d_fleet.portal_id(i)),
                qbo_realm_id=d_fleet.realm(i),
                options=sandbox_options("sandbox"),
            )
            save_rule(tx, cid, wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS))
            ids.append(cid)
    return ids


async def stream(
    queue: Queue, fleet: Fleet, ids: list[int], args: argparse.Namespace, check: Check
) -> list[float]:
    """`rate` new contacts a second for `seconds`; their change-to-visible latencies."""
    pending: list[tuple[int, str, float]] = []
    latencies: list[float] = []
    rng = random.Random(4)
    end = time.monotonic() + args.seconds
    next_change, n = time.monotonic(), 0
    async with httpx.AsyncClient(headers=TOKEN, timeout=60) as http:
        while time.monotonic() < end or pending:
            check()
            now = time.monotonic()
            if now < end and now >= next_change:
                index = rng.randrange(len(ids))
                email = f"change-{n}@stream.example"
                n += 1
                response = await http.post(
                    f"{fleet.hubspot_url}/p{index}/crm/v3/objects/contacts",
                    json={"properties": {"email": email}},
                )
                response.raise_for_status()
                pending.append((index, email, time.monotonic()))
                await queue.deferrer.request(ids[index], queue.deferrer.wake_delay)
                next_change += 1.0 / args.rate
            seen = set(await fleet.visible([(d_fleet.realm(i), e) for i, e, _ in pending]))
            arrived = time.monotonic()
            latencies += [arrived - t0 for k, (_, _, t0) in enumerate(pending) if k in seen]
            pending = [item for k, item in enumerate(pending) if k not in seen]
            if time.monotonic() > end + args.timeout:
                raise Stalled(f"{len(pending)} changes never became visible")
            await asyncio.sleep(0.02)
    return latencies


def new_database(base_url: str, name: str) -> str:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        db.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def fleet_of(args: argparse.Namespace, logs: Path) -> Iterator[Fleet]:
    if args.sandboxes == "thread":
        with thread_fleet(args.connections) as fleet:
            yield fleet
    else:
        with process_fleet(args.connections, logs) as fleet:
            yield fleet


async def one_run(
    base_url: str, args: argparse.Namespace, workers: int, logs: Path, groups: Processes
) -> RunD:
    url = new_database(base_url, f"bench_d_{workers}_{os.getpid()}")
    settings = Settings(
        database_url=url,
        secret_key=SecretStr(generate_key()),
        runtime="distributed",
        poll_interval_seconds=3600,
        distributed=DistributedSettings(webhook_delay_seconds=0.5),
    )
    with fleet_of(args, logs) as fleet:
        queue = await open_distributed(settings)
        try:
            ids = create_connections(queue, fleet, args.connections)
            began = time.monotonic()
            for i in range(args.connections):
                seed(fleet.hubspot_url, i, [f"c{j}-{i}@seed.example" for j in range(args.records)])
            print(f"  seeded in {time.monotonic() - began:.1f} s", file=sys.stderr)
            with worker_processes(settings, workers, args.concurrency, logs) as (pids, alive):

                def check() -> None:
                    alive()
                    fleet.check()

                groups.workers, groups.sandboxes = pids, fleet.pids
                await registered(queue, workers, check)  # start-up is not part of the timing
                active0, commits0, _ = db_counters(url)
                watch, cpu0 = LoadWatch([]).start(), groups.snapshot()
                start = time.monotonic()
                await queue.deferrer.request_all(ids)
                await settled(queue, check, args.timeout)
                initial = time.monotonic() - start
                cpu1 = groups.snapshot()
                synced = await fleet.customers()
                initial_cpu = usage(cpu0, cpu1, watch.stop())
                watch = LoadWatch([]).start()
                latencies = await stream(queue, fleet, ids, args, check)
                await settled(queue, check, args.timeout)
                stream_cpu = usage(cpu1, groups.snapshot(), watch.stop())
                active1, commits1, passes = db_counters(url)
        finally:
            await queue.aclose()
            await fleet.aclose()
    records = args.connections * args.records
    return RunD(
        workers=workers,
        concurrency=args.concurrency,
        sandboxes=args.sandboxes,
        connections=args.connections,
        records=args.records,
        synced=synced,
        initial_seconds=initial,
        records_per_second=records / initial,
        changes=len(latencies),
        latencies=latencies,
        passes=passes,
        db_ms_per_pass=(active1 - active0) / max(passes, 1),
        commits_per_pass=(commits1 - commits0) / max(passes, 1),
        initial_cpu=initial_cpu,
        stream_cpu=stream_cpu,
    )


def commit() -> str:
    answer = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent,
        check=False,
    )
    return answer.stdout.strip() or "unknown"


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scenario_d", description=__doc__)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=5.0, help="changes per second")
    parser.add_argument("--sandboxes", choices=["process", "thread"], default="process")
    parser.add_argument("--json", type=Path, default=None, help="append each run here")
    parser.add_argument(
        "--report", type=Path, default=None, help="print the table of a --json file; run nothing"
    )
    parser.add_argument("--logs", type=Path, default=None, help="keep the processes' logs here")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds without progress before giving up"
    )
    return parser.parse_args(argv)


def run_all(args: argparse.Namespace, label: str) -> list[dict[str, Any]]:
    """Every worker count of `args.workers`, on one throw-away PostgreSQL server."""
    runs: list[dict[str, Any]] = []
    with ExitStack() as stack:
        base_url = stack.enter_context(throwaway_postgres(max_connections=300))
        if args.logs is None:
            logs = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            logs = args.logs
            logs.mkdir(parents=True, exist_ok=True)
        groups = Processes(postmaster=postmaster_of(base_url))
        for workers in [int(w) for w in args.workers.split(",")]:
            print(f"{workers} worker(s)…", file=sys.stderr, flush=True)
            run = asyncio.run(one_run(base_url, args, workers, logs, groups)).as_dict(label)
            runs.append(run)
            print(d_report.line(run), flush=True)
            if args.json is not None:
                with args.json.open("a") as sink:
                    sink.write(json.dumps(run) + "\n")
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.report is not None:
        try:
            print(d_report.report(d_report.load(args.report)))
        except (OSError, ValueError, KeyError) as exc:
            print(f"cannot read scenario (d) results from {args.report}: {exc!r}", file=sys.stderr)
            return 2
        return 0
    previous = signal.signal(signal.SIGTERM, _interrupted)
    label = commit()
    try:
        runs = run_all(args, label)
    except KeyboardInterrupt:
        print("interrupted: workers, sandboxes and PostgreSQL stopped", file=sys.stderr)
        return 130
    except (WorkerDied, SandboxDied, Stalled) as exc:
        kept = "" if args.logs else " (the logs were temporary: --logs DIR keeps them)"
        print(f"scenario (d) failed{kept}: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"\ncommit {label}, {os.cpu_count()} cores")
    print(d_report.report(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
