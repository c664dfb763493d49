"""`ConnectionPasses`: generations, backoff, refused grants and hand-overs, on a real SQLite
store with a scripted pass runner and in-memory locks (the PostgreSQL locks and real
passes are in tests/integration/distributed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from ledgerbridge.runtime.distributed.passes import ConnectionPasses, Outcome
from ledgerbridge.store import ConnectionStatus, Store, TokenCipher, generate_key
from ledgerbridge.store.locks import PassState, pass_state, request_pass
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory, TransientError


class Locks:
    def __init__(self) -> None:
        self.held: set[int] = set()

    def try_acquire(self, key: int) -> bool:
        if key in self.held:
            return False
        self.held.add(key)
        return True

    def release(self, key: int) -> bool:
        self.held.discard(key)
        return True


class Script:
    """The pass runner: runs `steps` in turn (an exception is raised, a callable called)."""

    def __init__(self, *steps: BaseException | Callable[[], None] | None) -> None:
        self.steps = list(steps)
        self.calls = 0

    async def __call__(self, connection_id: int) -> None:
        self.calls += 1
        step = self.steps.pop(0) if self.steps else None
        if isinstance(step, BaseException):
            raise step
        if step is not None:
            step()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        tx.create_connection(name="c", hubspot_base_url="http://h", qbo_base_url="http://q")
    return store


def ask(store: Store, cid: int = 1) -> None:
    with store.begin() as tx:
        request_pass(tx, cid)


def state(store: Store, cid: int = 1) -> PassState:
    with store.begin() as tx:
        found = pass_state(tx, cid)
    assert found is not None
    return found


Requeued = list[tuple[int, dt.datetime | None]]


def passes_over(
    store: Store, runner: Script, locks: Locks | None = None
) -> tuple[ConnectionPasses, Requeued]:
    requeued: Requeued = []

    async def requeue(cid: int, at: dt.datetime | None) -> None:
        requeued.append((cid, at))

    return ConnectionPasses(store, locks or Locks(), runner, requeue=requeue), requeued


async def test_nothing_asked_is_no_pass_and_an_ask_is_one(store: Store) -> None:
    runner = Script()
    passes, _ = passes_over(store, runner)
    assert await passes.sync(1) is Outcome.NOTHING
    ask(store)
    assert await passes.sync(1) is Outcome.PASSED
    assert await passes.sync(1) is Outcome.NOTHING
    assert runner.calls == 1
    assert state(store).done == state(store).requested == 1


async def test_a_change_during_the_pass_gets_exactly_one_more(store: Store) -> None:
    runner = Script(lambda: ask(store), None)
    passes, _ = passes_over(store, runner)
    ask(store)
    assert await passes.sync(1) is Outcome.PASSED
    assert runner.calls == 2
    assert state(store).done == 2 and state(store).passes == 2


async def test_a_job_that_finds_the_lock_held_leaves_its_ask_to_the_holder(store: Store) -> None:
    locks = Locks()
    runner = Script()
    holder, _ = passes_over(store, runner, locks)
    other, _ = passes_over(store, runner, locks)
    ask(store)

    def second_job_meanwhile() -> None:
        ask(store)  # a webhook, whose job runs while the holder's pass does: it finds
        assert locks.try_acquire(1) is False  # the lock held, and returns (BUSY)

    runner.steps = [second_job_meanwhile, None]
    assert await holder.sync(1) is Outcome.PASSED
    assert runner.calls == 2 and not state(store).pending
    assert await other.sync(1) is Outcome.NOTHING


async def test_a_failed_pass_backs_off_and_queues_its_retry_for_then(store: Store) -> None:
    runner = Script(TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "QBO is down"))
    passes, requeued = passes_over(store, runner)
    ask(store)
    before = dt.datetime.now(dt.UTC)
    with pytest.raises(TransientError):
        await passes.sync(1)
    failed = state(store)
    assert failed.failures == 1 and failed.pending and failed.last_error
    assert failed.not_before is not None
    assert dt.timedelta(seconds=4) < failed.not_before - before < dt.timedelta(seconds=6)
    assert requeued == [(1, failed.not_before)]
    # A webhook's job before the end of the backoff does not pass; it queues the retry.
    ask(store)
    assert await passes.sync(1) is Outcome.BACKING_OFF
    assert runner.calls == 1 and requeued[-1] == (1, failed.not_before)


async def test_a_retry_after_longer_than_the_backoff_is_honoured(store: Store) -> None:
    passes, _ = passes_over(
        store, Script(TransientError(ErrorCategory.RATE_LIMITED, "429", retry_after=120.0))
    )
    ask(store)
    with pytest.raises(TransientError):
        await passes.sync(1)
    not_before = state(store).not_before
    assert not_before is not None
    assert not_before - dt.datetime.now(dt.UTC) > dt.timedelta(seconds=110)


async def test_a_refused_grant_marks_the_connection_and_it_is_left_alone(store: Store) -> None:
    runner = Script(AuthenticationError("invalid_grant"))
    passes, requeued = passes_over(store, runner)
    ask(store)
    assert await passes.sync(1) is Outcome.NEEDS_REAUTH
    with store.begin() as tx:
        connection = tx.get_connection(1)
    assert connection is not None and connection.status is ConnectionStatus.NEEDS_REAUTH
    assert requeued == []  # no retry
    ask(store)
    assert await passes.sync(1) is Outcome.INACTIVE
    assert runner.calls == 1


async def test_a_connection_that_keeps_changing_is_handed_to_a_fresh_job(store: Store) -> None:
    runner = Script(*(lambda: ask(store) for _ in range(5)))
    passes, requeued = passes_over(store, runner)
    ask(store)
    assert await passes.sync(1) is Outcome.REQUEUED
    assert runner.calls == passes.max_passes
    assert requeued == [(1, None)] and state(store).pending
