"""Both sides' writes at once when no QBO create is a replay (`sync.apply`), and one after
the other when one is, so the echo of a replayed create is still dropped (R-BEY-1)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence

from ledgerbridge.domain import System
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.ports import Capabilities, WriteAction, WriteResult
from ledgerbridge.sync.rules import ObjectPair, SyncRule
from tests.unit.engine.fakes import Clock, FakeSide, FakeState
from tests.unit.engine.test_engine_crash import CrashingState

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS = ObjectPair.CONTACTS_CUSTOMERS
Log = list[tuple[str, System]]


class TimedSide(FakeSide):
    """Logs when each `apply` starts and ends (it yields to the loop in between)."""

    def __init__(self, system: System, clock: Clock, log: Log) -> None:
        super().__init__(system, clock)
        self.log = log

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        self.log.append(("start", self.system))
        await asyncio.sleep(0.01)
        try:
            return await super().apply(rule, actions, refs)
        finally:
            self.log.append(("end", self.system))


class Journal:
    """The QBO side's write journal: a create was sent before when QBO would replay it."""

    def __init__(self, side: FakeSide, *, truthful: bool = True) -> None:
        self.side = side
        self.truthful = truthful
        self.asked: list[list[str]] = []

    async def sent_creates(self, keys: Collection[str]) -> frozenset[str]:
        self.asked.append(sorted(keys))
        if not self.truthful:
            return frozenset()
        return frozenset(k for k in keys if k in self.side.by_key)


def _sides(log: Log) -> tuple[TimedSide, TimedSide, Clock]:
    """A contact and a customer that cannot be matched (no email): each is copied over."""
    clock = Clock()
    hubspot, qbo = TimedSide(H, clock, log), TimedSide(Q, clock, log)
    hubspot.put({"firstname": "Nomail", "lastname": "Contact"})
    qbo.put({"DisplayName": "Nomail Customer", "GivenName": "Nomail"})
    return hubspot, qbo, clock


SEQUENTIAL = [("start", Q), ("end", Q), ("start", H), ("end", H)]


async def test_with_no_replayed_create_both_sides_are_written_at_once() -> None:
    log: Log = []
    hubspot, qbo, clock = _sides(log)
    journal = Journal(qbo)
    qbo.capabilities = Capabilities(sent_creates=journal)
    engine = SyncEngine(
        hubspot=hubspot, qbo=qbo, state=FakeState([wizard_defaults(CONTACTS)]), clock=clock.now
    )
    report = await engine.run_pass()
    assert report.pairs[CONTACTS].created == 2, report.as_dict()
    assert log[:2] == [("start", Q), ("start", H)]  # the second began before the first ended
    assert len(journal.asked) == 1  # asked once, of the QBO create


async def test_without_a_journal_to_ask_the_sides_are_written_one_after_the_other() -> None:
    log: Log = []
    hubspot, qbo, clock = _sides(log)
    engine = SyncEngine(
        hubspot=hubspot, qbo=qbo, state=FakeState([wizard_defaults(CONTACTS)]), clock=clock.now
    )
    await engine.run_pass()
    assert log == SEQUENTIAL


async def test_a_replayed_create_makes_the_pass_write_qbo_first_and_drop_the_echo() -> None:
    log: Log = []
    hubspot, qbo, clock = _sides(log)
    qbo.capabilities = Capabilities(sent_creates=Journal(qbo))
    state = CrashingState([wizard_defaults(CONTACTS)])
    with contextlib.suppress(KeyboardInterrupt):
        await SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now).run_pass()
    assert len(hubspot.records) == len(qbo.records) == 2 and not state.links
    log.clear()
    engine = SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now)
    await engine.run_pass()
    assert log[:2] == [("start", Q), ("end", Q)]  # the QBO create was a replay
    for _ in range(2):
        await engine.run_pass()
    assert len(hubspot.records) == len(qbo.records) == 2  # nothing copied back
    assert len(state.links) == 2


async def test_a_journal_that_missed_the_replay_would_copy_the_echo_back() -> None:
    """What the check prevents: told (wrongly) that no create was sent before, the pass
    writes both sides at once and copies the crashed pass's customer back to HubSpot."""
    log: Log = []
    hubspot, qbo, clock = _sides(log)
    qbo.capabilities = Capabilities(sent_creates=Journal(qbo, truthful=False))
    state = CrashingState([wizard_defaults(CONTACTS)])
    with contextlib.suppress(KeyboardInterrupt):
        await SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now).run_pass()
    await SyncEngine(hubspot=hubspot, qbo=qbo, state=state, clock=clock.now).run_pass()
    assert len(hubspot.records) == 3  # the duplicate the real journal prevents
