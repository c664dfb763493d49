"""Two workers, many connections, on a real PostgreSQL server (in-process workers, so an
overlap detector wraps every pass)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from ledgerbridge.runtime.clients import sandbox_options
from ledgerbridge.runtime.distributed.worker import open_distributed
from ledgerbridge.store import ConnectionStatus
from tests.integration.distributed.conftest import (
    OverlapDetector,
    eventually,
    fleet_of,
    workers,
)

pytestmark = pytest.mark.postgres


async def test_two_workers_sync_twenty_connections_never_two_passes_of_one_at_once(
    postgres_url: str,
) -> None:
    with fleet_of(postgres_url, 20, hubspot_latency_ms=40) as fleet:
        for cid in fleet.ids:
            fleet.create_contact(cid, f"hs-{cid}@example.test")
            fleet.create_customer(cid, f"qbo-{cid}@example.test")
        detector = OverlapDetector()
        queue = await open_distributed(fleet.settings)
        try:
            async with workers(fleet.settings, 2, detector):
                await queue.deferrer.request_all(fleet.ids)
                await eventually(fleet.settled, "every connection's first pass")
                # Ask again and again for two connections while the workers' other slots
                # are free: their jobs reach both workers while a pass runs, and only the
                # advisory lock keeps two passes of one connection apart.
                for _ in range(25):
                    for cid in fleet.ids[:2]:
                        await queue.deferrer.request(cid)
                    await asyncio.sleep(0.05)
                await eventually(fleet.settled, "every connection's passes")
        finally:
            await queue.aclose()
        assert detector.overlaps == []
        assert set(detector.passes) == set(fleet.ids)
        for cid in fleet.ids:
            customers = Counter(fleet.customer_emails(cid))
            contacts = Counter(fleet.contact_emails(cid))
            mine = {f"hs-{cid}@example.test", f"qbo-{cid}@example.test"}
            assert {e: customers[e] for e in mine} == dict.fromkeys(mine, 1), cid
            assert {e: contacts[e] for e in mine} == dict.fromkeys(mine, 1), cid
            state = fleet.state(cid)
            assert state is not None and state.done == state.requested


async def test_the_daily_reconciliation_runs_as_a_job_of_a_worker(postgres_url: str) -> None:
    with fleet_of(postgres_url, 1) as fleet:
        (cid,) = fleet.ids
        fleet.create_contact(cid, "reconcile@example.test")

        def reconciled() -> bool:
            with fleet.store.begin() as tx:
                row = tx.get_connection(cid)
            return row is not None and "last_reconcile" in row.options

        queue = await open_distributed(fleet.settings)
        try:
            async with workers(fleet.settings, 2, OverlapDetector()):
                await queue.deferrer.request(cid)
                await eventually(fleet.settled, "the first pass")
                await queue.deferrer.reconcile(cid)
                await eventually(reconciled, "the reconciliation")
        finally:
            await queue.aclose()
        with fleet.store.begin() as tx:
            row = tx.get_connection(cid)
        assert row is not None
        summary = row.options["last_reconcile"]
        assert summary["errors"] == {}
        assert sum(summary["drift"].values()) == 0  # the pass had synced everything


async def test_a_connection_whose_grant_is_refused_is_marked_and_left_alone(
    postgres_url: str,
) -> None:
    with fleet_of(postgres_url, 2) as fleet:
        refused, fine = fleet.ids
        with fleet.store.begin() as tx:  # a token the sandboxes do not accept
            tx.update_connection(refused, options=sandbox_options("revoked-token"))
        detector = OverlapDetector()
        queue = await open_distributed(fleet.settings)

        def status(cid: int) -> ConnectionStatus | None:
            with fleet.store.begin() as tx:
                row = tx.get_connection(cid)
            return row.status if row else None

        try:
            async with workers(fleet.settings, 2, detector):
                await queue.deferrer.request_all(fleet.ids)
                await eventually(
                    lambda: status(refused) is ConnectionStatus.NEEDS_REAUTH, "the refusal"
                )
                await eventually(lambda: fleet.settled_one(fine), "the other connection's pass")
                passes_when_refused = detector.passes[refused]
                for _ in range(3):  # webhooks and polls keep coming
                    await queue.deferrer.request(refused)
                await eventually(lambda: fleet.jobs_waiting() == 0, "the refused connection's jobs")
        finally:
            await queue.aclose()
        assert passes_when_refused == 1
        assert detector.passes[refused] == 1  # left alone: no pass, no retry
        state = fleet.state(refused)
        assert state is not None and state.pending and state.not_before is None
        assert status(fine) is ConnectionStatus.ACTIVE and detector.passes[fine] == 1
