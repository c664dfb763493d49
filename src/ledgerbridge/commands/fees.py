"""`ledgerbridge fees`: sums of HubSpot payment processing and platform fees (R-PAY-4)."""

from __future__ import annotations

from typing import Annotated

import typer

from ledgerbridge.commands._options import ConfigOption, ConnectionOption, JsonOption, parse_date


def register(app: typer.Typer) -> None:
    @app.command("fees")
    def fees(
        since: Annotated[
            str, typer.Option("--since", help="First day of the period (YYYY-MM-DD, UTC).")
        ],
        until: Annotated[
            str, typer.Option("--until", help="Last day of the period (YYYY-MM-DD, UTC).")
        ],
        as_json: JsonOption = False,
        connection: ConnectionOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Sum the processing and platform fees of HubSpot payments over a period, by currency."""
        import asyncio

        from rich.console import Console

        from ledgerbridge.runtime import fees as runtime
        from ledgerbridge.runtime.connection import ConnectionNotFoundError, NoConnectionError
        from ledgerbridge.runtime.setup import open_store
        from ledgerbridge.settings import load_settings
        from ledgerbridge.sync.errors import SyncError

        first, last = parse_date(since), parse_date(until)
        try:
            settings = load_settings(config)
            store = open_store(settings)
        except FileNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        try:
            report = asyncio.run(
                runtime.run(store, settings, since=first, until=last, connection_id=connection)
            )
        except (NoConnectionError, ConnectionNotFoundError, SyncError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        finally:
            store.close()
        if as_json:
            typer.echo(runtime.as_json(report))
        else:
            Console(width=160).print(runtime.render(report))
