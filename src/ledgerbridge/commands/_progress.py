"""The demo's Rich display: the initial sync's progress, read from the store, then a summary.

Counted as the dashboard's overview counts them (`store.dashboard.count_units`): a linked
pair once, with the worse status of its two records; a record not linked yet once. So the
terminal and the dashboard say the same number for the same sync."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledgerbridge.store import RecordStatus, Store
from ledgerbridge.store.dashboard import count_units
from ledgerbridge.sync.hints import pair_label

SHOWN = (RecordStatus.SYNCED, RecordStatus.FAILED, RecordStatus.EXCLUDED, RecordStatus.PENDING)


Counts = dict[str, dict[str, int]]
"""{object type: {status: n}} (`count_units`)."""


def _counts(store: Store, connection_id: int) -> Counts:
    with store.begin() as tx:
        return count_units(tx, connection_id)


def pair_directions(store: Store, connection_id: int) -> dict[str, str]:
    """{object pair: its rule's direction}, for the labels ("Products ← Items")."""
    with store.begin() as tx:
        rules = tx.list_rules(connection_id)
    return {r.object_pair: str(r.config["direction"]) for r in rules if r.config.get("direction")}


def _line(by_status: dict[str, int]) -> str:
    return ", ".join(
        f"{by_status.get(s.value, 0)} {s.value}" for s in SHOWN if by_status.get(s.value)
    )


async def show_initial_sync(
    store: Store,
    connection_id: int,
    done: asyncio.Event,
    console: Console,
    *,
    refresh_seconds: float = 0.25,
) -> Counts:
    """Show records as the first pass records them, until `done`; return the final counts."""
    rows: dict[str, TaskID] = {}
    directions = await asyncio.to_thread(pair_directions, store, connection_id)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        overall = progress.add_task("Initial sync", total=None)
        while True:
            finished = done.is_set()
            counts = await asyncio.to_thread(_counts, store, connection_id)
            for object_type, by_status in sorted(counts.items()):
                label = pair_label(object_type, directions.get(object_type))
                if object_type not in rows:
                    rows[object_type] = progress.add_task(label, total=None)
                progress.update(rows[object_type], description=f"{label}: {_line(by_status)}")
            if finished:
                progress.update(overall, description="Initial sync done", total=1, completed=1)
                for task in rows.values():
                    progress.update(task, total=1, completed=1)
                return counts
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), refresh_seconds)


def summary_table(counts: Counts, directions: Mapping[str, str] | None = None) -> Table:
    """The counts per object pair, each labelled with its rule's direction (`directions`;
    two-way when not given)."""
    table = Table(
        title="After the initial sync",
        caption="A linked pair counts once, as on the dashboard's overview.",
    )
    table.add_column("Object pair")
    for status in SHOWN:
        table.add_column(status.value.capitalize(), justify="right")
    for object_type, by_status in sorted(counts.items()):
        table.add_row(
            pair_label(object_type, (directions or {}).get(object_type)),
            *(str(by_status.get(s.value, 0)) for s in SHOWN),
        )
    return table
