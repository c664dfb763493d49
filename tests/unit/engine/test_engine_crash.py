"""R-BEY-1 at the engine: writes that happened are linked, and a crash never makes the
next pass copy our own creates back (records without an email or SKU cannot be matched,
so only the engine's bookkeeping keeps them single)."""

from __future__ import annotations

import contextlib

from ledgerbridge.domain import System
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.errors import ErrorCategory, TransientError
from ledgerbridge.sync.ports import Commit
from ledgerbridge.sync.rules import ObjectPair
from tests.unit.engine.fakes import Clock, FakeSide, FakeState

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS = ObjectPair.CONTACTS_CUSTOMERS


class CrashingState(FakeState):
    """Dies (like a SIGKILL) before its first commit."""

    crashes: int = 1

    async def commit(self, commit: Commit) -> None:
        if self.crashes:
            self.crashes -= 1
            raise KeyboardInterrupt("killed before the commit")
        await super().commit(commit)


def _sides() -> tuple[FakeSide, FakeSide, Clock]:
    clock = Clock()
    hubspot, qbo = FakeSide(H, clock), FakeSide(Q, clock)
    hubspot.put({"firstname": "Nomail", "lastname": "Contact"})
    qbo.put({"DisplayName": "Nomail Customer", "GivenName": "Nomail"})
    return hubspot, qbo, clock


async def _quiet(engine: SyncEngine) -> None:
    for _ in range(3):
        if (await engine.run_pass()).writes == 0:
            return
    raise AssertionError("the engine did not converge")


async def test_a_side_failing_as_a_whole_still_links_the_other_sides_writes() -> None:
    hubspot, qbo, clock = _sides()
    state = FakeState([wizard_defaults(CONTACTS)])
    engine = SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now)
    hubspot.raise_on, hubspot.fail_writes = (
        "apply",
        TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "HubSpot is down"),
    )

    report = await engine.run_pass()

    assert report.pairs[CONTACTS].created == 1 and report.pairs[CONTACTS].pending == 1
    assert len(state.links) == 1  # the QBO customer made from the HubSpot contact
    hubspot.raise_on = hubspot.fail_writes = None
    await _quiet(engine)
    assert len(hubspot.records) == len(qbo.records) == 2
    assert len(state.links) == 2


async def test_a_crash_before_the_commit_does_not_copy_our_creates_back() -> None:
    hubspot, qbo, clock = _sides()
    state = CrashingState([wizard_defaults(CONTACTS)])
    engine = SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now)
    with contextlib.suppress(KeyboardInterrupt):
        await engine.run_pass()
    # Both creates happened, nothing was recorded: after the restart each side holds a
    # record we made, unlinked and "new".
    assert len(hubspot.records) == len(qbo.records) == 2 and not state.links

    await _quiet(SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now))

    assert len(hubspot.records) == len(qbo.records) == 2
    assert len(state.links) == 2
