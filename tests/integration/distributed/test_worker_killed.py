"""A `ledgerbridge worker` process killed with SIGKILL in the middle of a pass: another
worker process completes the work; nothing is duplicated, nothing is lost."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from ledgerbridge.runtime.distributed.worker import open_distributed
from tests.e2e.processes import ledgerbridge, wait_for
from tests.integration.distributed.conftest import eventually, fleet_of

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CONTACTS = 200  # 7 QBO batches of customers to create


async def test_a_worker_killed_mid_pass_leaves_the_work_to_another(
    postgres_url: str, tmp_path: Path
) -> None:
    with fleet_of(postgres_url, 1, stalled_after=2.0) as fleet:
        (cid,) = fleet.ids
        emails = [f"killed-{n}@example.test" for n in range(CONTACTS)]
        fleet.create_contacts(cid, emails)
        # Every QBO request takes a second: the worker is killed while its batches of new
        # customers are on their way, which QBO carries out after the worker is gone (so
        # they are written, and never recorded by the pass that wrote them).
        fleet.qbo_latency(1.0)
        queue = await open_distributed(fleet.settings)
        try:
            args = ["worker", "--concurrency", "2"]
            with (
                ledgerbridge(args, tmp_path / "w1.log", fleet.env()) as w1,
                ledgerbridge(args, tmp_path / "w2.log", fleet.env()) as w2,
            ):
                by_pid = {w1.popen.pid: w1, w2.popen.pid: w2}
                await queue.deferrer.request(cid)

                def mid_pass() -> int | None:
                    state = fleet.state(cid)
                    if state is None or state.running_by is None:
                        return None
                    if fleet.qbo_in_flight.batches == 0:
                        return None  # no write of the pass is on its way yet
                    return int(state.running_by.rsplit(":", 1)[1])

                pid = wait_for(mid_pass, what="a pass writing to QBO", timeout=120)
                victim = by_pid[pid]
                os.kill(pid, signal.SIGKILL)
                assert victim.popen.wait(timeout=30) == -signal.SIGKILL
                state = fleet.state(cid)
                assert state is not None and state.pending  # the pass had not finished
                survivor = w2 if victim is w1 else w1

                await eventually(fleet.settled, "the other worker's pass", within=180)
                survivor.check_alive()
        finally:
            await queue.aclose()
        customers = Counter(fleet.customer_emails(cid))
        assert {e: customers[e] for e in emails} == dict.fromkeys(emails, 1)
        state = fleet.state(cid)
        assert state is not None and state.passes >= 1 and state.running_by is None
