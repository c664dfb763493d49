"""Options and parsers shared by the commands that work on a configured connection."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


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
