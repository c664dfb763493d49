"""The rules wizard (R-CON-2…7): the rules with their direction, on/off; a rule's set-up in
the same steps as `ledgerbridge rules setup`, for a new rule and to edit one. Every change
goes through the rules service (`operations.rules`), is audited and wakes the runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledgerbridge.domain import System
from ledgerbridge.operations.rules.service import (
    ChangeSource,
    RuleChange,
    RuleNotFoundError,
    RulesError,
    RulesService,
)
from ledgerbridge.sync.catalogue import SideFields, static_fields
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.sync.rules import (
    DisplayNamePolicy,
    FilterOperator,
    FilterScope,
    ObjectPair,
    ServiceDateSource,
    SyncRule,
)
from ledgerbridge.web.auth import require_csrf
from ledgerbridge.web.pages.common import (
    PAGE_RESPONSES,
    audit,
    context_of,
    link_builder,
    pick_connection,
    render,
)
from ledgerbridge.web.pages.rules_form import (
    CUSTOM_TYPES,
    DASHBOARD_HINTS,
    DIRECTIONS,
    ONE_WAY,
    POLICIES,
    FormValues,
    default_rule,
    filter_key,
    locked,
    mapping_flow,
    rule_from_form,
)

router = APIRouter(responses=PAGE_RESPONSES)


def _pair(value: str) -> ObjectPair:
    try:
        return ObjectPair(value)
    except ValueError as exc:
        raise HTTPException(status_code=404, detail=f"There is no object pair {value!r}.") from exc


def _connection_id(request: Request) -> int:
    connection, _ = pick_connection(request)
    if connection is None:
        raise HTTPException(status_code=404, detail="No connection is set up yet.")
    return connection.id


@asynccontextmanager
async def _service(request: Request, connection_id: int) -> AsyncIterator[RulesService]:
    ctx = context_of(request)
    if ctx.accounts_for is None:
        yield RulesService(ctx.store, connection_id, hints=DASHBOARD_HINTS)
        return
    async with ctx.accounts_for(connection_id) as accounts:
        yield RulesService(ctx.store, connection_id, accounts=accounts, hints=DASHBOARD_HINTS)


def _back(request: Request, path: str, **params: Any) -> str:
    connection, connections = pick_connection(request)
    return link_builder(connection, len(connections) > 1)(path, **params)


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request) -> HTMLResponse:
    return _overview(request)


def _overview(request: Request, errors: list[str] | None = None) -> HTMLResponse:
    """The Rules page; `errors` say why a change asked for there was refused."""
    connection, connections = pick_connection(request)
    rules: list[SyncRule] = []
    history = []
    if connection is not None:
        service = RulesService(context_of(request).store, connection.id, hints=DASHBOARD_HINTS)
        rules = service.rules()
        history = service.history(limit=30)
    have = {r.object_pair for r in rules}
    return render(
        request,
        "rules.html",
        status_code=422 if errors else 200,
        errors=errors or [],
        connection=connection,
        connections=connections,
        rules=rules,
        missing=[p for p in ObjectPair if p not in have],
        history=history,
        directions=DIRECTIONS,
        policies=POLICIES,
        saved=request.query_params.get("saved"),
    )


def _applied(request: Request, cid: int, changes: list[RuleChange]) -> None:
    for change in changes:
        audit(
            request,
            "rule_change",
            connection_id=cid,
            target=change.pair.value,
            details={"changes": list(change.lines)},
        )


@router.post(
    "/rules/{pair}/{switch}", dependencies=[Depends(require_csrf)], include_in_schema=False
)
async def switch_rule(request: Request, pair: str, switch: str) -> Response:
    """Turn a rule off or on (its links, cursors and history are kept)."""
    if switch not in ("enable", "disable"):
        raise HTTPException(status_code=404, detail="Turn a rule on (enable) or off (disable).")
    chosen = _pair(pair)
    cid = await asyncio.to_thread(_connection_id, request)
    try:
        async with _service(request, cid) as service:
            if switch == "enable":
                change = await service.enable(chosen, ChangeSource.DASHBOARD)
            else:
                change = await service.disable(chosen, ChangeSource.DASHBOARD)
    except RuleNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except RulesError as exc:
        return await asyncio.to_thread(_overview, request, exc.messages)
    except SyncError as exc:
        errors = [f"The accounts could not be read: {exc}"]
        return await asyncio.to_thread(_overview, request, errors)
    await asyncio.to_thread(_applied, request, cid, [change] if change.lines else [])
    wake = context_of(request).wake
    if wake is not None:
        wake(cid)
    return RedirectResponse(_back(request, "/rules", saved=chosen.value), status_code=303)


async def _fields(service: RulesService, pair: ObjectPair) -> dict[str, SideFields]:
    sides = {"hubspot": System.HUBSPOT, "qbo": System.QUICKBOOKS}
    if service.accounts is None:
        return {k: static_fields(s, pair) for k, s in sides.items()}
    return {k: await service.fields(pair, s) for k, s in sides.items()}


async def _wizard(
    request: Request,
    service: RulesService,
    rule: SyncRule,
    *,
    new: bool,
    errors: list[str] | None = None,
    values: FormValues | None = None,
) -> HTMLResponse:
    """The wizard over `rule`, its fields showing `values` (by default the rule's own)."""
    accounts = service.accounts
    income = await accounts.income_accounts() if accounts is not None else []
    connection, connections = await asyncio.to_thread(pick_connection, request)
    return render(
        request,
        "rule_edit.html",
        status_code=422 if errors else 200,
        connection=connection,
        connections=connections,
        rule=rule,
        new=new,
        errors=errors or [],
        values=values or FormValues.of_rule(rule),
        mapping_flow=mapping_flow,
        one_way=ONE_WAY,
        fields=await _fields(service, rule.object_pair),
        income_accounts=income,
        locked=locked(rule),
        filter_key=filter_key,
        directions=DIRECTIONS,
        policies=POLICIES,
        custom_types=CUSTOM_TYPES,
        operators=list(FilterOperator),
        scopes=list(FilterScope),
        service_dates=list(ServiceDateSource),
        display_policies=list(DisplayNamePolicy),
    )


@router.get("/rules/{pair}", response_class=HTMLResponse)
async def rule_wizard(request: Request, pair: str) -> HTMLResponse:
    """The wizard for the pair's rule: its current set-up, or the proposal for a new one."""
    chosen = _pair(pair)
    cid = await asyncio.to_thread(_connection_id, request)
    try:
        async with _service(request, cid) as service:
            try:
                rule, new = service.rule(chosen), False
            except RuleNotFoundError:
                accounts = service.accounts
                income = await accounts.income_accounts() if accounts is not None else []
                rule, new = default_rule(chosen, income), True
            return await _wizard(request, service, rule, new=new)
    except SyncError as exc:
        raise HTTPException(
            status_code=502, detail=f"The accounts could not be read: {exc}"
        ) from exc


@router.post(
    "/rules/{pair}",
    response_class=HTMLResponse,
    dependencies=[Depends(require_csrf)],
    include_in_schema=False,
)
async def save_rule(request: Request, pair: str) -> Response:
    """Save the wizard's rule through the rules service (all or nothing)."""
    chosen = _pair(pair)
    cid = await asyncio.to_thread(_connection_id, request)
    form = await request.form()
    async with _service(request, cid) as service:
        try:
            base = service.rule(chosen)
            new = False
        except RuleNotFoundError:
            base, new = default_rule(chosen), True
        try:
            rule = rule_from_form(base, form)
            changes = await service.save([rule], ChangeSource.DASHBOARD)
        except (RulesError, SyncError) as exc:
            # Shown over the stored rule (what the form applies to when it is sent again),
            # every field as the user sent it.
            errors = (
                exc.messages
                if isinstance(exc, RulesError)
                else [f"The accounts could not be read: {exc}"]
            )
            values = FormValues.posted(form)
            return await _wizard(request, service, base, new=new, errors=errors, values=values)
    await asyncio.to_thread(_applied, request, cid, changes)
    wake = context_of(request).wake
    if wake is not None:
        wake(cid)
    return RedirectResponse(_back(request, "/rules", saved=chosen.value), status_code=303)
