"""Fakes for the runtime tests: a clock that only moves when told, a directory, a runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from ledgerbridge.store import ConnectionStatus
from ledgerbridge.sync.rules import ObjectPair


class FakeTime:
    """`clock()` and `sleep()` for the runtime; `advance()` wakes the sleepers that are due."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self.now + seconds, future)
        self.sleepers.append(entry)
        try:
            await future
        finally:
            self.sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, future in list(self.sleepers):
            if deadline <= self.now and not future.done():
                future.set_result(None)


async def until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    """Let the event loop (and its worker threads) run until `condition()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    await asyncio.sleep(0)
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)


class FakeDirectory:
    def __init__(self, statuses: dict[int, ConnectionStatus]) -> None:
        self.statuses = dict(statuses)
        self.status_reads = 0
        self.reauth_marks: list[tuple[int, str]] = []

    def connection_ids(self) -> list[int]:
        return [cid for cid, s in self.statuses.items() if s is not ConnectionStatus.PAUSED]

    def status(self, connection_id: int) -> ConnectionStatus | None:
        self.status_reads += 1
        return self.statuses.get(connection_id)

    def mark_needs_reauth(self, connection_id: int, detail: str) -> None:
        self.reauth_marks.append((connection_id, detail))
        self.statuses[connection_id] = ConnectionStatus.NEEDS_REAUTH


class FakeRunner:
    """Records passes; a pass can be held open (`hold`) or made to fail (`error`)."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.scopes: list[frozenset[ObjectPair] | None] = []
        self.known: list[Mapping[ObjectPair, frozenset[str]] | None] = []
        self.finished: list[int] = []
        self.running = 0
        self.error: BaseException | None = None
        self.gate: asyncio.Event | None = None
        self.result: object = None
        """What a pass returns (the engine runner returns its `PassReport`)."""

    def hold(self) -> asyncio.Event:
        self.gate = asyncio.Event()
        return self.gate

    def count(self, connection_id: int = 1) -> int:
        return self.calls.count(connection_id)

    async def __call__(
        self,
        connection_id: int,
        *,
        only: frozenset[ObjectPair] | None = None,
        known: Mapping[ObjectPair, frozenset[str]] | None = None,
    ) -> object:
        self.calls.append(connection_id)
        self.scopes.append(only)
        self.known.append(known)
        self.running += 1
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.error is not None:
                raise self.error
        finally:
            self.running -= 1
        self.finished.append(connection_id)
        return self.result
