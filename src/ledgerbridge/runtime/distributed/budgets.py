"""Rate budgets that hold across workers: which budgets are shared, and how.

The choice: the time windows live in PostgreSQL, the concurrency caps are split.

* Time windows (QBO 500 requests/min and 40 batches/min per company; HubSpot 190 per
  10 s, 4 searches/s and 650,000 a day per portal) are one budget per company or portal
  in `rate_budget_buckets` (`store.budgets`), claimed a few requests at a time by every
  worker (`transport.shared_budget.SharedRateBudget`). Connections that name the same
  company or portal — in any process — spend the same budget. Per-connection exclusivity
  alone would not do: two connections of one company run on two workers at once, and a
  worker that takes a connection over starts with a fresh local budget.
* Concurrency (QBO: under 10 requests in flight per company) cannot be claimed by a row
  without a lease that outlives a killed worker, so it is split instead: a connection's
  pass may have `cap // n` requests in flight, n being the number of connections that
  name the company (at least 1). One pass per connection at a time (the advisory lock)
  makes the sum over a company at most `cap`, whichever workers run them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ledgerbridge.hubspot.session import BURST, DAILY, SEARCH, HubSpotLimits
from ledgerbridge.qbo.client import SAFE_CONCURRENCY, SAFETY_SECONDS
from ledgerbridge.runtime.clients import ConnectionClients
from ledgerbridge.runtime.runner import ClientsHook
from ledgerbridge.store import ConnectionRow, Store
from ledgerbridge.store.budgets import claim, connections_sharing
from ledgerbridge.transport.budget import Window
from ledgerbridge.transport.shared_budget import LedgerClaim, SharedRateBudget, SharedWindow

__all__ = ["StoreLedger", "qbo_windows", "shared_budgets", "split_concurrency"]

QBO_PER_MINUTE = 500
QBO_BATCHES_PER_MINUTE = 40


class StoreLedger:
    """`BudgetLedger` over the store (one short transaction per claim, in a thread)."""

    def __init__(self, store: Store, wall: Callable[[], float] = time.time) -> None:
        self._store = store
        self._wall = wall

    def _claim(self, window: SharedWindow, want: int) -> LedgerClaim:
        with self._store.begin() as tx:
            got = claim(
                tx,
                window.budget,
                limit=window.limit,
                window_seconds=window.window_seconds,
                want=want,
                now=self._wall(),
            )
        return LedgerClaim(got.granted, got.bucket_ends, got.retry_in)

    async def claim(self, window: SharedWindow, want: int) -> LedgerClaim:
        return await asyncio.to_thread(self._claim, window, want)


def qbo_windows(realm_id: str) -> tuple[SharedWindow, SharedWindow]:
    """(general, batch) budgets of a QBO company."""
    minute = 60.0 + SAFETY_SECONDS
    return (
        SharedWindow(f"qbo:{realm_id}:minute", QBO_PER_MINUTE, minute),
        SharedWindow(f"qbo:{realm_id}:batch", QBO_BATCHES_PER_MINUTE, minute),
    )


def hubspot_windows(portal_id: str, limits: HubSpotLimits) -> dict[str, SharedWindow]:
    margin = limits.margin_seconds
    windows = {
        BURST: SharedWindow(
            f"hubspot:{portal_id}:{BURST}", limits.burst, limits.burst_seconds + margin
        ),
        DAILY: SharedWindow(f"hubspot:{portal_id}:{DAILY}", limits.daily, 86_400.0),
        SEARCH: SharedWindow(
            f"hubspot:{portal_id}:{SEARCH}", limits.search_per_second, 1.0 + margin
        ),
    }
    return {name: w for name, w in windows.items() if w.limit > 0}


def split_concurrency(cap: int, sharing: int) -> int:
    """Requests in flight one connection's pass may have when `sharing` connections name
    the same company or portal (their sum stays within `cap`)."""
    return max(1, cap // max(1, sharing))


def _sharing(store: Store, row: ConnectionRow) -> tuple[int, int]:
    with store.begin() as tx:
        return connections_sharing(tx, row.qbo_realm_id, row.hubspot_portal_id)


def shared_budgets(store: Store) -> ClientsHook:
    """The `EngineRunner` hook that gives a connection's clients the shared budgets."""
    ledger = StoreLedger(store)

    async def share(row: ConnectionRow, clients: ConnectionClients) -> None:
        realm_sharing, portal_sharing = await asyncio.to_thread(_sharing, store, row)
        if row.qbo_realm_id:
            general, batch = qbo_windows(row.qbo_realm_id)
            clients.qbo.budget = SharedRateBudget(
                [Window(general.limit, general.window_seconds, "minute")],
                shared=[general],
                ledger=ledger,
                max_concurrency=split_concurrency(SAFE_CONCURRENCY, realm_sharing),
            )
            clients.qbo.batch_budget = SharedRateBudget(
                [Window(batch.limit, batch.window_seconds, "batch_minute")],
                shared=[batch],
                ledger=ledger,
            )
        session = clients.hubspot.session
        windows = hubspot_windows(row.hubspot_portal_id or f"connection-{row.id}", session.limits)
        general_windows = [w for name, w in windows.items() if name != SEARCH]
        session.budget = SharedRateBudget(
            session.budget.windows,
            shared=general_windows,
            ledger=ledger,
            max_concurrency=split_concurrency(session.limits.max_concurrency, portal_sharing),
        )
        if SEARCH in windows:
            session.search_budget = SharedRateBudget(
                session.search_budget.windows, shared=[windows[SEARCH]], ledger=ledger
            )

    return share
