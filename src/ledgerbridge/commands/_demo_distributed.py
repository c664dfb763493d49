"""`ledgerbridge demo --distributed`: the demo on the distributed runtime.

The same sandboxes, connection and webhooks as the embedded demo (`_demo_stack`), but the
state is in PostgreSQL (a throw-away server started from the machine's binaries, or
`--database-url`), this process serves the web app and the webhooks and only queues
passes, and `--workers` `ledgerbridge worker` processes (exactly the command a deployment
runs) sync. Their logs go to files in a temporary directory, shown at start, with the
settings file other commands use to work on the demo (`--config`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console

from ledgerbridge.commands._demo_stack import (
    SIGNIN_MINUTES,
    DemoOptions,
    cli_hint,
    demo_sandboxes,
    ensure_demo_connection,
    setup_workflow_actions,
    write_demo_settings,
)
from ledgerbridge.commands._progress import pair_directions, show_initial_sync, summary_table
from ledgerbridge.runtime.distributed.throwaway import throwaway_postgres
from ledgerbridge.runtime.distributed.web import web_app
from ledgerbridge.runtime.distributed.worker import Queue, open_distributed
from ledgerbridge.serving import Served, serve_all
from ledgerbridge.settings import DistributedSettings, Settings
from ledgerbridge.store import generate_key
from ledgerbridge.store.locks import pass_state
from ledgerbridge.web.auth import create_signin_link

__all__ = ["run_distributed_demo"]


def worker_env(settings: Settings) -> dict[str, str]:
    """The settings of `settings` as a worker process's environment."""
    assert settings.secret_key is not None
    return {
        "LEDGERBRIDGE_CONFIG": "",
        "LEDGERBRIDGE_DATABASE_URL": settings.database_url,
        "LEDGERBRIDGE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "LEDGERBRIDGE_RUNTIME": "distributed",
        "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": str(settings.poll_interval_seconds),
        "LEDGERBRIDGE_DISTRIBUTED__STALLED_AFTER_SECONDS": str(
            settings.distributed.stalled_after_seconds
        ),
    }


@contextmanager
def worker_processes(settings: Settings, count: int, logs: Path) -> Iterator[list[Path]]:
    """`count` × `ledgerbridge worker --concurrency 2`; SIGTERM (then SIGKILL) at exit."""
    env = {**os.environ, **worker_env(settings), "PYTHONUNBUFFERED": "1"}
    processes: list[subprocess.Popen[bytes]] = []
    paths = [logs / f"worker-{n + 1}.log" for n in range(count)]
    try:
        for path in paths:
            with path.open("wb") as sink:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "ledgerbridge.cli", "worker", "--concurrency", "2"],
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
        yield paths
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


async def _first_pass(queue: Queue, connection_id: int, done: asyncio.Event) -> None:
    """Set `done` once a worker finished a pass of the connection."""

    def passed() -> bool:
        with queue.store.begin() as tx:
            state = pass_state(tx, connection_id)
        return state is not None and state.passes > 0

    while True:  # another process passes: the database is where it shows
        if await asyncio.to_thread(passed):
            done.set()
            return
        await asyncio.sleep(0.3)


async def _serve(
    options: DemoOptions, settings: Settings, workers: int, logs: Path, console: Console
) -> None:
    sandboxes = demo_sandboxes(options)
    queue = await open_distributed(settings, pool_max=5)
    try:
        urls = sandboxes.urls
        cid = await asyncio.to_thread(
            ensure_demo_connection, queue.store, urls["hubspot"], urls["qbo"], sandboxes.portal_id
        )
        config_file = write_demo_settings(logs, settings)
        app = web_app(queue, sandboxes.secrets, urls["engine"], config_file=config_file)
        signin = await asyncio.to_thread(
            create_signin_link, queue.store, urls["engine"], minutes=SIGNIN_MINUTES
        )
        web = Served(app, options.host, options.port, "web")
        first = asyncio.Event()

        async def display() -> None:
            try:
                flows = await setup_workflow_actions(
                    queue.store, settings, cid, sandboxes.hubspot_sandbox, urls["engine"]
                )
                console.print(
                    f"Workflow actions registered; {len(flows)} example flows defined "
                    f"(GET {urls['hubspot']}/_sandbox/flows)."
                )
            except Exception as exc:  # the sync runs on without workflow actions
                console.print(f"[yellow]Workflow actions not set up:[/] {exc}")
            await queue.deferrer.request(cid)
            watcher = asyncio.create_task(_first_pass(queue, cid, first))
            counts = await show_initial_sync(queue.store, cid, first, console)
            await watcher
            console.print(summary_table(counts, pair_directions(queue.store, cid)))
            console.print(
                f"Syncing live on {workers} worker process(es) (webhooks both ways, and a "
                f"pass every {options.poll_interval:g} s). Ctrl-C stops."
            )
            await asyncio.Event().wait()

        def started() -> None:
            console.print(f"[bold]ledgerbridge demo --distributed[/] — dashboard: {urls['engine']}")
            console.print(f"Sign in (one-time link): {signin}", soft_wrap=True)
            console.print(f"HubSpot sandbox: {urls['hubspot']}  QBO sandbox: {urls['qbo']}")
            console.print(f"Worker logs: {logs}")
            for line in cli_hint(config_file):
                console.print(line, soft_wrap=True, highlight=False)

        await serve_all([*sandboxes.served, web], also=[display], started=started)
        await queue.deferrer.drain()
    finally:
        await queue.aclose()


def run_distributed_demo(
    options: DemoOptions, *, workers: int, database_url: str | None, console: Console
) -> None:
    """Run until Ctrl-C: PostgreSQL (unless given), the web process here, `workers` workers."""
    with ExitStack() as stack:
        url = database_url or stack.enter_context(throwaway_postgres())
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ledgerbridge-demo-")))
        settings = Settings(
            database_url=url,
            secret_key=SecretStr(generate_key()),
            runtime="distributed",
            host=options.host,
            port=options.port,
            poll_interval_seconds=options.poll_interval,
            distributed=DistributedSettings(stalled_after_seconds=10.0),
        )
        # The schemas first (the workers would wait for this process's lock anyway).
        asyncio.run(_prepare(settings))
        stack.enter_context(worker_processes(settings, workers, logs))
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(options, settings, workers, logs, console))


async def _prepare(settings: Settings) -> None:
    queue = await open_distributed(settings, pool_max=1)
    await queue.aclose()
