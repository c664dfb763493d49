"""Which connections a worker keeps open: the most recently used ones, at most `limit`.

`EngineRunner` keeps every connection's clients (an HTTP client with its keep-alive
sockets, the rate budgets, a refreshed token) and engine between passes. In one embedded
process that is every connection of the installation; a worker of the distributed
runtime may meet any of 10,000. `KeptConnections` wraps the runner as the worker's pass
runner and, after each use, closes the least recently used connections beyond `limit`
(`EngineRunner.forget`) — never one in use (a pass, a reconciliation, a backfill chunk).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Protocol

__all__ = ["KeptConnections"]


class _Runner(Protocol):
    def __call__(self, connection_id: int) -> Awaitable[object]: ...

    async def forget(self, connection_id: int) -> None: ...


class KeptConnections:
    def __init__(self, runner: _Runner, limit: int = 200) -> None:
        if limit < 1:
            raise ValueError("keep at least one connection")
        self._runner = runner
        self.limit = limit
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._in_use: Counter[int] = Counter()

    @property
    def kept(self) -> list[int]:
        """The connections kept open, least recently used first."""
        return list(self._recent)

    @asynccontextmanager
    async def using(self, connection_id: int) -> AsyncIterator[None]:
        """Mark the connection in use (and most recent) for the block."""
        self._in_use[connection_id] += 1
        self._recent.pop(connection_id, None)
        self._recent[connection_id] = None
        try:
            yield
        finally:
            self._in_use[connection_id] -= 1
            if self._in_use[connection_id] <= 0:
                del self._in_use[connection_id]
            await self._trim()

    async def _trim(self) -> None:
        while len(self._recent) > self.limit:
            idle = next((c for c in self._recent if c not in self._in_use), None)
            if idle is None:
                return  # everything beyond the limit is in use: trimmed after
            del self._recent[idle]
            await self._runner.forget(idle)

    async def __call__(self, connection_id: int) -> object:
        """A pass of every rule (`EngineRunner.__call__`), the connection kept meanwhile."""
        async with self.using(connection_id):
            return await self._runner(connection_id)
