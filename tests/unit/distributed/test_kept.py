"""`KeptConnections`: a worker keeps its most recently used connections open, at most a
limit, and never closes one in use."""

from __future__ import annotations

import asyncio

import pytest

from ledgerbridge.runtime.distributed.kept import KeptConnections


class Runner:
    def __init__(self) -> None:
        self.open: set[int] = set()
        self.forgotten: list[int] = []
        self.release = asyncio.Event()
        self.hold: set[int] = set()

    async def __call__(self, connection_id: int) -> object:
        self.open.add(connection_id)
        if connection_id in self.hold:
            await self.release.wait()
        return connection_id

    async def forget(self, connection_id: int) -> None:
        assert connection_id in self.open
        self.open.discard(connection_id)
        self.forgotten.append(connection_id)


async def test_the_least_recently_used_beyond_the_limit_are_closed() -> None:
    runner = Runner()
    kept = KeptConnections(runner, limit=2)
    for cid in (1, 2, 1, 3):
        assert await kept(cid) == cid
    assert runner.forgotten == [2]  # 1 was used again after 2
    assert kept.kept == [1, 3] and runner.open == {1, 3}


async def test_a_connection_in_use_is_never_closed() -> None:
    runner = Runner()
    runner.hold = {1}
    kept = KeptConnections(runner, limit=1)
    running = asyncio.create_task(kept(1))
    await asyncio.sleep(0)  # the pass of 1 has started and waits
    await kept(2)  # over the limit, but 1 is in use: 2 (idle) goes
    assert runner.forgotten == [2] and 1 in runner.open
    runner.release.set()
    await running
    assert kept.kept == [1]


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        KeptConnections(Runner(), limit=0)
