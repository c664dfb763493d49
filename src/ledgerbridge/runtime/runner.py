"""The real `PassRunner`: one sync pass of a stored connection with the sync engine.

`EngineRunner(store, settings)` is what `ledgerbridge run` and `ledgerbridge demo` give
the embedded runtime. Per connection it keeps the clients (`runtime.clients`: a
static token for sandbox connections, OAuth over the encrypted stored grant
otherwise), so rate budgets and refreshed tokens carry over from pass to pass; the
clients are rebuilt when the connection's account, URLs or options change (a
reconnect). Each call builds the engine over them (`runtime.connection`) and runs
one pass; the engine records everything in the store and marks the connection
`needs_reauth` itself when a grant is refused.

`reconcile` is the runtime's daily hook (R-BEY-2): it reads both sides in full through
the same engine's ports (`operations.reconcile.reconcile_ports`), writes nothing to either
service, logs any drift, and keeps the summary on the connection's options
(`last_reconcile`: when, how many records drift per rule, rules it could not check).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from ledgerbridge.domain import System
from ledgerbridge.hubspot.side.port import HubSpotSide
from ledgerbridge.operations.invoices import invoice_setup_warnings
from ledgerbridge.operations.reconcile import ReconcileReport, reconcile_ports
from ledgerbridge.qbo.side.entities import ENTITIES
from ledgerbridge.qbo.side.feed import ChangeFeed
from ledgerbridge.qbo.side.port import QboSide
from ledgerbridge.runtime.clients import ConnectionClients, build_clients
from ledgerbridge.runtime.connection import engine_for_clients, load_connection
from ledgerbridge.runtime.observe import PassObserver, api_counts, read_cursors
from ledgerbridge.settings import Settings
from ledgerbridge.store import ConnectionRow, Store
from ledgerbridge.store.state import StoreState
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.errors import AuthenticationError, SyncError
from ledgerbridge.sync.report import PassReport
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.transport.http import HttpClient

__all__ = ["EngineRunner"]

log = logging.getLogger(__name__)

HUBSPOT_OVERLAP = dt.timedelta(seconds=30)  # HubSpot's search index lags its writes
ReportListener = Callable[[int, PassReport], None]
ClientsHook = Callable[[ConnectionRow, ConnectionClients], Awaitable[None]]
"""Called with a connection's freshly built clients (the distributed runtime shares their
rate budgets across workers with it)."""


def _identity(row: ConnectionRow) -> tuple[Any, ...]:
    return (
        row.hubspot_base_url,
        row.qbo_base_url,
        row.hubspot_portal_id,
        row.qbo_realm_id,
        tuple(
            sorted(
                (k, repr(v))
                for k, v in row.options.items()
                if k not in (SETUP_WARNINGS, LAST_RECONCILE)
            )
        ),
    )


SETUP_WARNINGS = "setup_warnings"
LAST_RECONCILE = "last_reconcile"


class EngineRunner:
    """`PassRunner` over the real engine (call it with a connection id)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        http_factory: Callable[[], HttpClient] | None = None,
        hubspot_overlap: dt.timedelta = HUBSPOT_OVERLAP,
        on_report: ReportListener | None = None,
        observer: PassObserver | None = None,
        on_clients: ClientsHook | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._http_factory = http_factory
        self._overlap = hubspot_overlap
        self._on_report = on_report
        self.observer = observer or PassObserver()
        """Logs every pass (and feeds the metrics when it has them)."""
        self._on_clients = on_clients
        self._clients: dict[int, tuple[tuple[Any, ...], ConnectionClients]] = {}
        self._engines: dict[int, tuple[ConnectionClients, SyncEngine]] = {}
        self.last_reports: dict[int, PassReport] = {}

    async def _clients_for(self, row: ConnectionRow) -> ConnectionClients:
        identity = _identity(row)
        cached = self._clients.get(row.id)
        if cached is not None and cached[0] == identity:
            return cached[1]
        if cached is not None:
            await cached[1].aclose()
        http = self._http_factory() if self._http_factory else None
        clients = build_clients(row, settings=self._settings, store=self._store, http=http)
        clients.owns_http = True
        if self._on_clients is not None:
            await self._on_clients(row, clients)
        self._clients[row.id] = (identity, clients)
        await self._check_setup(row, clients)
        return clients

    async def _check_setup(self, row: ConnectionRow, clients: ConnectionClients) -> None:
        """QBO settings that work against invoice sync (R-INV-12): logged, and kept on the
        connection so the status page shows them."""
        with self._store.begin() as tx:
            invoices = any(
                r.enabled and r.object_pair == ObjectPair.INVOICES_INVOICES.value
                for r in tx.list_rules(row.id)
            )
        try:
            warnings = await invoice_setup_warnings(clients.qbo) if invoices else []
        except SyncError as exc:
            log.warning("connection %s: could not read QBO preferences: %s", row.id, exc)
            return
        for warning in warnings:
            log.warning("connection %s: %s", row.id, warning)
        if row.options.get(SETUP_WARNINGS, []) != warnings:
            with self._store.begin() as tx:
                tx.update_connection(row.id, options={**row.options, SETUP_WARNINGS: warnings})

    async def __call__(
        self,
        connection_id: int,
        *,
        only: Collection[ObjectPair] | None = None,
        known: Mapping[ObjectPair, frozenset[str]] | None = None,
    ) -> PassReport:
        """One pass of the connection: every enabled rule, or those of `only` (with, per
        pair of `known`, the HubSpot records that changed: read by id, not searched)."""
        engine = await self._engine(connection_id)
        pairs = list(only) if only is not None else list(ObjectPair)
        before = read_cursors(self._store, connection_id, pairs)
        clients = self._clients[connection_id][1]
        reads_before = _qbo_reads(clients)
        started = time.perf_counter()
        report = await run_pass(engine, only, known)
        seconds = time.perf_counter() - started
        report.qbo_reads = _qbo_reads(clients) - reads_before
        self.last_reports[connection_id] = report
        after = read_cursors(self._store, connection_id, pairs)
        self.observer.observe(connection_id, report, seconds, api_counts(clients), before, after)
        errors = [f"{p.object_type.value}: {p.error}" for p in report.pairs.values() if p.error]
        if errors:
            log.warning("connection %s: pass finished with errors: %s", connection_id, errors)
        if self._on_report is not None:
            self._on_report(connection_id, report)
        return report

    async def engine(self, connection_id: int) -> SyncEngine:
        """The connection's engine over its kept clients (a backfill runs over its sides)."""
        return await self._engine(connection_id)

    async def _engine(self, connection_id: int) -> SyncEngine:
        row = load_connection(self._store, connection_id)
        clients = await self._clients_for(row)
        engine = self._engines.get(connection_id)
        if engine is None or engine[0] is not clients:
            # One engine per connection and clients, kept across passes, so that what its
            # sides learn once (income account, custom line item, unique properties, QBO
            # vendor names) is not asked again every few seconds.
            income = row.options.get("income_account")
            built = engine_for_clients(
                self._store,
                connection_id,
                hubspot=clients.hubspot,
                qbo=clients.qbo,
                hubspot_overlap=self._overlap,
                income_account=str(income) if income else None,
            )
            engine = self._engines[connection_id] = (clients, built)
        return engine[1]

    async def reconcile(self, connection_id: int) -> ReconcileReport:
        """The daily full reconciliation: compare both sides, record the drift."""
        engine = await self._engine(connection_id)
        hubspot, qbo = engine.sides[System.HUBSPOT], engine.sides[System.QUICKBOOKS]
        report = await reconcile_ports(hubspot, qbo, engine.state)
        summary = {
            "at": dt.datetime.now(dt.UTC).isoformat(),
            "drift": {p.object_type.value: p.count for p in report.pairs},
            "errors": {pair.value: error for pair, error in report.errors.items()},
        }
        if report.drift or report.errors:
            found = [
                f"{p.count} {p.object_type.value.replace('_', ' ↔ ')} differ"
                for p in report.pairs
                if p.count
            ]
            found += [
                f"{pair.value.replace('_', ' ↔ ')} not compared ({error})"
                for pair, error in report.errors.items()
            ]
            log.warning(
                "connection %s: the daily reconciliation found %s (`ledgerbridge reconcile` "
                "lists them)",
                connection_id,
                "; ".join(found),
            )
        with self._store.begin() as tx:
            row = tx.get_connection(connection_id)
            if row is not None:
                tx.update_connection(row.id, options={**row.options, LAST_RECONCILE: summary})
        return report

    def budget_use(self, connection_id: int) -> list[tuple[str, int, int, float]]:
        """The API budget of the connection's clients right now: per rate window, (whose,
        requests counted, the limit, the window's seconds). Empty before its first pass."""
        cached = self._clients.get(connection_id)
        if cached is None:
            return []
        clients = cached[1]
        budgets = {
            "HubSpot": clients.hubspot.session.budget,
            "HubSpot search": clients.hubspot.session.search_budget,
            "QuickBooks": clients.qbo.budget,
            "QuickBooks batches": clients.qbo.batch_budget,
        }
        return [
            (label, budget.used(window.name), window.max_requests, window.per_seconds)
            for label, budget in budgets.items()
            for window in budget.windows
        ]

    async def forget(self, connection_id: int) -> None:
        """Close and drop the connection's clients and engine (built again when needed):
        a worker of the distributed runtime keeps only its recent connections open."""
        cached = self._clients.pop(connection_id, None)
        self._engines.pop(connection_id, None)
        if cached is not None:
            await cached[1].aclose()

    async def aclose(self) -> None:
        for _, clients in self._clients.values():
            await clients.aclose()
        self._clients.clear()
        self._engines.clear()


def _qbo_reads(clients: ConnectionClients) -> int:
    """Read requests the connection's QBO client has sent (change reads, queries, gets)."""
    counts = clients.qbo.requests
    return sum(counts.get(kind, 0) for kind in ("cdc", "query", "get"))


async def run_pass(
    engine: SyncEngine,
    only: Collection[ObjectPair] | None = None,
    known: Mapping[ObjectPair, frozenset[str]] | None = None,
) -> PassReport:
    """One pass of `engine`, its QBO changes read at once first (`qbo.side.feed`). In a
    scoped pass (`only`), the HubSpot changes of a pair in `known` are those records."""
    qbo = engine.sides[System.QUICKBOOKS]
    feed = qbo.feed if isinstance(qbo, QboSide) else None
    hubspot = engine.sides[System.HUBSPOT]
    try:
        if isinstance(hubspot, HubSpotSide) and only is not None and known:
            hubspot.known = {pair: ids for pair, ids in known.items() if pair in only}
        if feed is not None:
            await _prefetch(engine, feed, only)
        return await engine.run_pass(only=only)
    finally:
        if feed is not None:
            feed.clear()  # a later pass reads its own changes
        if isinstance(hubspot, HubSpotSide):
            hubspot.known = {}  # a later pass searches unless told otherwise


async def _prefetch(
    engine: SyncEngine, feed: ChangeFeed, only: Collection[ObjectPair] | None
) -> None:
    """The QBO changes of every rule of the pass (and the invoice rule's payments) in
    one read (`qbo.side.feed`); a failed read leaves each rule to read its own."""
    state, quickbooks = engine.state, System.QUICKBOOKS
    wanted: dict[str, dt.datetime | None] = {}
    for rule in await state.load_rules():
        pair = rule.object_pair
        if not rule.enabled or (only is not None and pair not in only):
            continue
        if quickbooks in rule.direction.sources:
            wanted[ENTITIES[pair]] = await state.get_cursor(quickbooks, pair)
        payments = pair is ObjectPair.INVOICES_INVOICES and rule.payments_enabled
        if payments and isinstance(state, StoreState):
            wanted["Payment"] = await state.get_payment_cursor(quickbooks)
    try:
        await feed.prefetch(wanted)
    except AuthenticationError:
        raise
    except SyncError as error:
        feed.clear()
        log.info("QBO changes not read at once (%s); each rule reads its own", error)
