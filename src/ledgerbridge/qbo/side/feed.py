"""One QBO change read per pass for every entity it reads (issue 18).

A full pass reads customers, items, invoices and payments, each rule with its own
cursor: four `GET /cdc` of 500 a minute, every poll. `CDC` takes a list of entities, so
before the pass the runtime asks for all of them at once (`prefetch`), since the
earliest of their cursors, and each rule's change read then takes its entity's part
(`take`), as `qbo.changes.read_changes` would have answered it:

* the records of that entity changed at or after that rule's own cursor (re-reading is
  harmless; skipping is not, so a record without a stamp is kept);
* the next cursor computed from them as for a read of that entity alone, except for an
  entity with no change: a single CDC answer (not one capped and asked again) that holds
  changes of another entity says nothing of this one changed up to the newest of them, so
  its cursor is that stamp minus the overlap, not our clock minus `IDLE_LAG` (QBO's clock,
  so no skew). Otherwise a quiet entity's cursor, five minutes behind, drags the one read
  of every entity back five minutes: at 10 customer changes a second, 3,000 of them, past
  CDC's cap, then each entity again and the customers' query pages (7 requests a full
  pass instead of 1, measured over 240 s of scenario (c)).

A part is served once, only to a read with the very cursor it was fetched for, and only
until `clear()` (the runtime clears the feed after the pass): a later pass always reads
again. When fewer than two entities have a cursor, or the earliest is past CDC's
look-back (each entity is then read by query anyway), nothing is fetched.
`qbo.changes.read_changes` does the read, with its handling of CDC's 1,000-object cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ledgerbridge.qbo import changes as qbo_changes


@dataclass(frozen=True, slots=True)
class _Part:
    since: dt.datetime
    change_set: qbo_changes.ChangeSet


class ChangeFeed:
    def __init__(
        self,
        client: qbo_changes.ChangeSource,
        clock: Callable[[], dt.datetime],
        overlap: dt.timedelta = qbo_changes.DEFAULT_OVERLAP,
    ) -> None:
        self.client = client
        self.clock = clock
        self.overlap = overlap
        self._parts: dict[str, _Part] = {}

    async def prefetch(self, wanted: Mapping[str, dt.datetime | None]) -> None:
        """Read the changes of every entity of `wanted` (entity → its cursor) in one go."""
        self._parts = {}
        usable = {entity: since for entity, since in wanted.items() if since is not None}
        if len(usable) < 2:
            return
        earliest, now = min(usable.values()), self.clock()
        if earliest < now - qbo_changes.CDC_WINDOW + dt.timedelta(minutes=1):
            return
        found = await qbo_changes.read_changes(
            self.client, sorted(usable), earliest, now, overlap=self.overlap
        )
        stamps = [r.last_updated for r in found.records if r.last_updated is not None]
        newest = max(stamps) if stamps and found.one_answer else None
        for entity, since in usable.items():
            records = [
                r
                for r in found.records
                if r.entity == entity and (r.last_updated is None or r.last_updated >= since)
            ]
            cursor = qbo_changes.next_cursor(records, since, now, self.overlap)
            if not records and newest is not None:
                # Quiet beside a busy one: one answer says nothing of it changed up to the
                # newest change of any (QBO's clock), so its cursor follows that one.
                cursor = max(cursor, newest - self.overlap)
            change_set = qbo_changes.ChangeSet(records, cursor, found.method)
            self._parts[entity] = _Part(since, change_set)

    def take(self, entity: str, since: dt.datetime | None) -> qbo_changes.ChangeSet | None:
        """The prefetched changes of `entity` for a read since `since` (None: read them)."""
        part = self._parts.pop(entity, None)
        if part is None or since is None or part.since != since:
            return None
        return part.change_set

    def clear(self) -> None:
        self._parts = {}
