"""`ForwardingSide`: a `SidePort` that passes every call to the side it wraps.

The test suites' wrappers around a side (crashing, recording, plain forwarding) subclass
it and override only the calls they change, so none restates the port and none forgets
to forward a method or the side's `capabilities`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from ledgerbridge.domain import System
from ledgerbridge.sync.model import RefIndex, SideRecord
from ledgerbridge.sync.ports import Capabilities, Changes, SidePort, WriteAction, WriteResult
from ledgerbridge.sync.rules import SyncRule


class ForwardingSide:
    def __init__(self, inner: SidePort) -> None:
        self.inner = inner
        self.capabilities: Capabilities = inner.capabilities

    @property
    def system(self) -> System:
        return self.inner.system

    async def read_changes(
        self, rule: SyncRule, since: dt.datetime | None, refs: RefIndex
    ) -> Changes:
        return await self.inner.read_changes(rule, since, refs)

    async def read_records(
        self, rule: SyncRule, ids: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        return await self.inner.read_records(rule, ids, refs)

    async def find_candidates(
        self, rule: SyncRule, keys: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        return await self.inner.find_candidates(rule, keys, refs)

    async def display_names(self) -> frozenset[str]:
        return await self.inner.display_names()

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        return await self.inner.apply(rule, actions, refs)
