"""`ledgerbridge fees`: sums of HubSpot payment processing and platform fees (R-PAY-4)."""

from __future__ import annotations

from typing import Annotated

import typer

from ledgerbridge.commands._options import (
    ConfigOption,
    ConnectionOption,
    JsonOption,
    configured_store,
    parse_date,
)


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

        from ledgerbridge.commands._tables import fees_table
        from ledgerbridge.operations import fees as runtime

        first, last = parse_date(since), parse_date(until)
        with configured_store(config, existing=True) as (settings, store):
            report = asyncio.run(
                runtime.run(store, settings, since=first, until=last, connection_id=connection)
            )
        if as_json:
            typer.echo(runtime.as_json(report))
        else:
            Console(width=160).print(fees_table(report))
