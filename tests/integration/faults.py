"""Port wrappers that crash a pass at a chosen step (crash-consistency tests)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from ledgerbridge.domain import System
from ledgerbridge.sync.model import Link, RefIndex
from ledgerbridge.sync.payments import PaymentState
from ledgerbridge.sync.ports import (
    Commit,
    SidePort,
    StatePort,
    WriteAction,
    WriteResult,
)
from ledgerbridge.sync.rules import ObjectPair, SyncRule
from tests.support.forwarding import ForwardingSide


class Crash(Exception):
    """The process died here."""


class WriteCounter:
    def __init__(self, crash_after: int | None = None) -> None:
        self.crash_after = crash_after
        self.writes = 0

    def wrote(self) -> None:
        self.writes += 1
        if self.crash_after is not None and self.writes >= self.crash_after:
            raise Crash(f"after write {self.writes}")


class CrashingSide(ForwardingSide):
    """Applies writes one at a time and dies after the counter's n-th write."""

    def __init__(self, inner: SidePort, counter: WriteCounter) -> None:
        super().__init__(inner)
        self.counter = counter

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        results: list[WriteResult] = []
        for action in actions:
            results.extend(await self.inner.apply(rule, [action], refs))
            self.counter.wrote()
        return results


class CrashingState:
    """Dies at the n-th commit: before it (`before`) or after links, records and
    activity were written but before the cursors (`before_cursors`, a store that
    were not atomic)."""

    def __init__(self, inner: StatePort, commit_number: int, where: str) -> None:
        self.inner = inner
        self.commit_number = commit_number
        self.where = where
        self.commits = 0

    async def load_rules(self) -> list[SyncRule]:
        return await self.inner.load_rules()

    async def load_links(self) -> list[Link]:
        return await self.inner.load_links()

    async def load_links_for(
        self,
        object_type: ObjectPair,
        hubspot_ids: Collection[str] = (),
        qbo_ids: Collection[str] = (),
        keys: Collection[str] = (),
    ) -> list[Link]:
        return await self.inner.load_links_for(object_type, hubspot_ids, qbo_ids, keys)

    @property
    def payments(self) -> PaymentState | None:
        return self.inner.payments

    async def load_link_ids(self, object_type: ObjectPair) -> list[tuple[str, str]]:
        return await self.inner.load_link_ids(object_type)

    async def load_refs(self) -> RefIndex:
        return await self.inner.load_refs()

    async def get_cursor(self, side: System, object_type: ObjectPair) -> dt.datetime | None:
        return await self.inner.get_cursor(side, object_type)

    async def commit(self, commit: Commit) -> None:
        self.commits += 1
        if self.commits == self.commit_number:
            if self.where == "before_cursors":
                partial = Commit(commit.object_type, commit.links, commit.records, commit.activity)
                await self.inner.commit(partial)
            raise Crash(f"{self.where} commit {self.commits}")
        await self.inner.commit(commit)

    async def mark_needs_reauth(self, detail: str) -> None:
        await self.inner.mark_needs_reauth(detail)
