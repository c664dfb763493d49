"""REST face of the rules service (`operations.rules`): the same validation and messages
as the CLI and the rules file; every change is kept in the history as coming from `api`.

    GET  /api/connections/{id}/rules                  every rule
    GET  /api/connections/{id}/rules/{pair}           one rule
    PUT  /api/connections/{id}/rules/{pair}           create or replace it (a SyncRule)
    POST /api/connections/{id}/rules/{pair}/enable    turn it on
    POST /api/connections/{id}/rules/{pair}/disable   turn it off (links, cursors kept)
    GET  /api/connections/{id}/fields/{pair}/{side}   what a mapping can name (live)

A refused change answers 422 with `{"detail": {"errors": [...]}}` and saves nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from pydantic import ValidationError

from ledgerbridge.domain import System
from ledgerbridge.operations.rules import (
    ChangeSource,
    RuleChange,
    RuleNotFoundError,
    RulesError,
    RulesService,
)
from ledgerbridge.operations.rules.document import rule_entry, rule_from_entry
from ledgerbridge.operations.rules.fields import Accounts, LiveAccounts, field_entries
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.sync.rules import ObjectPair, SyncRule

RULE_BODY = (
    "The rule as `GET /rules/{pair}` returns it (the rules file's `[[rules]]` entry): "
    "direction, enabled, conflict_policy, display_name_policy, propagate_archive, invoice, "
    "mappings (default ones: name, enabled, builtin = true), filters (fixed ones locked)."
)

AccountsFor = Callable[[int], AbstractAsyncContextManager[Accounts | None]]
"""The live accounts of a connection, for the length of one request."""


class SideName(StrEnum):
    hubspot = "hubspot"
    qbo = "qbo"


def settings_accounts(store: Store, settings: Settings) -> AccountsFor:
    """`AccountsFor` building the connection's clients from the settings (as `run` does)."""
    from ledgerbridge.runtime.clients import build_clients

    @asynccontextmanager
    async def open_accounts(connection_id: int) -> AsyncIterator[Accounts | None]:
        with store.begin() as tx:
            row = tx.get_connection(connection_id)
        if row is None or not row.qbo_realm_id or not row.hubspot_portal_id:
            yield None
            return
        clients = build_clients(row, settings=settings, store=store)
        try:
            yield LiveAccounts(clients.hubspot, clients.qbo)
        finally:
            await clients.aclose()

    return open_accounts


def _rule_json(rule: SyncRule) -> dict[str, Any]:
    started = rule.sync_started_at.isoformat() if rule.sync_started_at else None
    return {**rule_entry(rule), "sync_started_at": started}


def _change_json(change: RuleChange) -> dict[str, Any]:
    return {"object_pair": change.pair.value, "changes": list(change.lines)}


class _Api:
    """The work behind the routes: one rules service per request, errors as HTTP."""

    def __init__(self, store: Store, accounts_for: AccountsFor | None) -> None:
        self.store = store
        self.accounts_for = accounts_for

    def check_connection(self, connection_id: int) -> None:
        with self.store.begin() as tx:
            if tx.get_connection(connection_id) is None:
                raise HTTPException(404, f"no connection {connection_id}")

    async def run(
        self, connection_id: int, work: Callable[[RulesService], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        self.check_connection(connection_id)
        try:
            if self.accounts_for is None:
                return await work(RulesService(self.store, connection_id))
            async with self.accounts_for(connection_id) as accounts:
                return await work(RulesService(self.store, connection_id, accounts=accounts))
        except RuleNotFoundError as exc:
            raise HTTPException(404, {"errors": exc.messages}) from exc
        except RulesError as exc:
            raise HTTPException(422, {"errors": exc.messages}) from exc
        except SyncError as exc:
            raise HTTPException(502, {"errors": [str(exc)]}) from exc

    async def toggle(self, connection_id: int, pair: ObjectPair, on: bool) -> dict[str, Any]:
        async def work(service: RulesService) -> dict[str, Any]:
            source = ChangeSource.API
            change = await (service.enable(pair, source) if on else service.disable(pair, source))
            return {"rule": _rule_json(change.after), "changes": [_change_json(change)]}

        return await self.run(connection_id, work)


def _parse_rule(pair: ObjectPair, body: dict[str, Any]) -> SyncRule:
    try:
        rule = rule_from_entry({"object_pair": pair.value, **body})
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise HTTPException(422, {"errors": errors}) from exc
    except ValueError as exc:
        raise HTTPException(422, {"errors": [str(exc)]}) from exc
    if rule.object_pair is not pair:
        raise HTTPException(422, {"errors": [f"The body is the {rule.object_pair} rule."]})
    return rule


def rules_router(store: Store, accounts_for: AccountsFor | None = None) -> APIRouter:
    """The rules API over `store`; without `accounts_for` only what needs no account is
    checked (and `fields` lists the fields known without asking)."""
    router = APIRouter(prefix="/api/connections/{connection_id}", tags=["rules"])
    api = _Api(store, accounts_for)

    @router.get("/rules", summary="Every sync rule of the connection")
    def list_rules(connection_id: int) -> dict[str, Any]:
        api.check_connection(connection_id)
        return {"rules": [_rule_json(r) for r in RulesService(store, connection_id).rules()]}

    @router.get("/rules/{pair}", summary="One sync rule")
    def get_rule(connection_id: int, pair: ObjectPair) -> dict[str, Any]:
        api.check_connection(connection_id)
        try:
            return _rule_json(RulesService(store, connection_id).rule(pair))
        except RuleNotFoundError as exc:
            raise HTTPException(404, {"errors": exc.messages}) from exc

    @router.put("/rules/{pair}", summary="Create or replace a sync rule (validated)")
    async def put_rule(
        connection_id: int,
        pair: ObjectPair,
        body: Annotated[dict[str, Any], Body(description=RULE_BODY)],
    ) -> dict[str, Any]:
        rule = _parse_rule(pair, body)

        async def work(service: RulesService) -> dict[str, Any]:
            changes = await service.save([rule], ChangeSource.API)
            return {
                "rule": _rule_json(service.rule(pair)),
                "changes": [_change_json(c) for c in changes],
            }

        return await api.run(connection_id, work)

    @router.post("/rules/{pair}/enable", summary="Turn a sync rule on")
    async def enable_rule(connection_id: int, pair: ObjectPair) -> dict[str, Any]:
        return await api.toggle(connection_id, pair, True)

    @router.post("/rules/{pair}/disable", summary="Turn a sync rule off (links kept)")
    async def disable_rule(connection_id: int, pair: ObjectPair) -> dict[str, Any]:
        return await api.toggle(connection_id, pair, False)

    @router.get("/fields/{pair}/{side}", summary="The fields a mapping can name, live")
    async def list_fields(connection_id: int, pair: ObjectPair, side: SideName) -> dict[str, Any]:
        system = System.HUBSPOT if side is SideName.hubspot else System.QUICKBOOKS

        async def work(service: RulesService) -> dict[str, Any]:
            return {"fields": field_entries(await service.fields(pair, system))}

        return await api.run(connection_id, work)

    return router
