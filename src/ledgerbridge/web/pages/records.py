"""The record view (R-HLT-4): every record with filters and paging, each record's activity,
the side panel the overview's counts open, and the CSV export of records."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from ledgerbridge.store.dashboard import (
    RecordFilter,
    all_records,
    link_counterparts,
    page_records,
    record_activity,
)
from ledgerbridge.store.rows import SyncRecordRow
from ledgerbridge.web.pages.common import (
    PAGE_RESPONSES,
    context_of,
    pick_connection,
    render,
)

router = APIRouter(responses=PAGE_RESPONSES)

PAGE_SIZE = 50
SIDES = ("hubspot", "quickbooks")
SIDE_ALIASES = {"qbo": "quickbooks"}
"""Another name people (and `ledgerbridge` refs: `qbo:123`) use for a side."""
Side = Literal["hubspot", "quickbooks", "qbo"]
"""A side as a link names it (the routes' parameter: documented, checked by FastAPI)."""


def side_param(value: str | None) -> str | None:
    """The side a link names (None for none); the error page for a side that is not one."""
    if not value:
        return None
    side = SIDE_ALIASES.get(value.lower(), value.lower())
    if side not in SIDES:
        raise HTTPException(
            status_code=400,
            detail=f"There is no side “{value}”: the side is hubspot or quickbooks.",
        )
    return side


def last_page(total: int) -> int:
    """The number of the last page of `total` records (1 when there are none)."""
    return max(1, -(-total // PAGE_SIZE))


def record_filter(request: Request, **fixed: str | bool) -> RecordFilter:
    q = request.query_params
    values: dict[str, Any] = {
        "object_type": q.get("object") or None,
        "status": q.get("status") or None,
        "category": q.get("category") or None,
        "side": side_param(q.get("side")),
        "text": (q.get("q") or "").strip() or None,
    }
    values.update(fixed)
    return RecordFilter(**values)


MAX_PAGE = 1_000_000


def page_number(request: Request) -> int:
    """The `page` asked for, 1 … `MAX_PAGE` (anything else: the first)."""
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        return 1
    return page if 1 <= page <= MAX_PAGE else 1


@router.get("/records", response_class=HTMLResponse)
def records(request: Request) -> HTMLResponse:
    connection, connections = pick_connection(request)
    f = record_filter(request)
    page = page_number(request)
    result = None
    if connection is not None:
        with context_of(request).store.begin() as tx:
            result = page_records(
                tx, connection.id, f, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
            )
    return render(
        request,
        "records.html",
        connection=connection,
        connections=connections,
        f=f,
        page=page,
        last_page=last_page(result.total if result else 0),
        result=result,
        health=context_of(request).passes.get(connection.id) if connection else None,
    )


@router.get("/records/panel", response_class=HTMLResponse)
def records_panel(request: Request) -> HTMLResponse:
    """The side panel a count of the overview opens: the first records of that count."""
    connection, connections = pick_connection(request)
    if connection is None:
        raise HTTPException(status_code=404, detail="No connection.")
    f = record_filter(request, one_per_pair=True)
    with context_of(request).store.begin() as tx:
        result = page_records(tx, connection.id, f, offset=0, limit=20)
    return render(
        request,
        "records_panel.html",
        connection=connection,
        connections=connections,
        f=f,
        result=result,
    )


@router.get("/records/activity", response_class=HTMLResponse)
def activity(request: Request, object: str, side: Side, id: str) -> HTMLResponse:
    """One record's sync activity (and its linked counterpart's), for the expanding row."""
    connection, connections = pick_connection(request)
    if connection is None:
        raise HTTPException(status_code=404, detail="No connection is set up yet.")
    name = side_param(side) or "hubspot"
    with context_of(request).store.begin() as tx:
        key = (object, name, id)
        other = link_counterparts(tx, connection.id, [key]).get(key)
        refs = [(name, id)]
        if other is not None:
            refs.append(("quickbooks" if name == "hubspot" else "hubspot", other))
        rows = record_activity(tx, connection.id, object, refs)
    return render(
        request,
        "activity.html",
        connection=connection,
        connections=connections,
        rows=rows,
        object_type=object,
    )


CSV_COLUMNS = (
    "object",
    "side",
    "record_id",
    "label",
    "status",
    "error_category",
    "detail",
    "excluded_by",
    "attempts",
    "first_seen_at",
    "last_attempt_at",
    "last_synced_at",
)


def csv_rows(rows: list[SyncRecordRow]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.object_type,
                r.side,
                r.record_id,
                r.label or "",
                r.status.value,
                r.error_category or "",
                r.detail or "",
                r.excluded_by or "",
                r.attempts,
                r.first_seen_at.isoformat(),
                r.last_attempt_at.isoformat(),
                r.last_synced_at.isoformat() if r.last_synced_at else "",
            ]
        )
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(request: Request, f: RecordFilter, name: str) -> StreamingResponse:
    connection, _ = pick_connection(request)
    rows: list[SyncRecordRow] = []
    if connection is not None:
        with context_of(request).store.begin() as tx:
            rows = all_records(tx, connection.id, f)
    return StreamingResponse(
        csv_rows(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The records as CSV",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get("/export/records.csv", response_class=StreamingResponse, responses=CSV_RESPONSE)
def export_records(request: Request) -> StreamingResponse:
    return csv_response(request, record_filter(request), "ledgerbridge-records.csv")


@router.get("/export/failures.csv", response_class=StreamingResponse, responses=CSV_RESPONSE)
def export_failures(request: Request) -> StreamingResponse:
    f = record_filter(request, status="failed")
    return csv_response(request, f, "ledgerbridge-failures.csv")
