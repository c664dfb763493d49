"""`ledgerbridge demo`: both sandboxes, the engine and the dashboard in one process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ledgerbridge.commands._demo_stack import DemoOptions


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        port: Annotated[int, typer.Option(help="Status page and webhooks.")] = 8700,
        hubspot_port: Annotated[int, typer.Option(help="HubSpot sandbox.")] = 8701,
        qbo_port: Annotated[int, typer.Option(help="QuickBooks Online sandbox.")] = 8702,
        seed: Annotated[
            bool, typer.Option("--seed/--no-seed", help="Fill both sandboxes with sample data.")
        ] = True,
        db: Annotated[
            Path | None,
            typer.Option(help="Keep the engine's state in this SQLite file (default: a temp dir)."),
        ] = None,
        poll_interval: Annotated[
            float, typer.Option(help="Seconds between passes without webhooks.")
        ] = 10.0,
        distributed: Annotated[
            bool,
            typer.Option(
                "--distributed",
                help="Run on the distributed runtime: PostgreSQL and `ledgerbridge worker` "
                "processes.",
            ),
        ] = False,
        workers: Annotated[
            int, typer.Option(min=1, help="Worker processes (with --distributed).")
        ] = 2,
        database_url: Annotated[
            str | None,
            typer.Option(
                help="PostgreSQL to use with --distributed (default: a throw-away server "
                "started from the machine's PostgreSQL binaries)."
            ),
        ] = None,
    ) -> None:
        """Run both sandboxes, the sync engine and the dashboard (Ctrl-C stops).

        One connection is set up (contacts ↔ customers two-way, products QBO → HubSpot,
        invoices two-way with payments) with webhooks wired both ways. Both sandboxes
        accept the bearer token `sandbox`; the QBO company (realm) is 1000000001.
        """
        import logging

        from rich.console import Console

        from ledgerbridge.commands._demo_stack import DemoOptions
        from ledgerbridge.commands._options import ensure_port_free

        console = Console(stderr=True)
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        options = DemoOptions(
            port=port,
            hubspot_port=hubspot_port,
            qbo_port=qbo_port,
            seed=1 if seed else None,
            db=db,
            poll_interval=poll_interval,
        )
        for taken, option in (
            (port, "--port"),
            (hubspot_port, "--hubspot-port"),
            (qbo_port, "--qbo-port"),
        ):
            ensure_port_free(options.host, taken, option)
        if distributed:
            _distributed(options, workers, database_url, console)
        else:
            _embedded(options, console)


def _embedded(options: DemoOptions, console: Console) -> None:
    import asyncio

    from ledgerbridge.commands._demo_stack import DEMO_REALM, DEMO_TOKEN, build_demo, cli_hint
    from ledgerbridge.commands._progress import pair_directions, show_initial_sync, summary_table
    from ledgerbridge.serving import serve_all

    built = build_demo(options)
    urls = built.urls

    def started() -> None:
        console.print(f"[bold]ledgerbridge demo[/] — dashboard: {urls['engine']}")
        console.print(f"Sign in (one-time link): {urls['signin']}", soft_wrap=True)
        console.print(f"HubSpot sandbox: {urls['hubspot']} (portal 62515)")
        console.print(f"QBO sandbox:     {urls['qbo']}/v3/company/{DEMO_REALM}")
        console.print(f"Both accept `Authorization: Bearer {DEMO_TOKEN}`.")
        console.print(f"Engine state: {built.db_path}" + (" (temporary)" if built.temp_dir else ""))
        for line in cli_hint(built.config_file):
            console.print(line, soft_wrap=True, highlight=False)

    async def display() -> None:
        try:
            flows = await built.setup_workflow_actions()
            console.print(
                f"Workflow actions registered; {len(flows)} example flows defined "
                f"(GET {urls['hubspot']}/_sandbox/flows)."
            )
        except Exception as exc:  # the sync runs on without workflow actions
            console.print(f"[yellow]Workflow actions not set up:[/] {exc}")
        first = built.first_pass
        counts = await show_initial_sync(built.store, built.connection_id, first, console)
        if built.first_error is not None:
            console.print(f"[red]The first pass failed:[/] {built.first_error!r} (retrying)")
        console.print(summary_table(counts, pair_directions(built.store, built.connection_id)))
        console.print(
            "Syncing live (webhooks both ways, and a pass every "
            f"{options.poll_interval:g} s). Ctrl-C stops."
        )
        await asyncio.Event().wait()  # serve_all stops when a background task ends

    try:
        asyncio.run(serve_all(built.served, also=[built.run_runtime, display], started=started))
    except RuntimeError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=1) from exc
    finally:
        built.close()
    console.print("Stopped.")


def _distributed(
    options: DemoOptions, workers: int, database_url: str | None, console: Console
) -> None:
    from ledgerbridge.commands._demo_distributed import run_distributed_demo
    from ledgerbridge.errors import UsageError

    if database_url is not None and not database_url.startswith("postgresql"):
        raise UsageError(
            f"--database-url {database_url.split('://', 1)[0]}://… is not PostgreSQL",
            fix="give a postgresql://user:password@host/dbname URL, or leave it out for a "
            "throw-away server",
        )
    try:
        run_distributed_demo(options, workers=workers, database_url=database_url, console=console)
    except RuntimeError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=1) from exc
    console.print("Stopped.")
