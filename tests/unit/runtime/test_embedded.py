"""The embedded runtime under a fake clock: wakes, polling, backoff, stop, needs_reauth."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from ledgerbridge.runtime.embedded import EmbeddedRuntime, RuntimeOptions
from ledgerbridge.runtime.pacing import Pacer
from ledgerbridge.store import ConnectionStatus
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory, TransientError
from ledgerbridge.sync.report import PassReport
from ledgerbridge.sync.rules import ObjectPair
from tests.unit.runtime.fakes import FakeDirectory, FakeRunner, FakeTime, until

ACTIVE = ConnectionStatus.ACTIVE


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
def directory() -> FakeDirectory:
    return FakeDirectory({1: ACTIVE})


def make_runtime(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime, **options: float
) -> EmbeddedRuntime:
    return EmbeddedRuntime(
        runner,
        directory,
        options=RuntimeOptions(**options),
        clock=clock.clock,
        sleep=clock.sleep,
    )


@contextlib.asynccontextmanager
async def running(runtime: EmbeddedRuntime) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(runtime.run())
    try:
        yield task
    finally:
        runtime.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)


def idle(clock: FakeTime, sleepers: int) -> bool:
    """Every task waits on the fake clock (supervisor + one per idle connection)."""
    return len(clock.sleepers) == sleepers


def draining(clock: FakeTime, stop_timeout: float) -> bool:
    """Only the drain's stop-timeout timer sleeps: the runtime waits for the pass in flight."""
    return [deadline for deadline, _ in clock.sleepers] == [clock.now + stop_timeout]


async def test_first_pass_at_start_then_a_burst_of_wakes_coalesces_into_one_pass(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runtime = make_runtime(runner, directory, clock)
    gate = runner.hold()
    async with running(runtime):
        await until(lambda: runner.running == 1)  # the start-up pass is in flight
        for _ in range(25):
            runtime.wake(1)
        runner.gate = None
        gate.set()
        await until(lambda: runner.count() == 2 and idle(clock, 2))
        assert runner.count() == 2  # 25 wakes during a pass → exactly one more pass
        for _ in range(5):
            runtime.wake(1)
        await until(lambda: runner.count() == 3 and idle(clock, 2))
        assert runner.calls == [1, 1, 1]


async def test_a_pass_runs_every_poll_interval_without_wakes(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runtime = make_runtime(runner, directory, clock, poll_interval=60)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))
        clock.advance(59)
        await until(lambda: idle(clock, 2))
        assert runner.count() == 1
        clock.advance(1)
        await until(lambda: runner.count() == 2 and idle(clock, 2))
        clock.advance(60)
        await until(lambda: runner.count() == 3 and idle(clock, 2))


async def test_cancelling_the_runtime_finishes_the_pass_in_flight_and_starts_no_other(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runtime = make_runtime(runner, directory, clock, stop_timeout=45)
    gate = runner.hold()
    task = asyncio.create_task(runtime.run())
    await until(lambda: runner.running == 1)
    runtime.wake(1)  # a pending pass that must not start after the stop
    task.cancel()  # what serve_all does on SIGTERM
    await until(lambda: draining(clock, 45))
    assert not task.done() and runner.finished == []
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    assert runner.finished == [1]
    assert runner.calls == [1]


async def test_stop_waits_for_the_pass_in_flight(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runtime = make_runtime(runner, directory, clock, stop_timeout=45)
    gate = runner.hold()
    task = asyncio.create_task(runtime.run())
    await until(lambda: runner.running == 1)
    runtime.stop()
    await until(lambda: draining(clock, 45))
    assert not task.done()
    gate.set()
    await asyncio.wait_for(task, timeout=5)
    assert runner.finished == [1] and runner.calls == [1]


async def test_a_pass_that_outlives_the_stop_timeout_is_cancelled(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runtime = make_runtime(runner, directory, clock, stop_timeout=30)
    runner.hold()
    task = asyncio.create_task(runtime.run())
    await until(lambda: runner.running == 1)
    runtime.stop()
    await until(lambda: draining(clock, 30))
    clock.advance(30)
    await asyncio.wait_for(task, timeout=5)
    assert runner.finished == [] and runner.running == 0


async def test_failing_passes_back_off_exponentially_and_wakes_do_not_shorten_it(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runner.error = RuntimeError("boom")
    runtime = make_runtime(runner, directory, clock, backoff_base=5, poll_interval=60)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))
        for _ in range(10):
            runtime.wake(1)  # a webhook storm during the backoff
        clock.advance(4)
        await until(lambda: idle(clock, 2))
        assert runner.count() == 1  # not before 5 s
        clock.advance(1)
        await until(lambda: runner.count() == 2 and idle(clock, 2))  # retried (wakes coalesced)
        clock.advance(9)
        await until(lambda: idle(clock, 2))
        assert runner.count() == 2  # second backoff: 10 s
        clock.advance(1)
        await until(lambda: runner.count() == 3 and idle(clock, 2))
        stats = runtime.stats(1)
        assert stats is not None
        assert stats.failures_in_row == 3 and stats.last_error == "RuntimeError: boom"
        runner.error = None
        clock.advance(20)
        await until(lambda: runner.count() == 4 and idle(clock, 2))
        assert stats.failures_in_row == 0 and stats.passes == 1
        clock.advance(59)  # success: back to the poll interval
        await until(lambda: idle(clock, 2))
        assert runner.count() == 4


async def test_backoff_is_capped_and_honours_retry_after() -> None:
    options = RuntimeOptions(backoff_base=5, backoff_max=900)
    assert [options.backoff(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert options.backoff(50) == 900

    clock, runner, directory = FakeTime(), FakeRunner(), FakeDirectory({1: ACTIVE})
    runner.error = TransientError(ErrorCategory.RATE_LIMITED, "429", retry_after=120)
    runtime = make_runtime(runner, directory, clock)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))
        clock.advance(119)
        await until(lambda: idle(clock, 2))
        assert runner.count() == 1
        clock.advance(1)
        await until(lambda: runner.count() == 2)


async def test_an_authentication_failure_marks_needs_reauth_and_is_not_hammered(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runner.error = AuthenticationError("the refresh token expired")
    runtime = make_runtime(runner, directory, clock, poll_interval=60)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))
        assert directory.reauth_marks == [(1, "the refresh token expired")]
        stats = runtime.stats(1)
        assert stats is not None and stats.skipped == 0
        for round_ in range(3):
            for _ in range(20):
                runtime.wake(1)  # a burst: one status read, no pass
            await until(lambda r=round_: stats.skipped == 2 * r + 1 and idle(clock, 2))
            clock.advance(60)  # the poll interval: one status read, no pass
            await until(lambda r=round_: stats.skipped == 2 * r + 2 and idle(clock, 2))
        assert runner.count() == 1  # no pass at all while the grant is broken
        # `ledgerbridge connect` makes the connection active again: the next wake syncs.
        runner.error = None
        directory.statuses[1] = ACTIVE
        runtime.wake(1)
        await until(lambda: runner.count() == 2 and idle(clock, 2))


async def test_connections_that_are_not_active_never_run(clock: FakeTime) -> None:
    runner = FakeRunner()
    directory = FakeDirectory(
        {1: ConnectionStatus.NEEDS_REAUTH, 2: ConnectionStatus.PAUSED, 3: ACTIVE}
    )
    runtime = make_runtime(runner, directory, clock)
    async with running(runtime):
        await until(lambda: runner.count(3) == 1 and idle(clock, 3))
        runtime.wake(1)
        runtime.wake(2)
        await until(lambda: idle(clock, 4))
        clock.advance(3600)
        await until(lambda: runner.count(3) == 2 and idle(clock, 4))
        assert set(runner.calls) == {3}


async def test_a_wake_for_a_new_connection_starts_its_worker(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runtime = make_runtime(runner, directory, clock)
    async with running(runtime):
        await until(lambda: runner.count(1) == 1 and idle(clock, 2))
        directory.statuses[2] = ACTIVE  # created by `ledgerbridge connect` meanwhile
        runtime.wake(2)
        await until(lambda: runner.count(2) == 1 and idle(clock, 3))


async def test_the_supervisor_picks_up_new_connections_every_poll_interval(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runtime = make_runtime(runner, directory, clock, poll_interval=60)
    async with running(runtime):
        await until(lambda: runner.count(1) == 1 and idle(clock, 2))
        directory.statuses[7] = ACTIVE
        clock.advance(60)
        await until(lambda: runner.count(7) == 1 and runner.count(1) == 2 and idle(clock, 3))


async def test_a_deleted_connection_stops_its_worker(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runtime = make_runtime(runner, directory, clock)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))
        del directory.statuses[1]
        runtime.wake(1)
        await until(lambda: idle(clock, 1))
        assert runner.count() == 1


async def test_daily_reconciliation_runs_after_a_pass_once_a_day() -> None:
    clock, runner, directory = FakeTime(), FakeRunner(), FakeDirectory({1: ACTIVE})
    reconciled: list[tuple[int, float]] = []

    async def reconcile(connection_id: int) -> None:
        reconciled.append((connection_id, clock.now))

    runtime = EmbeddedRuntime(
        runner,
        directory,
        options=RuntimeOptions(poll_interval=3600, reconcile_interval=86_400),
        reconcile=reconcile,
        clock=clock.clock,
        sleep=clock.sleep,
    )
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))
        for hour in range(1, 49):
            clock.advance(3600)
            await until(lambda h=hour: runner.count() == h + 1 and idle(clock, 2))
        assert reconciled == [(1, 86_400.0), (1, 172_800.0)]


async def test_a_failing_on_pass_listener_or_reconcile_does_not_kill_the_worker() -> None:
    clock, runner, directory = FakeTime(), FakeRunner(), FakeDirectory({1: ACTIVE})

    async def reconcile(connection_id: int) -> None:
        raise RuntimeError("reconcile broke")

    def listener(connection_id: int, error: BaseException | None) -> None:
        raise RuntimeError("listener broke")

    runtime = EmbeddedRuntime(
        runner,
        directory,
        options=RuntimeOptions(poll_interval=10, reconcile_interval=5),
        reconcile=reconcile,
        clock=clock.clock,
        sleep=clock.sleep,
        on_pass=listener,
    )
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))
        clock.advance(10)
        await until(lambda: runner.count() == 2 and idle(clock, 2))
        clock.advance(10)
        await until(lambda: runner.count() == 3 and idle(clock, 2))
        stats = runtime.stats(1)
        assert stats is not None and stats.passes == 3 and stats.reconciliations == 0


async def test_a_wake_naming_object_pairs_runs_only_their_rules_and_keeps_the_poll(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    contacts, invoices = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.INVOICES_INVOICES
    runtime = make_runtime(runner, directory, clock, poll_interval=60)
    gate = runner.hold()
    async with running(runtime):
        await until(lambda: runner.running == 1)  # the start-up pass: every rule
        runtime.wake(1, {contacts})
        runtime.wake(1, {invoices})  # coalesces with the first
        runner.gate = None
        gate.set()
        await until(lambda: runner.count() == 2 and idle(clock, 2))
        assert runner.scopes == [None, frozenset({contacts, invoices})]
        clock.advance(30)
        runtime.wake(1, {contacts})
        await until(lambda: runner.count() == 3 and idle(clock, 2))
        runtime.wake(1, set())  # objects no rule syncs: no pass
        await until(lambda: idle(clock, 2))
        assert runner.count() == 3
        clock.advance(30)  # 60 s after the full pass: scoped passes did not postpone it
        await until(lambda: runner.count() == 4 and idle(clock, 2))
        runtime.wake(1, {contacts})
        runtime.wake(1)  # a wake without pairs widens the next pass to every rule
        await until(lambda: runner.count() == 5 and idle(clock, 2))
        assert runner.scopes[2:] == [frozenset({contacts}), None, None]


async def test_wakes_within_the_coalesce_window_of_the_oldest_make_one_pass(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    contacts, items = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS
    runtime = make_runtime(runner, directory, clock, poll_interval=60, coalesce=0.4)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))  # the start-up pass
        runtime.wake(1, {contacts})
        await until(lambda: idle(clock, 2))
        assert runner.count() == 1  # gathering: no pass yet
        for _ in range(3):  # a steady stream of wakes does not postpone the pass
            clock.advance(0.1)
            runtime.wake(1, {items})
            await until(lambda: idle(clock, 2))
        assert runner.count() == 1
        clock.advance(0.1)  # 0.4 s after the oldest wake
        await until(lambda: runner.count() == 2 and idle(clock, 2))
        assert runner.scopes == [None, frozenset({contacts, items})]


async def test_a_pair_is_read_by_id_only_when_every_wake_gathered_for_it_named_its_records(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    c, i = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS
    Wake = tuple[set[ObjectPair] | None, dict[ObjectPair, frozenset[str]] | None]

    async def known_after(runtime: EmbeddedRuntime, *wakes: Wake) -> object:
        """The `known` of the one pass these wakes (within one window) make."""
        passes = runner.count() + 1
        for pairs, known in wakes:
            runtime.wake(1, pairs, known)
        clock.advance(0.4)
        await until(lambda: runner.count() == passes and idle(clock, 2))
        return runner.known[-1]

    runtime = make_runtime(runner, directory, clock, poll_interval=60, coalesce=0.4)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))  # the start-up pass
        ids = frozenset({"1", "2"})
        assert await known_after(
            runtime, ({c}, {c: frozenset({"1"})}), ({c, i}, {c: frozenset({"2"}), i: frozenset()})
        ) == {c: ids, i: frozenset()}
        assert runner.scopes[-1] == frozenset({c, i})
        # One wake for contacts without ids (a deletion, say): contacts are searched,
        # whatever the other wakes of the same pass named.
        assert await known_after(
            runtime,
            ({c}, {c: frozenset({"3"})}),
            ({c}, None),
            ({c, i}, {c: frozenset({"4"}), i: frozenset({"5"})}),
        ) == {i: frozenset({"5"})}
        # Nothing is carried over: the next wake's ids are its own.
        assert await known_after(runtime, ({c}, {c: frozenset({"6"})})) == {c: frozenset({"6"})}
        # A wake without pairs makes a full pass: it searches every rule.
        assert await known_after(runtime, ({c}, {c: frozenset({"7"})}), (None, None)) is None
        assert runner.scopes[-1] is None


async def test_wakes_during_a_pass_wait_only_what_is_left_of_their_window(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    runtime = make_runtime(runner, directory, clock, poll_interval=60, coalesce=0.4)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))
        runtime.wake(1, {ObjectPair.CONTACTS_CUSTOMERS})
        gate = runner.hold()
        clock.advance(0.4)
        await until(lambda: runner.running == 1)  # the second pass is in flight
        runtime.wake(1, {ObjectPair.CONTACTS_CUSTOMERS})
        clock.advance(0.5)  # the pass outlives the new wake's window
        runner.gate = None
        gate.set()
        # The wake's window ran out during the pass: the next pass starts at once.
        await until(lambda: runner.count() == 3 and idle(clock, 2))
        assert clock.now == pytest.approx(0.9)


class FlakyDirectory(FakeDirectory):
    """A store that cannot be read for its first `failures` reads of each kind."""

    def __init__(self, failures: int) -> None:
        super().__init__({1: ACTIVE})
        self.list_failures = self.status_failures = failures

    def connection_ids(self) -> list[int]:
        if self.list_failures:
            self.list_failures -= 1
            raise OSError("database is locked")
        return super().connection_ids()

    def status(self, connection_id: int) -> ConnectionStatus | None:
        if self.status_failures:
            self.status_failures -= 1
            raise OSError("database is locked")
        return super().status(connection_id)


async def test_a_store_that_cannot_be_read_for_a_while_stops_neither_runtime_nor_worker(
    runner: FakeRunner, clock: FakeTime
) -> None:
    directory = FlakyDirectory(failures=1)
    runtime = make_runtime(runner, directory, clock, poll_interval=60, backoff_base=5)
    async with running(runtime) as task:
        await until(lambda: idle(clock, 1))  # the listing failed: no worker yet
        assert runner.count() == 0 and not task.done()
        clock.advance(60)  # the next poll lists the connection; its status read fails
        await until(lambda: directory.status_failures == 0 and idle(clock, 2))
        assert runner.count() == 0 and not task.done()
        clock.advance(5)  # retried after the backoff: a full pass
        await until(lambda: runner.count() == 1 and idle(clock, 2))
        assert runner.scopes == [None]
        stats = runtime.stats(1)
        assert stats is not None and stats.failures == 1 and stats.passes == 1


async def test_a_steady_stream_of_qbo_writes_lengthens_the_gathering(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    class Busy(PassReport):
        @property
        def qbo_writes(self) -> int:  # ~20 QBO writes a second at a pass every 0.65 s
            return 13

    contacts = ObjectPair.CONTACTS_CUSTOMERS
    runner.result = Busy(qbo_reads=1)
    runtime = make_runtime(runner, directory, clock, poll_interval=600, coalesce=0.6, qbo_share=0.6)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))  # the start-up pass
        paced_from = None
        for n in range(2, 30):  # passes woken 0.05 s after the last one, 0.6 s each
            clock.advance(0.05)
            runtime.wake(1, {contacts})
            await until(lambda: idle(clock, 2))
            clock.advance(0.6)

            def gathering_longer() -> bool:
                return any(clock.now < deadline < 600 for deadline, _ in clock.sleepers)

            await until(lambda n=n: runner.count() == n or gathering_longer())
            if runner.count() < n:  # no pass 0.6 s after the wake: the wait grew
                paced_from = n
                break
            await until(lambda: idle(clock, 2))
        # Pacing needs 5 passes over 5 s (the start-up pass at 0, then one each 0.65 s).
        assert paced_from is not None and paced_from >= 9
        clock.advance(0.35)  # 0.95 s after the wake: ~20 writes a second want ≥ 1 s
        await until(gathering_longer)
        assert runner.count() == paced_from - 1
        clock.advance(1.05)  # 2 s after the wake: the longest wait
        await until(lambda: runner.count() == paced_from and idle(clock, 2))


async def test_without_a_share_the_gathering_stays_as_set(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    class Busy(PassReport):
        @property
        def qbo_writes(self) -> int:
            return 13

    contacts = ObjectPair.CONTACTS_CUSTOMERS
    runner.result = Busy(qbo_reads=1)
    runtime = make_runtime(runner, directory, clock, poll_interval=600, coalesce=0.6)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))
        for n in range(2, 16):
            clock.advance(0.05)
            runtime.wake(1, {contacts})
            await until(lambda: idle(clock, 2))
            clock.advance(0.6)
            await until(lambda n=n: runner.count() == n and idle(clock, 2))


async def test_a_paced_gathering_is_not_cut_short_by_the_poll(
    runner: FakeRunner, directory: FakeDirectory, clock: FakeTime
) -> None:
    class Paced(Pacer):
        def coalesce(self, now: float) -> float:
            self.pacing = True
            return 1.5

    runtime = make_runtime(runner, directory, clock, poll_interval=5, coalesce=0.6, qbo_share=0.6)
    async with running(runtime):
        await until(lambda: runner.count() == 1 and idle(clock, 2))  # the start-up pass
        runtime._workers[1].pacer = Paced(0.6)
        clock.advance(4.0)
        runtime.wake(1, {ObjectPair.CONTACTS_CUSTOMERS})
        await until(lambda: any(5.4 < d < 5.6 for d, _ in clock.sleepers))
        clock.advance(1.0)  # the poll is due at 5: the gathering goes on until 5.5
        await until(lambda: any(5.4 < d < 5.6 for d, _ in clock.sleepers))
        assert runner.count() == 1
        clock.advance(0.5)
        await until(lambda: runner.count() == 2 and idle(clock, 2))
        assert runner.scopes[-1] is None  # the poll's full pass, with the gathered wakes
