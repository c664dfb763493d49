"""`ledgerbridge backfill` on the distributed runtime: queued as chunks that the workers run,
each resuming where the previous one (on any worker) stopped."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.runtime.distributed.backfill import BACKFILL_CHUNK
from tests.integration.distributed.conftest import OverlapDetector, eventually, fleet_of, workers

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CONTACTS = 120


async def test_a_queued_backfill_runs_in_chunks_on_the_workers(postgres_url: str) -> None:
    with fleet_of(postgres_url, 1) as fleet:
        (cid,) = fleet.ids
        emails = [f"old-{n}@example.test" for n in range(CONTACTS)]
        fleet.create_contacts(cid, emails)
        args = ["backfill", "--object", "contacts", "--since", "2020-01-01", "--batch-size", "5"]
        result = await asyncio.to_thread(CliRunner().invoke, app, args, env=fleet.env())
        assert result.exit_code == 0, result.output
        assert "queued" in result.output

        def chunks() -> Counter[str]:
            with fleet.store.begin() as tx:
                jobs = tx.connection.execute(
                    text("SELECT status FROM procrastinate_jobs WHERE task_name = :t"),
                    {"t": BACKFILL_CHUNK},
                ).scalars()
                return Counter(str(status) for status in jobs)

        def backfilled() -> bool:
            running = chunks()["todo"] + chunks()["doing"]
            return running == 0 and set(emails) <= set(fleet.customer_emails(cid))

        detector = OverlapDetector()  # no pass is asked: only the backfill writes
        async with workers(fleet.settings, 2, detector):
            await eventually(backfilled, "the backfill", within=240)
        statuses = chunks()
        assert sum(detector.passes.values()) == 0
        # 120 records in chunks of 10 batches of 5: three chunks, each its own job.
        assert statuses["succeeded"] >= 3, statuses
        customers = Counter(fleet.customer_emails(cid))
        assert {e: customers[e] for e in emails} == dict.fromkeys(emails, 1)
