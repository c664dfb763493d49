"""Dry run (R-BEY-3): what a pass would create, update, link, exclude and fail.

`preview(store, settings, ...)` runs the engine with `dry_run=True`: it reads both
services and plans, and writes nothing (no service write, no link, no sync record,
no activity, no cursor). `render(report)` shows it as a Rich table; `as_json` as
JSON (`PassReport.as_dict`).
"""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from ledgerbridge.runtime.connection import open_engine
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store
from ledgerbridge.sync.report import PassReport, describe
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.transport.http import HttpClient


async def preview(
    store: Store,
    settings: Settings,
    *,
    connection_id: int | None = None,
    pair: ObjectPair | None = None,
    http: HttpClient | None = None,
) -> PassReport:
    """Plan one pass of the connection (one rule, or all enabled ones), writing nothing."""
    async with open_engine(store, settings, connection_id, http=http) as engine:
        return await engine.run_pass(dry_run=True, only={pair} if pair else None)


def _fields(data: dict[str, Any]) -> str:
    fields = data.get("fields") or {}
    return ", ".join(f"{k}={v!r}" for k, v in sorted(fields.items()))


def _details(data: dict[str, Any]) -> str:
    action = data["action"]
    if action in ("create", "update"):
        return f"{data['direction']}: {_fields(data)}"
    if action == "link":
        return f"matched on {data['matched_on']}"
    if action == "exclude":
        return f"filter: {data['filter']}"
    if action == "fail":
        return f"{data['title']}: {data['detail']}"
    if action == "void":
        return f"{data['direction']}: voided (never deleted)"
    return "made inactive in QuickBooks"


def render(report: PassReport) -> Table:
    table = Table(title="Dry run: nothing was written")
    for column in ("Rule", "Action", "Record", "Details"):
        table.add_column(column)
    for pair in report.pairs.values():
        for action in pair.actions:
            data = describe(action)
            if data["action"] == "skip":
                continue
            record = (
                data.get("source")
                or data.get("target")
                or data.get("record")
                or (f"{data.get('hubspot')} ↔ {data.get('qbo')}")
            )
            details = _details(data)
            table.add_row(pair.object_type.value, data["action"], str(record), details)
        if pair.error:
            table.add_row(pair.object_type.value, "error", "", pair.error)
    counts = ", ".join(
        f"{name} {report.total(name)}"
        for name in ("created", "updated", "linked", "excluded", "failed", "skipped")
    )
    table.caption = f"Would be: {counts}"
    return table


def as_json(report: PassReport) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=True, default=str)
