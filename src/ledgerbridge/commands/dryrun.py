"""`ledgerbridge dry-run`: preview what a sync pass would write, writing nothing (R-BEY-3)."""

from __future__ import annotations

from typing import Annotated

import typer

from ledgerbridge.commands._options import (
    ConfigOption,
    ConnectionOption,
    JsonOption,
    RuleName,
    configured_store,
)


def register(app: typer.Typer) -> None:
    @app.command("dry-run")
    def dry_run(
        rule: Annotated[
            RuleName | None, typer.Option("--rule", help="Preview only this rule.")
        ] = None,
        as_json: JsonOption = False,
        every: Annotated[
            bool, typer.Option("--all", help="List every action (default: the first 50 a rule).")
        ] = False,
        connection: ConnectionOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Show what a sync pass would create, update, link, exclude and fail; write nothing."""
        import asyncio

        from rich.console import Console

        from ledgerbridge.commands._tables import DRY_RUN_ROWS, dry_run_table
        from ledgerbridge.operations import dryrun
        from ledgerbridge.operations.rules.service import require_rules
        from ledgerbridge.runtime.connection import pick_connection
        from ledgerbridge.sync.rules import ObjectPair

        pair = ObjectPair(rule.value) if rule else None
        with configured_store(config, existing=True) as (settings, store):
            require_rules(store, pick_connection(store, connection), pair)
            report = asyncio.run(
                dryrun.preview(store, settings, connection_id=connection, pair=pair)
            )
        if as_json:
            typer.echo(dryrun.as_json(report))
        else:
            Console().print(dry_run_table(report, None if every else DRY_RUN_ROWS))
        if report.stopped:
            typer.echo(f"stopped: {report.stopped}", err=True)
            raise typer.Exit(code=1)
