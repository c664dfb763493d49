"""`backfill_all` runs contacts and products side by side (neither names the other), then
invoices; a failure of one stops the other before the error is raised."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from ledgerbridge.operations.backfill.rule import OBJECTS
from ledgerbridge.operations.backfill.run import STAGES, BackfillResult, _side_by_side
from ledgerbridge.sync.report import PassReport


def _result(name: str) -> BackfillResult:
    return BackfillResult(name, dt.date(2026, 1, 1), False, PassReport())


def test_every_object_is_in_one_stage_and_invoices_come_after_their_references() -> None:
    flat = [name for stage in STAGES for name in stage]
    assert sorted(flat) == sorted(OBJECTS)
    stage_of = {name: i for i, stage in enumerate(STAGES) for name in stage}
    assert stage_of["invoices"] > stage_of["contacts"]
    assert stage_of["invoices"] > stage_of["products"]


async def test_the_runs_of_a_stage_go_at_the_same_time() -> None:
    contacts_started = asyncio.Event()

    async def contacts() -> BackfillResult:
        contacts_started.set()
        await asyncio.sleep(0)
        return _result("contacts")

    async def products() -> BackfillResult:
        # One after the other, products would run after contacts finished; here it waits
        # for contacts to have started, which only happens if both run at once.
        await asyncio.wait_for(contacts_started.wait(), timeout=5)
        return _result("products")

    done = await _side_by_side([products(), contacts()])
    assert [r.name for r in done] == ["products", "contacts"]  # in the order given


async def test_a_failure_stops_the_other_run_before_it_is_raised() -> None:
    cancelled = asyncio.Event()

    async def long_run() -> BackfillResult:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("not reached")

    async def failing() -> BackfillResult:
        await asyncio.sleep(0)
        raise RuntimeError("HubSpot refused the token")

    with pytest.raises(RuntimeError, match="refused"):
        await _side_by_side([long_run(), failing()])
    assert cancelled.is_set()
