"""`ledgerbridge dry-run`: preview what a sync pass would write, writing nothing (R-BEY-3)."""

from __future__ import annotations

from typing import Annotated

import typer

from ledgerbridge.commands._options import ConfigOption, ConnectionOption, JsonOption, RuleName


def register(app: typer.Typer) -> None:
    @app.command("dry-run")
    def dry_run(
        rule: Annotated[
            RuleName | None, typer.Option("--rule", help="Preview only this rule.")
        ] = None,
        as_json: JsonOption = False,
        connection: ConnectionOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Show what a sync pass would create, update, link, exclude and fail; write nothing."""
        import asyncio

        from rich.console import Console

        from ledgerbridge.runtime import dryrun
        from ledgerbridge.runtime.connection import ConnectionNotFoundError, NoConnectionError
        from ledgerbridge.runtime.setup import open_store
        from ledgerbridge.settings import load_settings
        from ledgerbridge.sync.errors import SyncError
        from ledgerbridge.sync.rules import ObjectPair

        try:
            settings = load_settings(config)
            store = open_store(settings)
        except FileNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        pair = ObjectPair(rule.value) if rule else None
        try:
            report = asyncio.run(
                dryrun.preview(store, settings, connection_id=connection, pair=pair)
            )
        except (NoConnectionError, ConnectionNotFoundError, SyncError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        finally:
            store.close()
        if as_json:
            typer.echo(dryrun.as_json(report))
        else:
            Console().print(dryrun.render(report))
        if report.stopped:
            typer.echo(f"stopped: {report.stopped}", err=True)
            raise typer.Exit(code=1)
