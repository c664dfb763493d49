"""The backfill window as a port: one side's records in creation order, a page at a time.

The connector sides implement `WindowReader` (`hubspot.side.window`, `qbo.side.window`)
and offer it through `SidePort.capabilities.window`; `operations.backfill` pages it by
keyset (`operations.backfill.position`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ledgerbridge.sync.model import SideRecord
from ledgerbridge.sync.rules import SyncRule

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
Keep = Callable[[str], bool]
"""Which ids a reader decodes into records (the others come back as bare entries)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One record of a window page: its id, creation time, and the record (None when
    the reader was told not to decode it)."""

    id: str
    created: dt.datetime
    record: SideRecord | None
    tie: bool = False
    """Read by `WindowReader.tie` (a crowded second, walked in id order)."""


def id_order(record_id: str) -> tuple[int, int, str]:
    """How the services order ids: numerically (QBO's IdType, HubSpot's hs_object_id)."""
    return (0, int(record_id), "") if record_id.isdigit() else (1, 0, record_id)


@dataclass(frozen=True, slots=True)
class Span:
    """What a window read is over: the records of `rule` created up to `until` (None: no
    end); `keep` says which ids to decode into records (None: all)."""

    rule: SyncRule
    until: dt.datetime | None = None
    keep: Keep | None = None

    def wanted(self, record_id: str) -> bool:
        return self.keep is None or self.keep(record_id)


class WindowReader(Protocol):
    """One side's records in creation order (`Entry.created`, then as the service sorts)."""

    max_page: int

    def floor(self, moment: dt.datetime) -> dt.datetime:
        """`moment` at the precision the service compares creation times."""
        ...

    async def query(
        self, span: Span, after: dt.datetime, limit: int, *, strict: bool = False
    ) -> list[Entry]:
        """Up to `limit` records created at (unless `strict`) or after `after`."""
        ...

    async def tie(self, span: Span, at: dt.datetime, *, after: str, limit: int) -> list[Entry]:
        """Up to `limit` records created exactly at `at` (a crowded second) with an id
        after `after` ("" : from the first), in id order (`id_order`), as `tie` entries."""
        ...

    async def count(self, span: Span, after: dt.datetime) -> int: ...
