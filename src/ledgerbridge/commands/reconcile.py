"""`ledgerbridge reconcile`: report where HubSpot and QuickBooks disagree (R-BEY-2).

Exit codes: 0 no drift, 1 drift found, 2 an error (no settings, no connection, no rule
turned on — nothing checked —, a rule whose records could not be read). Nothing is written.
"""

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
    @app.command("reconcile")
    def reconcile(
        rule: Annotated[
            RuleName | None, typer.Option("--rule", help="Check only this rule.")
        ] = None,
        as_json: JsonOption = False,
        connection: ConnectionOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Report where HubSpot and QuickBooks disagree; write nothing.

        Linked records whose mapped fields differ, records that should be linked but are
        not, and links whose record is gone, each with what fixes it."""
        import asyncio

        from rich.console import Console

        from ledgerbridge.commands._tables import reconcile_in_sync, reconcile_table
        from ledgerbridge.operations import reconcile as runtime
        from ledgerbridge.operations.rules.service import require_rules
        from ledgerbridge.runtime.connection import pick_connection
        from ledgerbridge.sync.rules import ObjectPair

        pair = ObjectPair(rule.value) if rule else None
        with configured_store(config, existing=True) as (settings, store):
            require_rules(store, pick_connection(store, connection), pair, must_be_on=False)
            report = asyncio.run(runtime.run(store, settings, connection_id=connection, pair=pair))
        if as_json:
            typer.echo(runtime.as_json(report))
        elif (line := reconcile_in_sync(report)) is not None:
            typer.echo(line)
        else:
            Console(width=200).print(reconcile_table(report))
        if report.errors:
            raise typer.Exit(code=2)
        if not report.pairs:
            typer.echo(
                "error: nothing was checked (no rule is turned on) — run "
                "`ledgerbridge rules setup` to choose what syncs",
                err=True,
            )
            raise typer.Exit(code=2)
        if report.drift:
            raise typer.Exit(code=1)
