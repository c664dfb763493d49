"""Rate budgets shared by workers through PostgreSQL (`store.budgets`), on virtual time."""

from __future__ import annotations

import pytest

from ledgerbridge.runtime.clients import build_clients
from ledgerbridge.runtime.distributed.budgets import (
    StoreLedger,
    qbo_windows,
    shared_budgets,
    split_concurrency,
)
from ledgerbridge.store import Store
from ledgerbridge.store.configured import open_store
from ledgerbridge.transport.budget import Window
from ledgerbridge.transport.shared_budget import SharedRateBudget
from tests.integration.distributed.conftest import fleet_of

pytestmark = pytest.mark.postgres


class VirtualTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def worker_budget(store: Store, clock: VirtualTime) -> SharedRateBudget:
    """One worker's QBO budget of the realm: its own ledger over its own store."""
    general, _ = qbo_windows("4620816365000000")
    return SharedRateBudget(
        [Window(general.limit, general.window_seconds, "minute")],
        shared=[general],
        ledger=StoreLedger(store, wall=clock),
        clock=clock,
        sleep=clock.sleep,
        wall=clock,
    )


async def test_two_workers_never_spend_more_than_one_qbo_budget(postgres_url: str) -> None:
    with fleet_of(postgres_url, 1) as fleet:
        clock = VirtualTime()
        stores = [open_store(fleet.settings) for _ in range(2)]  # two processes' pools
        try:
            budgets = [worker_budget(store, clock) for store in stores]
            sent: list[tuple[float, int]] = []
            for _ in range(400):  # each worker wants 400 requests: 800 in all
                for n, budget in enumerate(budgets):
                    async with budget.slot():
                        sent.append((clock.now, n))
        finally:
            for store in stores:
                store.close()
        window = qbo_windows("x")[0].window_seconds
        times = sorted(t for t, _ in sent)
        busiest = max(
            sum(1 for u in times if t <= u < t + window) for t in times
        )  # the most requests any sliding window of the service saw
        assert busiest <= 500
        assert len(sent) == 800  # and nobody starved: the budget frees up as time goes
        assert times[-1] - times[0] >= window  # 800 > 500 only fit in more than a window
        assert {n for _, n in sent[:500]} == {0, 1}  # both workers spent it
        assert budgets[0].claims < 400  # claimed a lease at a time, not per request


async def test_a_company_named_by_several_connections_splits_its_concurrency(
    postgres_url: str,
) -> None:
    assert split_concurrency(8, 1) == 8
    assert split_concurrency(8, 3) == 2
    assert split_concurrency(8, 20) == 1
    with fleet_of(postgres_url, 2) as fleet:
        first = fleet.ids[0]
        with fleet.store.begin() as tx:
            row = tx.get_connection(first)
            assert row is not None and row.qbo_realm_id is not None
            tx.create_connection(  # a second connection of the same company
                name="same company",
                hubspot_base_url=row.hubspot_base_url,
                qbo_base_url=row.qbo_base_url,
                hubspot_portal_id="99",
                qbo_realm_id=row.qbo_realm_id,
                options=row.options,
            )
        clients = build_clients(row, settings=fleet.settings, store=fleet.store)
        await shared_budgets(fleet.store)(row, clients)
        await clients.aclose()
        budget, hubspot = clients.qbo.budget, clients.hubspot.session.budget
        assert isinstance(budget, SharedRateBudget) and isinstance(hubspot, SharedRateBudget)
        assert [w.budget for w in budget.shared] == [f"qbo:{row.qbo_realm_id}:minute"]
        assert budget.max_concurrency == 4  # two connections name the company: 8 // 2
        assert hubspot.max_concurrency == 10  # its portal is its own
