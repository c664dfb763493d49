"""Webhook bursts and periodic tasks with two workers, on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from ledgerbridge.qbo.webhooks import sign
from ledgerbridge.runtime.distributed.app import ensure_queue_schema
from ledgerbridge.runtime.distributed.tasks import POLL_ALL
from ledgerbridge.runtime.distributed.worker import open_distributed
from ledgerbridge.store.directory import StoreDirectory
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.webhooks import WebhookSecrets, webhook_router
from tests.integration.distributed.conftest import (
    OverlapDetector,
    eventually,
    fleet_of,
    workers,
)

pytestmark = pytest.mark.postgres

VERIFIER = "burst-verifier"


def qbo_webhook(realm: str, n: int) -> bytes:
    entity = {"name": "Customer", "id": str(n), "operation": "Update", "lastUpdated": "2026"}
    notification = {"realmId": realm, "dataChangeEvent": {"entities": [entity]}}
    return json.dumps({"eventNotifications": [notification]}).encode()


async def test_a_burst_of_100_webhooks_is_at_most_two_passes(postgres_url: str) -> None:
    with fleet_of(postgres_url, 2) as fleet:
        cid, other = fleet.ids
        detector = OverlapDetector()
        queue = await open_distributed(fleet.settings)
        router = webhook_router(
            directory=StoreDirectory(queue.store),
            wake=queue.deferrer.wake,
            secrets=WebhookSecrets(None, SecretStr(VERIFIER)),
        )
        web = create_web_app(queue.store, routers=[router])
        try:
            async with workers(fleet.settings, 2, detector):
                await queue.deferrer.request_all(fleet.ids)
                await eventually(fleet.settled, "the first passes")
                detector.passes.clear()
                fleet.create_customer(cid, "burst@example.test")
                transport = httpx.ASGITransport(app=web)
                local = "http://127.0.0.1"  # a host name the web app answers to
                async with httpx.AsyncClient(transport=transport, base_url=local) as http:

                    async def deliver(n: int) -> int:
                        body = qbo_webhook(fleet.realms[cid], n)
                        headers = {"intuit-signature": sign(body, VERIFIER)}
                        response = await http.post("/webhooks/qbo", content=body, headers=headers)
                        return response.status_code

                    statuses = await asyncio.gather(*(deliver(n) for n in range(100)))
                    await queue.deferrer.drain()
                assert Counter(statuses) == {200: 100}
                await eventually(fleet.settled, "the burst's passes")
        finally:
            await queue.aclose()
        assert 1 <= detector.passes[cid] <= 2, detector.passes
        assert detector.passes[other] == 0  # a webhook of one company wakes only its own
        assert detector.overlaps == []
        state = fleet.state(cid)
        assert state is not None and state.requested >= 101  # every webhook was counted
        assert fleet.contact_emails(cid).count("burst@example.test") == 1


async def test_periodic_poll_runs_once_per_period_with_two_workers(postgres_url: str) -> None:
    with fleet_of(postgres_url, 1, poll_interval=1.0) as fleet:
        (cid,) = fleet.ids
        detector = OverlapDetector()

        def poll_jobs() -> list[tuple[int, str]]:
            with fleet.store.begin() as tx:
                rows = tx.connection.execute(
                    text(
                        "SELECT (args->>'timestamp')::bigint, status FROM procrastinate_jobs"
                        " WHERE task_name = :task ORDER BY 1"
                    ),
                    {"task": POLL_ALL},
                ).all()
            return [(int(t), str(s)) for t, s in rows]

        await ensure_queue_schema(fleet.settings)
        async with workers(fleet.settings, 2, detector):
            await eventually(
                lambda: sum(s == "succeeded" for _, s in poll_jobs()) >= 4, "four polls"
            )
        jobs = poll_jobs()
        stamps = Counter(t for t, _ in jobs)
        assert all(n == 1 for n in stamps.values()), stamps  # one job per period
        succeeded = [t for t, s in jobs if s == "succeeded"]
        assert len(succeeded) >= 4
        state = fleet.state(cid)
        started = [t for t, s in jobs if s != "todo"]
        # Each poll asked one more pass of the connection, once: nothing else asked here
        # (a poll the workers' stop interrupted may or may not have asked).
        assert state is not None and len(succeeded) <= state.requested <= len(started)
        assert detector.overlaps == []
        assert detector.passes[cid] >= 1
