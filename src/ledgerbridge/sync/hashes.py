"""Snapshot hashes of QBO records kept by (rule, id, SyncToken) across passes (issue 18).

A live pass reads QBO's changes of the last 30 s again (`qbo.changes`' overlap), so
most records it reads are ones it has seen, unchanged; telling them from real changes
means the snapshot hash of each (`drop_unchanged`), ~0.15 ms a record, and
hundreds of records a pass. A QBO record's content is fixed by its id and SyncToken (QBO
raises the token on every change), so its hash under one rule's mappings is too: it is
computed once. Not kept: HubSpot records (their version is a millisecond timestamp, two
edits may share it) and invoices (their snapshot reads other pairs' links, which change
between passes). The rule's mappings are part of the key (an edited rule starts afresh).
"""

from __future__ import annotations

from collections.abc import Sequence

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import Link, RefIndex, SideRecord, snapshot_hash
from ledgerbridge.sync.rules import ObjectPair, SyncRule

LIMIT = 50_000


class SnapshotHashes:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._rules: dict[ObjectPair, str] = {}
        self._hashes: dict[tuple[ObjectPair, str, str], str] = {}
        self.computed = 0
        """Hashes computed (not found kept): for tests."""

    def begin(self, rule: SyncRule) -> None:
        """Before the records of `rule` in a pass: forget its hashes if it was edited."""
        key = rule.model_dump_json(exclude={"enabled", "sync_started_at"})
        if self._rules.get(rule.object_pair) != key:
            self._rules[rule.object_pair] = key
            self._hashes = {k: v for k, v in self._hashes.items() if k[0] != rule.object_pair}

    def of(self, rule: SyncRule, record: SideRecord, refs: RefIndex) -> str:
        """The snapshot hash of `record` under `rule` (call `begin(rule)` first)."""
        keep = (
            record.ref.system is System.QUICKBOOKS
            and record.version is not None
            and rule.object_pair is not ObjectPair.INVOICES_INVOICES
        )
        key = (rule.object_pair, record.ref.id, record.version or "")
        if keep and (found := self._hashes.get(key)) is not None:
            return found
        self.computed += 1
        value = snapshot_hash(snapshot(rule, record, refs))
        if keep:
            if len(self._hashes) >= self.limit:
                self._hashes.clear()
            self._hashes[key] = value
        return value


def drop_unchanged(
    rule: SyncRule,
    refs: RefIndex,
    records: dict[System, list[SideRecord]],
    links: Sequence[Link],
    due: set[RecordRef],
    hashes: SnapshotHashes,
) -> None:
    """Leave out the linked records that are at the very version and content (snapshot
    hash) their link holds, when their counterpart is not among the changes either:
    echoes of our own writes and records the change readers' overlap reads again (issue
    18: in a live pass, most of what is read). The planner would skip them
    (`SkipReason.UNCHANGED`), after reading their counterparts by id; a deletion, or a
    failure due for a retry, always stays."""
    by_id = {
        System.HUBSPOT: {x.hubspot_id: x for x in links},
        System.QUICKBOOKS: {x.qbo_id: x for x in links},
    }
    unchanged: dict[System, set[str]] = {}
    for side in System:
        unchanged[side] = set()
        for r in records[side]:
            link = by_id[side].get(r.ref.id)
            if link is None or r.deleted or r.ref in due or r.version is None:
                continue
            same = link.version_on(side) == r.version
            if same and hashes.of(rule, r, refs) == link.hash_on(side):
                unchanged[side].add(r.ref.id)
    for side in System:
        partners = {
            by_id[side.other][r.ref.id].id_on(side)
            for r in records[side.other]
            if r.ref.id in by_id[side.other] and r.ref.id not in unchanged[side.other]
        }
        records[side] = [
            r for r in records[side] if r.ref.id not in unchanged[side] or r.ref.id in partners
        ]
