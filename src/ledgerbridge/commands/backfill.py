"""`ledgerbridge backfill`: sync historical records, created before the sync started
(R-INV-3 Beyond), with a progress bar; resumable; `--dry-run` previews it.

`--object all` backfills contacts, products, then invoices (those whose rule is on) in
one process, one progress bar and one summary each; it stops after the first object
that does not complete. Its `--json` is `{"complete", "objects": [<one object's JSON>]}`.

Exit codes: 0 done (or previewed), 1 stopped before the end (run it again to resume),
2 an error (no settings, no connection, no such rule).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledgerbridge.commands._options import (
    ConfigOption,
    ConnectionOption,
    JsonOption,
    configured_store,
    parse_date,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.table import Table

    from ledgerbridge.operations.backfill import BackfillResult, Progress
    from ledgerbridge.settings import Settings
    from ledgerbridge.store import Store


class ObjectName(StrEnum):
    invoices = "invoices"
    contacts = "contacts"
    products = "products"
    all = "all"


async def run(
    store: Store,
    settings: Settings,
    *,
    name: str,
    since: dt.date,
    connection_id: int | None,
    dry_run: bool,
    batch_size: int,
    progress: Callable[[str], Progress | None],
) -> list[BackfillResult]:
    """Backfill a stored connection (the first one when `connection_id` is None): one
    object, or every object whose rule is on (`name` "all")."""
    from ledgerbridge.domain import System
    from ledgerbridge.operations.backfill import OBJECTS, backfill_all
    from ledgerbridge.operations.rules.service import require_rules
    from ledgerbridge.runtime.connection import open_engine, pick_connection

    chosen = pick_connection(store, connection_id)
    pair = None if name == ObjectName.all.value else OBJECTS.get(name)
    require_rules(store, chosen, pair)
    async with open_engine(store, settings, chosen) as engine:
        return await backfill_all(
            store,
            chosen,
            hubspot=engine.sides[System.HUBSPOT],
            qbo=engine.sides[System.QUICKBOOKS],
            since=since,
            names=None if name == ObjectName.all.value else [name],
            dry_run=dry_run,
            batch_size=batch_size,
            progress=progress,
        )


def summary(result: BackfillResult) -> Table:
    from rich.table import Table

    from ledgerbridge.commands._tables import DRY_RUN_ROWS, add_more_row, dry_run_table

    if result.dry_run:
        hint = "--json lists every one"
        table = dry_run_table(result.report, DRY_RUN_ROWS, hint)
        if result.matched:
            table.title = f"{table.title}; {len(result.matched)} to be linked by key"
        for hubspot, qbo, key in result.matched[:DRY_RUN_ROWS]:
            table.add_row(result.name, "link", f"hubspot:{hubspot} ↔ quickbooks:{qbo}", key)
        hidden = max(0, len(result.matched) - DRY_RUN_ROWS)
        add_more_row(table, result.name, hidden, "more links", hint)
        return table
    table = Table(title=f"Backfill of {result.name} created on or after {result.since}")
    for column in ("Created", "Updated", "Linked", "Excluded", "Failed", "Pending"):
        table.add_column(column, justify="right")
    pair = next(iter(result.report.pairs.values()), None)
    counts = [pair.count(n) if pair else 0 for n in ("created", "updated", "linked")]
    counts[2] += len(result.matched)
    counts += [pair.count(n) if pair else 0 for n in ("excluded", "failed", "pending")]
    table.add_row(*(str(c) for c in counts))
    state = "complete" if result.complete else f"stopped: {result.stopped}"
    pages = "1 page" if result.passes == 1 else f"{result.passes} pages"
    table.caption = f"{state}: {pages} of records synced"
    return table


def register(app: typer.Typer) -> None:
    @app.command("backfill")
    def backfill(
        obj: Annotated[
            ObjectName,
            typer.Option(
                "--object", help="What to backfill (all: contacts, products, then invoices)."
            ),
        ],
        since: Annotated[
            str, typer.Option("--since", help="Records created on or after (YYYY-MM-DD, UTC).")
        ],
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Preview what would be written.")
        ] = False,
        as_json: JsonOption = False,
        batch_size: Annotated[
            int, typer.Option(help="Records per batch (one read page, one commit).")
        ] = 1000,
        connection: ConnectionOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Sync historical records (created before the sync started) once, resumably.

        With runtime = "distributed" the backfill is queued (in chunks the workers run)."""
        import asyncio
        import json

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

        first = parse_date(since)
        bar = Progress(
            TextColumn("backfill {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            disable=as_json or dry_run,
        )

        def tracker(name: str) -> Callable[[int, int], None]:
            # A bar appears when its object's writes begin: invoices, which wait for their
            # customers and items, do not sit at 0/? meanwhile.
            tasks: list[TaskID] = []

            def advance(done: int, total: int) -> None:
                if not tasks:  # the first call; a total of 0 there: still being counted
                    tasks.append(bar.add_task(name, total=total or None, completed=done))
                else:
                    bar.update(tasks[0], completed=done, total=total)

            return advance

        with configured_store(config, existing=True) as (settings, store), bar:
            if settings.runtime == "distributed" and not dry_run:
                from ledgerbridge.commands._backfill_queue import queue_backfill_command

                queue_backfill_command(
                    settings,
                    store,
                    name=obj.value,
                    since=first,
                    connection_id=connection,
                    batch_size=batch_size,
                )
                return
            results = asyncio.run(
                run(
                    store,
                    settings,
                    name=obj.value,
                    since=first,
                    connection_id=connection,
                    dry_run=dry_run,
                    batch_size=batch_size,
                    progress=tracker,
                )
            )
        complete = all(r.complete for r in results)
        if as_json:
            data: dict[str, Any] = (
                {"complete": complete, "objects": [r.as_dict() for r in results]}
                if obj is ObjectName.all
                else results[0].as_dict()
            )
            typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        else:
            console = Console(width=200)
            for result in results:
                console.print(summary(result))
        if not complete:
            raise typer.Exit(code=1)
