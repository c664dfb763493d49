"""Snapshot hashes of QBO records kept by (rule, id, SyncToken) across passes (issue 18).

A live pass reads QBO's changes of the last minutes again (`qbo.changes`' overlap), so
most records it reads are ones it has seen, unchanged; telling them from real changes
means the snapshot hash of each (`sync.engine._drop_unchanged`), ~0.15 ms a record, and
hundreds of records a pass. A QBO record's content is fixed by its id and SyncToken (QBO
raises the token on every change), so its hash under one rule's mappings is too: it is
computed once. Not kept: HubSpot records (their version is a millisecond timestamp, two
edits may share it) and invoices (their snapshot reads other pairs' links, which change
between passes). The rule's mappings are part of the key (an edited rule starts afresh).
"""

from __future__ import annotations

from ledgerbridge.domain import System
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import RefIndex, SideRecord, snapshot_hash
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
