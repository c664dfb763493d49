"""The actions that write a linked pair once its merge is decided (`plan._Planner`):
the link state after the writes, the voids, the updates, or the skips when nothing is
written. Pure, like the planner."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ledgerbridge.domain import System
from ledgerbridge.sync.actions import LinkRecords, Skip, SkipReason, Update, Void, idempotency_key
from ledgerbridge.sync.model import (
    CanonicalValue,
    Link,
    LinkState,
    SideRecord,
    Snapshot,
    snapshot_hash,
)
from ledgerbridge.sync.rules import ObjectPair, SyncRule

Records = Mapping[System, SideRecord | None]


def never() -> SideRecord:
    raise AssertionError("a pair with writes has at least one record")


def with_state(match: LinkRecords, state: LinkState) -> LinkRecords:
    return LinkRecords(
        match.object_type,
        match.hubspot_ref,
        match.qbo_ref,
        match.hubspot_version,
        match.qbo_version,
        state,
        match.matched_on,
    )


def state_after(
    link: Link,
    snaps: Mapping[System, Snapshot | None],
    hashes: Mapping[System, str],
    merged: Mapping[str, CanonicalValue],
    fields: Mapping[System, Mapping[str, CanonicalValue]],
    voids: frozenset[System],
) -> LinkState:
    """The link's state once `fields` are written and `voids` voided: each written side's
    hash is that of its snapshot with the writes applied."""
    after = {
        s: snapshot_hash(
            {
                **(snaps[s] or link.base),
                **fields.get(s, {}),
                **({"status": "voided"} if s in voids else {}),
            }
        )
        if s in fields or s in voids
        else hashes[s]
        for s in System
    }
    return LinkState(dict(merged), after[System.HUBSPOT], after[System.QUICKBOOKS], link.origin)


def void_actions(
    pair: ObjectPair, link: Link, records: Records, voids: frozenset[System], state: LinkState
) -> Iterator[Void]:
    """A void of each side in `voids`, keyed on the other side's record that was voided."""
    for target in sorted(voids):
        voided_by = records[target.other] or never()
        now = records[target]
        base_version = now.version if now else link.version_on(target)
        key = idempotency_key(pair, voided_by.ref, voided_by.version, "void")
        yield Void(
            pair,
            link.ref_on(target),
            base_version,
            key,
            voided_by.ref,
            state,
            link.hubspot_id,
            link.qbo_id,
        )


def update_actions(
    pair: ObjectPair,
    link: Link,
    records: Records,
    fields: Mapping[System, Mapping[str, CanonicalValue]],
    state: LinkState,
) -> Iterator[Update]:
    """An update of each target side with its fields, keyed on the source's version and
    the target's base version."""
    for target, values in sorted(fields.items()):
        source = records[target.other]
        source_ref = source.ref if source else link.ref_on(target.other)
        source_version = source.version if source else link.version_on(target.other)
        current = records[target]
        base_version = current.version if current else link.version_on(target)
        key = idempotency_key(pair, source_ref, source_version, f"update:{base_version}")
        yield Update(
            pair,
            target,
            link.ref_on(target),
            base_version,
            values,
            key,
            state,
            link.hubspot_id,
            link.qbo_id,
        )


def in_sync_skips(rule: SyncRule, link: Link, records: Records, state: LinkState) -> list[Skip]:
    """Nothing to write: each changed record is skipped, as in sync (or, on a one-way
    rule, as a change of the target side that is not propagated)."""
    changed = [r for r in records.values() if r is not None]
    reason = SkipReason.IN_SYNC
    sources = rule.direction.sources
    if len(sources) == 1 and all(r.system not in sources for r in changed):
        reason = SkipReason.ONE_WAY_TARGET
    return [Skip(r.ref, reason, state, link.hubspot_id, link.qbo_id) for r in changed]
