"""The engine's side of an execution request: find the connection, claim the callbackId,
answer at once, run the action in the background, record the outcome, complete the callback.

`WorkflowActionService.accept(kind, request)` returns the immediate answer:

* first delivery of a callbackId → a `running` run is stored, the action starts in the
  background, and the answer is BLOCK; when it ends, the outcome is recorded (a sync record
  with activity, `store.workflow_runs`) and sent through the callbacks API;
* re-delivery of a finished run → its recorded outputs (SUCCESS or FAIL_CONTINUE), nothing
  runs again; of a run still in progress → BLOCK again (the running task completes it); of
  a run left `running` by a crash → it runs again, which is safe: every QBO write of the
  execution carries a requestid derived from the callbackId.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from ledgerbridge.hubspot.actions import (
    NAMES,
    ActionKind,
    ExecutionRequest,
    block_response,
    complete_callback,
    ensure_definitions,
    failure_outputs,
    success_outputs,
)
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.operations.workflow_actions.associate import associate_documents
from ledgerbridge.operations.workflow_actions.execute import execute
from ledgerbridge.operations.workflow_actions.model import RuleView
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.store import ConnectionRow, ConnectionStatus, Store
from ledgerbridge.store import workflow_runs as runs
from ledgerbridge.sync.errors import ErrorCategory, SyncError
from ledgerbridge.sync.rules import ObjectPair, SyncRule

__all__ = ["ClientsFactory", "StoreLookups", "WorkflowActionService", "register_definitions"]

log = logging.getLogger(__name__)

Clients = tuple[HubSpotClient, QboClient]


class ClientsFactory(Protocol):
    """The HubSpot and QBO clients of a connection, for the time of one execution."""

    def __call__(self, connection: ConnectionRow) -> AbstractAsyncContextManager[Clients]: ...


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StoreLookups:
    """`model.Lookups` over the store (links made by the sync, the rules)."""

    def __init__(self, store: Store, connection_id: int) -> None:
        self.store = store
        self.connection_id = connection_id

    def _linked(self, object_type: str, hubspot_id: str) -> str | None:
        with self.store.begin() as tx:
            return runs.linked_qbo_id(tx, self.connection_id, object_type, hubspot_id)

    async def customer_for_contact(self, contact_id: str) -> str | None:
        pair = ObjectPair.CONTACTS_CUSTOMERS.value
        return await asyncio.to_thread(self._linked, pair, contact_id)

    async def item_for_product(self, product_id: str) -> str | None:
        pair = ObjectPair.PRODUCTS_ITEMS.value
        return await asyncio.to_thread(self._linked, pair, product_id)

    async def payment_is_synced(self, payment_id: str) -> bool:
        return await asyncio.to_thread(self._linked, "payments", payment_id) is not None

    async def synced_invoices(self, invoice_ids: list[str]) -> set[str]:
        def run() -> set[str]:
            with self.store.begin() as tx:
                pair = ObjectPair.INVOICES_INVOICES.value
                return runs.linked_hubspot_ids(tx, self.connection_id, pair, invoice_ids)

        return await asyncio.to_thread(run)

    async def rules(self) -> RuleView:
        def run() -> RuleView:
            with self.store.begin() as tx:
                rows = tx.list_rules(self.connection_id)
            found: dict[str, SyncRule] = {}
            for row in rows:
                rule = SyncRule.model_validate({**row.config, "id": str(row.id)})
                started = rule.sync_started_at or row.updated_at
                found[row.object_pair] = rule.model_copy(
                    update={"enabled": row.enabled, "sync_started_at": started}
                )
            return RuleView(
                contacts=found.get(ObjectPair.CONTACTS_CUSTOMERS.value),
                invoices=found.get(ObjectPair.INVOICES_INVOICES.value),
            )

        return await asyncio.to_thread(run)


def _outputs(run: runs.WorkflowRun) -> dict[str, str]:
    if run.status is runs.RunStatus.SUCCEEDED and run.qbo_id:
        return success_outputs(run.qbo_id, run.doc_number, run.qbo_url or "")
    return failure_outputs(run.detail or "the action failed")


class WorkflowActionService:
    def __init__(
        self,
        store: Store,
        clients: ClientsFactory,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.store = store
        self.clients = clients
        self.clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        # One execution at a time per connection: two flows on the same record must not
        # both create its customer or items.
        self._locks: dict[int, asyncio.Lock] = {}

    def _connection(self, request: ExecutionRequest) -> ConnectionRow | None:
        with self.store.begin() as tx:
            rows = tx.list_connections()
        company = request.input("qbo_company")
        for row in rows:
            if row.hubspot_portal_id != request.portal_id or not row.qbo_realm_id:
                continue
            if row.status is ConnectionStatus.ACTIVE and company in ("", row.qbo_realm_id):
                return row
        return None

    def _claim(
        self, connection: ConnectionRow, kind: ActionKind, request: ExecutionRequest
    ) -> tuple[runs.WorkflowRun, bool]:
        with self.store.begin() as tx:
            return runs.claim_run(
                tx,
                connection.id,
                callback_id=request.callback_id,
                action=kind.value,
                object_type=request.object_type.lower(),
                object_id=request.object_id,
                now=self.clock(),
            )

    async def accept(self, kind: ActionKind, request: ExecutionRequest) -> dict[str, Any]:
        """The immediate answer to an execution request (see the module docstring)."""
        connection = await asyncio.to_thread(self._connection, request)
        if connection is None:
            company = request.input("qbo_company")
            where = f" and QuickBooks company {company}" if company else ""
            return {
                "outputFields": failure_outputs(
                    f"No active ledgerbridge connection for HubSpot account {request.portal_id}"
                    f"{where}; run `ledgerbridge connect`."
                )
            }
        run, first = await asyncio.to_thread(self._claim, connection, kind, request)
        if not first and run.status is not runs.RunStatus.RUNNING:
            return {"outputFields": _outputs(run)}
        task = self._tasks.get(request.callback_id)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._run(connection, kind, request))
            self._tasks[request.callback_id] = task
            task.add_done_callback(lambda _t: self._tasks.pop(request.callback_id, None))
        return block_response()

    async def drain(self) -> None:
        """Wait until every execution (and association) in progress has finished."""
        while self._tasks or self._background:
            waiting = [*self._tasks.values(), *self._background]
            await asyncio.gather(*waiting, return_exceptions=True)

    def after_pass(self, connection_id: int, error: BaseException | None) -> None:
        """A runtime pass listener: associate the workflow invoices the pass synced (R-WF-4)."""
        if error is not None:
            return
        task = asyncio.get_running_loop().create_task(self._associate(connection_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _associate(self, connection_id: int) -> None:
        def load() -> ConnectionRow | None:
            with self.store.begin() as tx:
                return tx.get_connection(connection_id)

        try:
            connection = await asyncio.to_thread(load)
            if connection is not None and connection.qbo_realm_id:
                await associate_documents(self.store, connection, self.clients)
        except Exception as error:  # retried after the next pass
            log.warning(
                "workflow documents of connection %s not associated: %r", connection_id, error
            )

    async def _run(
        self, connection: ConnectionRow, kind: ActionKind, request: ExecutionRequest
    ) -> None:
        label = f"{NAMES[kind][0]} for {request.object_type.lower()} {request.object_id}"
        try:
            async with self.clients(connection) as (hubspot, qbo):
                outcome = await self._outcome(connection, kind, request, hubspot, qbo)
                await asyncio.to_thread(self._finish, connection, request, outcome, label)
                outputs = (
                    success_outputs(outcome.qbo_id, outcome.doc_number, outcome.qbo_url or "")
                    if outcome.status is runs.RunStatus.SUCCEEDED and outcome.qbo_id
                    else failure_outputs(outcome.detail or "the action failed")
                )
                try:
                    await complete_callback(hubspot, request.callback_id, outputs)
                except SyncError as error:  # e.g. HubSpot no longer waits for this callback
                    log.warning(
                        "workflow action %s: callback %s not completed: %s",
                        kind.value,
                        request.callback_id,
                        error.detail,
                    )
        except Exception:
            log.exception(
                "workflow action %s (callback %s) failed", kind.value, request.callback_id
            )

    async def _outcome(
        self,
        connection: ConnectionRow,
        kind: ActionKind,
        request: ExecutionRequest,
        hubspot: HubSpotClient,
        qbo: QboClient,
    ) -> runs.RunOutcome:
        lookups = StoreLookups(self.store, connection.id)
        lock = self._locks.setdefault(connection.id, asyncio.Lock())
        try:
            async with lock:
                written = await execute(
                    kind, request, hubspot=hubspot, qbo=qbo, lookups=lookups, now=self.clock()
                )
        except SyncError as error:
            return runs.RunOutcome(
                runs.RunStatus.FAILED, error_category=error.category.value, detail=error.detail
            )
        except Exception as error:  # recorded and reported; never left running silently
            log.exception("workflow action %s crashed", kind.value)
            return runs.RunOutcome(
                runs.RunStatus.FAILED,
                error_category=ErrorCategory.UNKNOWN.value,
                detail=f"unexpected error: {type(error).__name__}: {error}",
            )
        return runs.RunOutcome(
            runs.RunStatus.SUCCEEDED,
            qbo_entity=written.entity,
            qbo_id=written.id,
            doc_number=written.doc_number,
            qbo_url=written.url,
        )

    def _finish(
        self,
        connection: ConnectionRow,
        request: ExecutionRequest,
        outcome: runs.RunOutcome,
        label: str,
    ) -> None:
        with self.store.begin() as tx:
            runs.finish_run(
                tx, connection.id, request.callback_id, outcome, label=label, now=self.clock()
            )


async def register_definitions(
    hubspot: HubSpotClient, app_id: str, public_url: str
) -> dict[ActionKind, str]:
    """Create or update the action definitions on HubSpot app `app_id` (idempotent)."""
    return await ensure_definitions(hubspot, app_id, public_url)
