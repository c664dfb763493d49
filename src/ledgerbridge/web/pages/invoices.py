"""Invoices (R-HLT-1/2, R-PAY-2, R-INV-13): the list with each invoice's sync status and the
failure banner; an invoice's page with its sync card, its payments and QBO's PDF."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from ledgerbridge.store import RecordStatus
from ledgerbridge.store.dashboard import (
    RecordFilter,
    failure_groups,
    get_record,
    invoice_payments,
    link_counterparts,
    page_records,
)
from ledgerbridge.web.pages.common import (
    PAGE_RESPONSES,
    SIDE_NAMES,
    context_of,
    pick_connection,
    render,
)
from ledgerbridge.web.pages.records import (
    PAGE_SIZE,
    Side,
    last_page,
    page_number,
    side_param,
)

router = APIRouter(responses=PAGE_RESPONSES)

INVOICES = "invoices_invoices"


@router.get("/invoices", response_class=HTMLResponse)
def invoices(request: Request, side: Side = "hubspot", status: str = "") -> HTMLResponse:
    connection, connections = pick_connection(request)
    name = side_param(side) or "hubspot"
    page = page_number(request)
    result = None
    failed = 0
    if connection is not None:
        f = RecordFilter(object_type=INVOICES, side=name, status=status or None)
        with context_of(request).store.begin() as tx:
            result = page_records(
                tx, connection.id, f, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
            )
            failed = sum(n for _, n in failure_groups(tx, connection.id, INVOICES))
    return render(
        request,
        "invoices.html",
        connection=connection,
        connections=connections,
        result=result,
        side=name,
        status=status,
        page=page,
        last_page=last_page(result.total if result else 0),
        failed=failed,
    )


@router.get("/invoices/{side}/{record_id}", response_class=HTMLResponse)
def invoice(request: Request, side: Side, record_id: str) -> HTMLResponse:
    connection, connections = pick_connection(request)
    here = side_param(side) or "hubspot"
    if connection is None:
        raise HTTPException(status_code=404, detail="No connection is set up yet.")
    store = context_of(request).store
    with store.begin() as tx:
        key = (INVOICES, here, record_id)
        other = link_counterparts(tx, connection.id, [key]).get(key)
        other_side = "quickbooks" if here == "hubspot" else "hubspot"
        mine = get_record(tx, connection.id, INVOICES, here, record_id)
        theirs = get_record(tx, connection.id, INVOICES, other_side, other) if other else None
        hubspot_id = record_id if here == "hubspot" else other
        payments = invoice_payments(tx, connection.id, hubspot_id) if hubspot_id else []
    if mine is None and other is None:
        raise HTTPException(
            status_code=404,
            detail=f"There is no {SIDE_NAMES[here]} invoice {record_id} in this connection.",
        )
    qbo_id = record_id if here == "quickbooks" else other
    return render(
        request,
        "invoice.html",
        connection=connection,
        connections=connections,
        side=here,
        record_id=record_id,
        other_side=other_side,
        other=other,
        mine=mine,
        theirs=theirs,
        payments=payments,
        qbo_id=qbo_id,
        synced=RecordStatus.SYNCED,
    )


@router.get(
    "/invoices/{side}/{record_id}/pdf",
    response_class=Response,
    responses={
        200: {
            "description": "QuickBooks' PDF of the invoice",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def invoice_pdf(request: Request, side: Side, record_id: str) -> Response:
    """QuickBooks' own PDF of the synced invoice (R-INV-13)."""
    import asyncio

    from ledgerbridge.operations import invoices as invoice_ops
    from ledgerbridge.settings import Settings
    from ledgerbridge.sync.errors import SyncError

    connection, _ = await asyncio.to_thread(pick_connection, request)
    here = side_param(side) or "hubspot"
    if connection is None:
        raise HTTPException(status_code=404, detail="No connection is set up yet.")
    ctx = context_of(request)
    try:
        pdf = await invoice_ops.invoice_pdf(
            ctx.store, connection.id, f"{here}:{record_id}", settings=ctx.settings or Settings()
        )
    except invoice_ops.InvoiceNotSyncedError as exc:
        raise HTTPException(
            status_code=404,
            detail=f"{SIDE_NAMES[here]} invoice {record_id} has no PDF: it is not linked to a "
            "QuickBooks invoice (an invoice has QuickBooks' PDF once it has synced there).",
        ) from exc
    except SyncError as exc:
        raise HTTPException(
            status_code=502, detail=f"QuickBooks did not give the PDF: {exc}"
        ) from exc
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="invoice-{here}-{record_id}.pdf"'},
    )
