"""Failures (R-HLT-5, R-BEY-4): grouped by error category with the explanation and the fix;
retry one, the selected, or all of a category; dismiss (kept in history)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledgerbridge.store.dashboard import (
    RecordFilter,
    count_dismissed,
    dismiss,
    dismissed_history,
    failure_groups,
    page_records,
)
from ledgerbridge.store.retries import (
    ATTENTION_AFTER,
    ScheduledRecord,
    request_retry,
    schedules_for,
)
from ledgerbridge.web.auth import require_csrf
from ledgerbridge.web.pages.common import (
    MAX_ID,
    PAGE_RESPONSES,
    actor,
    audit,
    context_of,
    link_builder,
    pick_connection,
    render,
)

router = APIRouter(responses=PAGE_RESPONSES)

GROUP_PAGE = 25
DUE_NOW_BEFORE = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
"""A retry asked for is scheduled in the distant past: "at the next pass"."""


@router.get("/failures", response_class=HTMLResponse)
def failures(request: Request, object: str = "", category: str = "") -> HTMLResponse:
    connection, connections = pick_connection(request)
    groups = []
    history = []
    schedules: dict[tuple[str, str, str], ScheduledRecord] = {}
    still_failed = 0
    if connection is not None:
        with context_of(request).store.begin() as tx:
            for cat, count in failure_groups(tx, connection.id, object or None):
                if category and cat != category:
                    continue
                f = RecordFilter(
                    object_type=object or None,
                    status="failed",
                    category=cat,
                    include_dismissed=False,
                )
                records = page_records(tx, connection.id, f, limit=GROUP_PAGE).records
                groups.append((cat, count, records))
            history = dismissed_history(tx, connection.id, limit=20)
            still_failed = count_dismissed(tx, connection.id, object or None)
            keys = [(r.object_type, r.side, r.record_id) for _, _, rs in groups for r in rs]
            schedules = schedules_for(tx, connection.id, keys)
    return render(
        request,
        "failures.html",
        connection=connection,
        connections=connections,
        groups=groups,
        history=history,
        schedules=schedules,
        due_now=DUE_NOW_BEFORE,
        attention_after=ATTENTION_AFTER,
        object_filter=object,
        category_filter=category,
        retried=request.query_params.get("retried"),
        dismissed=request.query_params.get("dismissed"),
        still_failed=still_failed,
        choose=CHOOSE.get(request.query_params.get("choose", "")),
    )


CHOOSE = {
    "retry": "Nothing was retried: tick the records to retry first (or use “Retry all”).",
    "dismiss": "Nothing was dismissed: tick the failures to dismiss first.",
}
"""The note after "Retry selected" or "Dismiss selected" with nothing ticked."""


def _keys(values: list[str]) -> list[tuple[str, str, str]]:
    keys = []
    for value in values:
        parts = value.split("|", 2)
        if len(parts) != 3 or not all(parts):
            raise HTTPException(status_code=400, detail=f"Not a record key: {value!r}.")
        keys.append((parts[0], parts[1], parts[2]))
    return keys


def _back(request: Request, connection_id: int, **params: str | int) -> str:
    _, connections = pick_connection(request)
    link = link_builder(
        next((c for c in connections if c.id == connection_id), None), len(connections) > 1
    )
    return link("/failures", **params)


@router.post("/failures/retry", dependencies=[Depends(require_csrf)], include_in_schema=False)
async def retry(
    request: Request,
    connection_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    key: Annotated[list[str] | None, Form()] = None,
    one: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    object: Annotated[str, Form()] = "",
) -> Response:
    """Retry the record `one`, or those named by `key` (object|side|id), or every failed
    record of the `category` (of the `object` when given); then wake the runtime."""
    keys = _keys([one] if one else (key or []))
    if not keys and not category:
        back = await asyncio.to_thread(_back, request, connection_id, choose="retry", object=object)
        return RedirectResponse(back, status_code=303)

    def run() -> int:
        with context_of(request).store.begin() as tx:
            if keys:
                by_object: dict[str, list[tuple[str, str]]] = defaultdict(list)
                for object_type, side, record_id in keys:
                    by_object[object_type].append((side, record_id))
                return sum(
                    request_retry(tx, connection_id, object_type=o, record_keys=refs)
                    for o, refs in sorted(by_object.items())
                )
            return request_retry(
                tx, connection_id, object_type=object or None, error_category=category
            )

    count = await asyncio.to_thread(run)
    details = {"records": ["|".join(k) for k in keys]} if keys else {"category": category}
    await asyncio.to_thread(
        lambda: audit(
            request, "retry", connection_id=connection_id, details={**details, "matched": count}
        )
    )
    wake = context_of(request).wake
    if wake is not None and count:
        wake(connection_id)
    return RedirectResponse(
        _back(request, connection_id, retried=count, object=object), status_code=303
    )


@router.post("/failures/dismiss", dependencies=[Depends(require_csrf)], include_in_schema=False)
def dismiss_failures(
    request: Request,
    connection_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    key: Annotated[list[str] | None, Form()] = None,
    object: Annotated[str, Form()] = "",
) -> Response:
    keys = _keys(key or [])
    if not keys:
        back = _back(request, connection_id, choose="dismiss", object=object)
        return RedirectResponse(back, status_code=303)
    with context_of(request).store.begin() as tx:
        count = dismiss(tx, connection_id, keys, actor(request))
    audit(
        request,
        "dismiss",
        connection_id=connection_id,
        details={"records": ["|".join(k) for k in keys], "dismissed": count},
    )
    return RedirectResponse(
        _back(request, connection_id, dismissed=count, object=object), status_code=303
    )
