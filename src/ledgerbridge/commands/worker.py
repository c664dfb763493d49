"""`ledgerbridge worker`: a worker of the distributed runtime (procrastinate on PostgreSQL)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        concurrency: Annotated[
            int | None,
            typer.Option(
                "--concurrency",
                min=1,
                help="Passes this process runs at the same time (default: concurrency of the "
                "\\[distributed] settings, 4).",
            ),
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option("--config", help="Settings file (default ./ledgerbridge.toml)."),
        ] = None,
        metrics_port: Annotated[
            int | None,
            typer.Option(
                "--metrics-port",
                min=1,
                max=65535,
                help="Serve this worker's pass metrics (Prometheus) at /metrics on this port; "
                "it needs an API token (`ledgerbridge admin token create NAME`). Off by default.",
            ),
        ] = None,
        metrics_host: Annotated[
            str,
            typer.Option(
                "--metrics-host",
                help="Address /metrics listens on (default 127.0.0.1: this machine only).",
            ),
        ] = "127.0.0.1",
    ) -> None:
        """Run sync passes queued by `ledgerbridge run` (runtime = "distributed").

        Start as many workers as you like, on any machines that reach the PostgreSQL
        database of database_url; each connection is synced by one worker at a time.
        Ctrl-C (or SIGTERM) finishes the passes in flight, then stops.
        """
        import asyncio
        import logging

        from ledgerbridge.errors import ConfigError
        from ledgerbridge.runtime.distributed.worker import MetricsEndpoint, run_worker
        from ledgerbridge.settings import load_settings

        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        settings = load_settings(config)
        if settings.runtime != "distributed":
            raise ConfigError(
                '`ledgerbridge worker` is for runtime = "distributed", and the settings say '
                f'runtime = "{settings.runtime}"',
                fix='set runtime = "distributed" (LEDGERBRIDGE_RUNTIME) and a postgresql:// '
                "database_url; the embedded runtime syncs inside `ledgerbridge run`",
            )
        endpoint = None
        if metrics_port is not None:
            endpoint = MetricsEndpoint(
                metrics_host,
                metrics_port,
                started=lambda url: typer.echo(f"Metrics: {url}/metrics (API token)", err=True),
            )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_worker(settings, concurrency=concurrency, metrics=endpoint))
        typer.echo("Stopped.", err=True)
