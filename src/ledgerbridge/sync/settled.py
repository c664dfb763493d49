"""Records whose last outcome stands until they change: not planned again each pass.

The change readers read again what changed in the last seconds (their overlap: 30 s on
HubSpot, against its search index's lag), and with no newer change the cursor stays
there, so a quiet system reads the same records every pass. A linked record read again
is left out when its version and hash are those of its link (`sync.hashes`). A record
with no link to compare with was planned again every pass: an invoice excluded by a
filter logged "exclude" and counted an attempt every 10 s, and a record that failed
was tried again every pass whatever its retry schedule said (the dashboard showed "next
automatic retry at …" while the activity log showed a try every pass).

`SettledRecords` keeps, per rule, the records whose last outcome was final until they
change: excluded by a filter, skipped for a lasting reason (the rule's direction, voided
or archived before it was synced, changed on the target side of a one-way rule), or
failed. A record read again as it was then (same version and same properties) is left
out of the pass, unless it is due for a retry (a failure's schedule, the user's retry,
or the retry of dependents once what it needed got linked: `RetryState`). A deletion
read again is left out the same way once its outcome was final (skipped as archived
by a rule that does not propagate it, or failed).
Edited rules forget their records (as `SnapshotHashes`); invoices also when the
contacts or products linked changed (an invoice's customer and items are read through
those links). The memory is per process: after a restart each such record is planned
once more.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Final

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.actions import Action, Skip, SkipReason
from ledgerbridge.sync.model import RefIndex, SideRecord
from ledgerbridge.sync.ports import RecordOutcome
from ledgerbridge.sync.rules import ObjectPair, SyncRule

LIMIT: Final = 50_000
"""Records remembered at most (all rules); past it the memory starts afresh."""
LASTING_SKIPS: Final = frozenset(
    {
        SkipReason.DIRECTION,
        SkipReason.ARCHIVED,
        SkipReason.VOIDED,
        SkipReason.ONE_WAY_TARGET,
    }
)
FINAL_STATUSES: Final = frozenset({"excluded", "failed"})


def fingerprint(record: SideRecord) -> str:
    """The record as read: its version and its properties (two HubSpot edits may share
    a millisecond `updatedAt`; the properties tell them apart)."""
    raw = json.dumps(dict(record.raw), sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.blake2b(raw.encode("utf-8"), digest_size=16).hexdigest()
    return f"{record.version}|{digest}"


def _refs_key(pair: ObjectPair, refs: RefIndex) -> tuple[int, int, str | None]:
    if pair is not ObjectPair.INVOICES_INVOICES:
        return (0, 0, None)
    return (len(refs.contacts), len(refs.products), refs.custom_line_item_id)


class SettledRecords:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._rules: dict[ObjectPair, tuple[str, tuple[int, int, str | None]]] = {}
        self._seen: dict[tuple[ObjectPair, RecordRef], str] = {}

    def begin(self, rule: SyncRule, refs: RefIndex) -> None:
        """Before `rule`'s records in a pass: forget them if the rule (or, for invoices,
        the links they are read through) changed since."""
        key = (rule.model_dump_json(exclude={"enabled"}), _refs_key(rule.object_pair, refs))
        if self._rules.get(rule.object_pair) != key:
            self._rules[rule.object_pair] = key
            self._seen = {k: v for k, v in self._seen.items() if k[0] is not rule.object_pair}

    def drop(
        self, rule: SyncRule, records: dict[System, list[SideRecord]], due: set[RecordRef]
    ) -> int:
        """Leave out of `records` those read again as they were at their final outcome;
        how many were left out."""
        pair = rule.object_pair
        left = 0
        for side in System:
            kept = []
            for r in records[side]:
                known = self._seen.get((pair, r.ref))
                if known is not None and r.ref not in due and known == fingerprint(r):
                    left += 1
                    continue
                kept.append(r)
            records[side] = kept
        return left

    def note(
        self,
        rule: SyncRule,
        actions: Sequence[Action],
        outcomes: Iterable[RecordOutcome],
        seen: dict[RecordRef, SideRecord],
    ) -> None:
        """Remember the records of this pass whose outcome is final until they change;
        forget those planned to anything else."""
        pair = rule.object_pair
        outcomes = list(outcomes)
        final: set[RecordRef] = {
            a.ref for a in actions if isinstance(a, Skip) and a.reason in LASTING_SKIPS
        }
        final.update(o.ref for o in outcomes if o.status in FINAL_STATUSES)
        if not final and not self._seen:
            return  # nothing to remember or forget (a backfill's pages, most live passes)
        other = {o.ref for o in outcomes if o.status not in FINAL_STATUSES}
        for ref in other - final:
            self._seen.pop((pair, ref), None)
        for ref in final - other:
            record = seen.get(ref)
            if record is None:
                continue
            if len(self._seen) >= self.limit:
                self._seen.clear()
            self._seen[(pair, ref)] = fingerprint(record)
