"""A name list (customers) kept current between passes by the change reads (issue 18).

Finding the QBO candidates of new HubSpot contacts needs every customer (QBO's query
language cannot compare emails case-insensitively, see `qbo.side.port`): read whole, once
a pass, that is one more QBO request per pass, most of the budget of a connection whose
passes run every second. The mirror reads the list whole once, then applies the records
that each pass's change read returns (CDC or query, deactivations included) and the
results of our own writes. It answers only while that is provably complete:

* it was read whole at `taken_at` (our clock, before the read started);
* the change read of the CURRENT pass asked for everything since a cursor at or before
  `taken_at - SKEW` (QBO's clock may lag ours; transactions commit with a stamp a little
  in the past), so every change after the whole read is in it or in a later one (the
  first change read after a whole read starts there when its cursor is later) — or
  since a cursor at or before the next cursor of the last change read it applied (which
  covered everything since the whole read, by the same rule): the reads form a chain
  with no gap, as each next cursor lags the newest change by `qbo.changes`' overlap;
* every write since then answered (a write whose answer was lost may have happened: the
  mirror is dropped and read whole again).

Otherwise the caller reads the list whole (and the mirror starts again from that read).
Before the chain (session 10), a mirror lasted only until the cursor passed
`taken_at - SKEW`: with a 30-s overlap, half a minute."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

SKEW = dt.timedelta(minutes=1)
MIRRORED = frozenset({"Customer"})


@dataclass
class NameMirror:
    """Every row of one name-list entity, as of the last change read applied."""

    taken_at: dt.datetime
    rows: dict[str, Obj] = field(default_factory=dict)
    current_pass: int = -1
    """The pass whose change read brought it up to date (it answers in that pass only)."""
    cursor: dt.datetime | None = None
    """The next cursor of the last change read applied: a read since it misses nothing."""

    @classmethod
    def from_rows(cls, taken_at: dt.datetime, rows: Iterable[Obj]) -> NameMirror:
        mirror = cls(taken_at)
        mirror.apply(rows)
        return mirror

    def covers(self, since: dt.datetime | None) -> bool:
        """A change read since `since` holds every change after the whole read."""
        if since is None:
            return False
        return since <= self.taken_at - SKEW or (self.cursor is not None and since <= self.cursor)

    def links_back_from(self, since: dt.datetime) -> bool:
        """The first change read after the whole read starts later than it may: it should
        reach back to `taken_at - SKEW` instead (once; a change cursor lags the newest
        change by only `qbo.changes`' overlap, less than `SKEW`)."""
        return self.cursor is None and not self.covers(since)

    def applied(self, rows: Iterable[Obj], next_cursor: dt.datetime, current_pass: int) -> None:
        """A change read that `covers` was applied: its rows, its next cursor, its pass."""
        self.apply(rows)
        self.cursor = next_cursor
        self.current_pass = current_pass

    def apply(self, rows: Iterable[Obj]) -> None:
        """Newer versions of rows (a row QBO reports deleted leaves the list)."""
        for row in rows:
            if "Id" not in row:
                continue
            key = str(row["Id"])
            if str(row.get("status", "")).lower() == "deleted":
                self.rows.pop(key, None)
            else:
                self.rows[key] = row

    def answers(self, current_pass: int) -> bool:
        return self.current_pass == current_pass

    def all_rows(self) -> list[Obj]:
        return list(self.rows.values())
