"""Options and parsers shared by the commands that work on a configured connection."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledgerbridge.errors import PortInUseError

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


def ensure_port_free(host: str, port: int, change_with: str) -> None:
    """`PortInUseError` (naming the port and how to change it) when `host:port` cannot be
    served on, checked before any server starts (often: the command already runs)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError(
                f"port {port} on {host} is already in use ({exc.strerror or exc}); "
                "is ledgerbridge already running?",
                fix=f"stop the other process, or choose another port with {change_with}",
            ) from exc


def parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@contextlib.contextmanager
def configured_store(
    config: Path | None, *errors: type[Exception], existing: bool = False
) -> Iterator[tuple[Settings, Store]]:
    """The settings and the open store of a command that works on a configured
    connection. Bad settings, an unusable store and every `LedgerbridgeError` raised by
    the work inside (no such connection, a sync error, bad input) reach the command line,
    which prints `error: <what> — <fix>` and exits with code 2; a `ValueError` or one of
    `errors` from the work is shown the same way, as a `UsageError`. `existing`: the
    command only reads or syncs state already there, so a missing SQLite file is an
    error, not a new empty database (`open_store`). The store is closed however the
    block ends."""
    from ledgerbridge.errors import LedgerbridgeError, UsageError
    from ledgerbridge.settings import load_settings
    from ledgerbridge.store.configured import open_store

    settings = load_settings(config)
    store = open_store(settings, existing=existing)
    try:
        yield settings, store
    except LedgerbridgeError:
        raise
    except Exception as exc:
        if not isinstance(exc, (ValueError, *errors)):
            raise
        raise UsageError(str(exc)) from exc
    finally:
        store.close()
