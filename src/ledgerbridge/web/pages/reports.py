"""Reports: the latest reconciliation and "run now" (R-BEY-2), a rule's dry-run preview
(R-BEY-3), fees over a period (R-PAY-4), CSV exports; and the audit log."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse

from ledgerbridge.settings import Settings
from ledgerbridge.store.accounts import list_audit
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.web.auth import require_csrf
from ledgerbridge.web.pages.common import PAGE_RESPONSES, audit, context_of, pick_connection, render
from ledgerbridge.web.pages.records import page_number

router = APIRouter(responses=PAGE_RESPONSES)


def _settings(request: Request) -> Settings:
    return context_of(request).settings or Settings()


async def _page(request: Request, **values: Any) -> HTMLResponse:
    connection, connections = await asyncio.to_thread(pick_connection, request)
    today = dt.date.today()
    values.setdefault("since", (today - dt.timedelta(days=30)).isoformat())
    values.setdefault("until", today.isoformat())
    return render(
        request,
        "reports.html",
        connection=connection,
        connections=connections,
        pairs=list(ObjectPair),
        **values,
    )


@router.get("/reports", response_class=HTMLResponse)
async def reports(request: Request) -> HTMLResponse:
    return await _page(request)


def _connection_id(request: Request) -> int:
    connection, _ = pick_connection(request)
    if connection is None:
        raise HTTPException(status_code=404, detail="No connection is set up yet.")
    return connection.id


@router.post(
    "/reports/reconcile",
    response_class=HTMLResponse,
    dependencies=[Depends(require_csrf)],
    include_in_schema=False,
)
async def reconcile_now(request: Request) -> HTMLResponse:
    from ledgerbridge.operations import reconcile

    cid = await asyncio.to_thread(_connection_id, request)
    ctx = context_of(request)
    try:
        if ctx.reconcile is not None:
            report = await ctx.reconcile(cid)
        else:
            report = await reconcile.run(ctx.store, _settings(request), connection_id=cid)
    except SyncError as exc:
        return await _page(request, error=f"The reconciliation could not run: {exc}")
    await asyncio.to_thread(
        lambda: audit(request, "reconcile", connection_id=cid, details={"drift": report.drift})
    )
    return await _page(request, reconcile_report=report.as_dict())


@router.post(
    "/reports/dry-run",
    response_class=HTMLResponse,
    dependencies=[Depends(require_csrf)],
    include_in_schema=False,
)
async def dry_run(request: Request, rule: Annotated[str, Form()] = "") -> HTMLResponse:
    from ledgerbridge.operations import dryrun

    try:
        pair = ObjectPair(rule) if rule else None
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=f"No rule {rule!r}.") from exc
    cid = await asyncio.to_thread(_connection_id, request)
    ctx = context_of(request)
    try:
        report = await dryrun.preview(ctx.store, _settings(request), connection_id=cid, pair=pair)
    except SyncError as exc:
        return await _page(request, error=f"The preview could not run: {exc}")
    return await _page(request, dry_run_report=report.as_dict(), dry_run_rule=rule)


@router.get("/reports/fees", response_class=HTMLResponse)
async def fees(request: Request, since: str = "", until: str = "") -> HTMLResponse:
    from ledgerbridge.operations import fees as fee_ops

    try:
        start, end = dt.date.fromisoformat(since), dt.date.fromisoformat(until)
    except ValueError:
        return await _page(
            request, error="Give both dates as YYYY-MM-DD.", since=since, until=until
        )
    cid = await asyncio.to_thread(_connection_id, request)
    ctx = context_of(request)
    try:
        report = await fee_ops.run(
            ctx.store, _settings(request), since=start, until=end, connection_id=cid
        )
    except (SyncError, ValueError) as exc:
        return await _page(
            request, error=f"The fee report could not run: {exc}", since=since, until=until
        )
    return await _page(request, fee_report=report.as_dict(), since=since, until=until)


@router.get("/audit", response_class=HTMLResponse)
def audit_log(request: Request) -> HTMLResponse:
    connection, connections = pick_connection(request)
    page = page_number(request)
    with context_of(request).store.begin() as tx:
        entries = list_audit(tx, offset=(page - 1) * 50, limit=51)
    return render(
        request,
        "audit.html",
        connection=connection,
        connections=connections,
        entries=entries[:50],
        has_next=len(entries) > 50,
        page=page,
    )
