"""The sync overview (object view, R-HLT-3) and the connections page (R-INV-12)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledgerbridge.store import ConnectionStatus
from ledgerbridge.store.dashboard import count_dismissed, count_units
from ledgerbridge.sync.hints import PAIR_SIDES, pair_label
from ledgerbridge.web.auth import require_csrf
from ledgerbridge.web.pages.common import (
    MAX_ID,
    OBJECT_NAMES,
    PAGE_RESPONSES,
    audit,
    context_of,
    pick_connection,
    render,
)

router = APIRouter(responses=PAGE_RESPONSES)

COLUMNS = ("synced", "failed", "excluded", "pending")


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    object: str = "",
    col: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    connection, connections = pick_connection(request)
    counts: dict[str, dict[str, int]] = {}
    directions: dict[str, Any] = {}
    dismissed = 0
    if connection is not None:
        with context_of(request).store.begin() as tx:
            counts = count_units(tx, connection.id)
            dismissed = count_dismissed(tx, connection.id, object or None)
            directions = {
                r.object_pair: r.config.get("direction") for r in tx.list_rules(connection.id)
            }
    chosen = [c for c in COLUMNS if c in (col or ())] or list(COLUMNS[:3])
    names = [o for o in OBJECT_NAMES if o in counts] + sorted(set(counts) - set(OBJECT_NAMES))
    rows = [(o, counts.get(o, {})) for o in names if not object or o == object]
    totals = {c: sum(r.get(c, 0) for _, r in rows) for c in COLUMNS}
    last_pass = context_of(request).passes.get(connection.id) if connection else None
    return render(
        request,
        "overview.html",
        connection=connection,
        connections=connections,
        rows=rows,
        all_objects=names,
        labels={o: pair_label(o, directions.get(o)) for o in names if o in PAIR_SIDES},
        object_filter=object,
        columns=chosen,
        all_columns=COLUMNS,
        totals=totals,
        last_pass=last_pass,
        dismissed=dismissed,
    )


@router.get("/connections", response_class=HTMLResponse)
def connections_page(request: Request) -> HTMLResponse:
    connection, connections = pick_connection(request)
    ctx = context_of(request)
    budgets = {c.id: ctx.budget_use(c.id) for c in connections} if ctx.budget_use else {}
    return render(
        request,
        "connections.html",
        connection=connection,
        connections=connections,
        passes=ctx.passes,
        budgets=budgets,
    )


def _set_state(
    request: Request, connection_id: int, status: ConnectionStatus, detail: str | None
) -> None:
    ctx = context_of(request)
    with ctx.store.begin() as tx:
        if tx.get_connection(connection_id) is None:
            raise HTTPException(status_code=404, detail=f"There is no connection {connection_id}.")
        tx.update_connection(connection_id, status=status, status_detail=detail)


@router.post(
    "/connections/{connection_id}/disconnect",
    dependencies=[Depends(require_csrf)],
    include_in_schema=False,
)
def disconnect(request: Request, connection_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    """Stop syncing the connection (its links, rules and history are kept)."""
    _set_state(
        request,
        connection_id,
        ConnectionStatus.PAUSED,
        "Disconnected from the dashboard: nothing syncs until it is resumed or reconnected.",
    )
    audit(request, "disconnect", connection_id=connection_id)
    return RedirectResponse("/connections", status_code=303)


@router.post(
    "/connections/{connection_id}/resume",
    dependencies=[Depends(require_csrf)],
    include_in_schema=False,
)
async def resume(
    request: Request, connection_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    """Sync a disconnected connection again (its stored grant must still be valid)."""
    import asyncio

    await asyncio.to_thread(_set_state, request, connection_id, ConnectionStatus.ACTIVE, None)
    await asyncio.to_thread(lambda: audit(request, "connect", connection_id=connection_id))
    wake = context_of(request).wake
    if wake is not None:
        wake(connection_id)
    return RedirectResponse("/connections", status_code=303)
