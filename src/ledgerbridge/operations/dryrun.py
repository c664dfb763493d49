"""Dry run (R-BEY-3): what a pass would create, update, link, exclude and fail.

`preview(store, settings, ...)` runs the engine with `dry_run=True`: it reads both
services and plans, and writes nothing (no service write, no link, no sync record,
no activity, no cursor). `render(report)` shows it as a Rich table; `as_json` as
JSON (`PassReport.as_dict`).
"""

from __future__ import annotations

import json

from ledgerbridge.runtime.connection import open_engine
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store
from ledgerbridge.sync.report import PassReport
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


def as_json(report: PassReport) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=True, default=str)
