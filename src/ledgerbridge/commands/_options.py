"""Options and parsers shared by the commands that work on a configured connection."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ledgerbridge.settings import Settings
    from ledgerbridge.store import Store


class RuleName(StrEnum):
    contacts_customers = "contacts_customers"
    products_items = "products_items"
    invoices_invoices = "invoices_invoices"


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ConnectionOption = Annotated[
    int | None, typer.Option(help="Connection id (default: the first one).")
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="Settings file (TOML).")]


def parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@contextlib.contextmanager
def configured_store(
    config: Path | None, *errors: type[Exception]
) -> Iterator[tuple[Settings, Store]]:
    """The settings and the open store of a command that works on a configured
    connection. A missing settings file, and what the work inside raises when it cannot
    be done (no such connection, a sync error, bad input, or one of `errors`), print
    `error: …` and exit with code 2. The store is closed however the block ends."""
    from ledgerbridge.runtime.connection import ConnectionNotFoundError, NoConnectionError
    from ledgerbridge.settings import load_settings
    from ledgerbridge.store.configured import open_store
    from ledgerbridge.sync.errors import SyncError

    try:
        settings = load_settings(config)
        store = open_store(settings)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    handled: tuple[type[Exception], ...] = (
        NoConnectionError,
        ConnectionNotFoundError,
        SyncError,
        ValueError,
        *errors,
    )
    try:
        yield settings, store
    except handled as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    finally:
        store.close()
