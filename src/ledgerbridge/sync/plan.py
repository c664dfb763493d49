"""The pure planner: (rule, links, changed records on each side, context) → actions.

Modelled on vdirsyncer's action planning: compare each side with the link's base,
decide per pair, return actions; the engine applies them (see `actions`).

For a linked pair: a side whose snapshot hash equals the link's stored hash is
unchanged (an echo of our own write) → `Skip`. Otherwise filters (`Exclude`),
object rules (`Fail`), then the field-level three-way merge (`merge`) gives the
`Update`s per side. For an unlinked record: match by key (`LinkRecords`, never a
guess: `Fail(AMBIGUOUS_MATCH)`), or `Create` on the other side.

Preconditions the engine guarantees: the changed records of this rule's object
pair on each side; the links of this pair that those records need (their own, those
of the records they say they were synced with, and those of the match candidates found
and of the linked records that hold a key of an unlinked one: `SyncEngine._read` and
`SyncEngine._context`); for invoices, `context.refs` built from the contact and product
links *after* their own passes were applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ledgerbridge.domain import Address, Party, RecordRef, System
from ledgerbridge.sync.actions import (
    Action,
    Create,
    Deactivate,
    Exclude,
    Fail,
    LinkRecords,
    Skip,
    SkipReason,
    idempotency_key,
)
from ledgerbridge.sync.defaults import MATCH_FIELD
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.filters import first_failing
from ledgerbridge.sync.invoices import HOOKS
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.match import (
    MatchKind,
    find_match,
    index_by_key,
    match_key,
    resolve_display_name,
)
from ledgerbridge.sync.merge import SideState, merge
from ledgerbridge.sync.model import (
    CanonicalValue,
    Link,
    LinkState,
    PlanContext,
    SideRecord,
    Snapshot,
    snapshot_hash,
)
from ledgerbridge.sync.payloads import cowritten
from ledgerbridge.sync.plan_writes import (
    in_sync_skips,
    never,
    state_after,
    update_actions,
    void_actions,
    with_state,
)
from ledgerbridge.sync.rules import Filter, ObjectPair, SyncRule

H, Q = System.HUBSPOT, System.QUICKBOOKS
DEACTIVATABLE = (ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS)


def plan(
    rule: SyncRule,
    links: Sequence[Link],
    hubspot: Sequence[SideRecord],
    qbo: Sequence[SideRecord],
    context: PlanContext,
) -> list[Action]:
    """The actions of one pass of `rule`. Deterministic: same inputs, same actions."""
    if not rule.enabled:
        return []  # R-CON-4: turning a rule off stops syncing; links stay as they are
    return _Planner(rule, links, context).run(hubspot, qbo)


def _unique(records: Iterable[SideRecord]) -> list[SideRecord]:
    by_ref = {r.ref: r for r in records}
    return [by_ref[ref] for ref in sorted(by_ref, key=lambda ref: (ref.system.value, ref.id))]


class _Planner:
    def __init__(self, rule: SyncRule, links: Sequence[Link], context: PlanContext) -> None:
        self.rule = rule
        self.pair = rule.object_pair
        self.context = context
        self.hooks = HOOKS[rule.object_pair]
        self.links = [x for x in links if x.object_type is rule.object_pair]
        self.by_id: dict[System, dict[str, Link]] = {
            H: {x.hubspot_id: x for x in self.links},
            Q: {x.qbo_id: x for x in self.links},
        }
        self.mappings = rule.active_mappings()
        self.actions: list[Action] = []
        self.display_names: set[str] = set(context.qbo_display_names)
        # Match keys held by linked records: at the last sync, now, and after this pass.
        self.linked_keys: set[str] = set()
        self._note_keys(x.base for x in self.links)

    def _note_keys(self, snaps: Iterable[Snapshot | None]) -> None:
        for snap in snaps:
            key = match_key(self.pair, snap) if snap is not None else None
            if key is not None:
                self.linked_keys.add(key)

    def snap(self, record: SideRecord) -> dict[str, CanonicalValue]:
        return snapshot(self.rule, record, self.context.refs)

    def run(self, hubspot: Sequence[SideRecord], qbo: Sequence[SideRecord]) -> list[Action]:
        pairs: dict[tuple[str, str], dict[System, SideRecord]] = {}
        unlinked: list[SideRecord] = []
        for record in _unique([*hubspot, *qbo]):
            link = self.by_id[record.system].get(record.ref.id)
            if link is None:
                unlinked.append(record)
            else:
                pairs.setdefault((link.hubspot_id, link.qbo_id), {})[record.system] = record
        for key in sorted(pairs):
            link = self.by_id[H][key[0]]
            self._linked(link, pairs[key].get(H), pairs[key].get(Q))
        self._unlinked(unlinked)
        return self.actions

    # ---- linked pairs ----

    def _failing(self, record: SideRecord) -> Filter | None:
        return first_failing(
            self.rule.filters_for(record.system),
            record,
            self.context.associated.get(record.ref),
            self.context.sync_started_at,
        )

    def _excluded(self, record: SideRecord) -> Exclude | None:
        failing = self._failing(record)
        return Exclude(record.ref, failing.describe()) if failing is not None else None

    def _archived(self, link: Link, record: SideRecord) -> None:
        rule = self.rule
        if (
            record.system is H
            and rule.propagate_archive
            and rule.allows(H)
            and self.pair in DEACTIVATABLE
        ):
            key = idempotency_key(self.pair, record.ref, record.version, "deactivate")
            target = link.ref_on(Q)
            self.actions.append(Deactivate(self.pair, target, link.qbo_version, key, record.ref))
        else:
            self.actions.append(Skip(record.ref, SkipReason.ARCHIVED))

    def _linked(self, link: Link, hs: SideRecord | None, qb: SideRecord | None) -> None:
        records = {H: hs, Q: qb}
        deleted = next((r for r in (hs, qb) if r is not None and r.deleted), None)
        if deleted is not None:
            self._archived(link, deleted)
            return
        snaps: dict[System, Snapshot | None] = {
            s: self.snap(r) if r is not None else None for s, r in records.items()
        }
        hashes = {
            s: snapshot_hash(v) if v is not None else link.hash_on(s) for s, v in snaps.items()
        }
        self._note_keys(snaps.values())
        changed = {s: hashes[s] != link.hash_on(s) for s in System}
        present = [r for r in (hs, qb) if r is not None]
        if not any(changed.values()):
            # Refresh the stored versions when only unmapped fields changed.
            stale = any(r.version != link.version_on(r.system) for r in present)
            state = LinkState(link.base, link.hubspot_hash, link.qbo_hash, link.origin)
            self.actions.extend(
                Skip(r.ref, SkipReason.UNCHANGED, state, link.hubspot_id, link.qbo_id)
                if stale
                else Skip(r.ref, SkipReason.UNCHANGED)
                for r in present
            )
            return
        # A side failing a fixed filter (R-INV-2: a QBO-made invoice on the HubSpot
        # side) is never a source of this pair; the other side still syncs.
        sources = set(self.rule.direction.sources)
        held = False
        for side in System:
            record = records[side]
            if record is None or side not in sources:
                continue
            failing = self._failing(record)
            if failing is None:
                continue
            if failing.fixed:
                sources.discard(side)
                held = held or changed[side]
            elif changed[side]:
                self.actions.append(Exclude(record.ref, failing.describe()))
                return
        if held and not any(changed[s] for s in sources):
            # A linked pair changed only on the side it never syncs from (a QBO-made
            # invoice paid in HubSpot): not propagated; the link notes the new version.
            after = {s: hashes[s] if changed[s] else link.hash_on(s) for s in System}
            state = LinkState(link.base, after[H], after[Q], link.origin)
            self.actions.extend(
                Skip(r.ref, SkipReason.ONE_WAY_TARGET, state, link.hubspot_id, link.qbo_id)
                for s, r in records.items()
                if r is not None and changed[s]
            )
            return
        failed = self.hooks.check_pair(self.rule, link, records, snaps, changed)
        if failed is not None:
            self.actions.append(failed)
            return
        sides = {s: SideState(snaps[s], changed[s]) for s in System}
        takes = frozenset(sources)
        result = merge(self.mappings, link.base, sides, takes, self.rule.conflict_policy)
        voids = self.hooks.void_targets(self.rule, snaps, changed, takes, link.base)
        self._apply_merge(link, records, snaps, hashes, result.merged, result.writes, voids=voids)

    def _write_fields(
        self,
        snaps: Mapping[System, Snapshot | None],
        merged: Mapping[str, CanonicalValue],
        writes: Mapping[System, Mapping[str, CanonicalValue]],
    ) -> dict[System, dict[str, CanonicalValue]]:
        """Per target side, the merged fields to write (with the fields written along
        with them), as the object's hooks adjust them; sides with nothing left out."""
        fields: dict[System, dict[str, CanonicalValue]] = {}
        for target in System:
            if writes[target]:
                names = cowritten(self.rule, target, writes[target])
                wanted = {n: merged[n] for n in sorted(names) if n in merged}
                kept = self.hooks.adjust_write(self.rule, target, wanted, snaps[target])
                if kept:
                    fields[target] = kept
        return fields

    def _apply_merge(
        self,
        link: Link,
        records: Mapping[System, SideRecord | None],
        snaps: Mapping[System, Snapshot | None],
        hashes: Mapping[System, str],
        merged: dict[str, CanonicalValue],
        writes: Mapping[System, Mapping[str, CanonicalValue]],
        *,
        match: LinkRecords | None = None,
        voids: frozenset[System] = frozenset(),
    ) -> None:
        fields = self._write_fields(snaps, merged, writes)
        for target, values in fields.items():
            source_ref = (records[target.other] or records[target] or never()).ref
            failed = self.hooks.check_write(self.rule, target, source_ref, values)
            if failed is not None:
                self.actions.append(failed)
                return
        if voids:
            merged = {**merged, "status": "voided"}
        state = state_after(link, snaps, hashes, merged, fields, voids)
        self._note_keys([merged, *snaps.values()])
        if match is not None:
            self.actions.append(with_state(match, state))
        self.actions.extend(void_actions(self.pair, link, records, voids, state))
        if not fields and voids:
            return
        if not fields:
            if match is None:
                self.actions.extend(in_sync_skips(self.rule, link, records, state))
            return
        self.actions.extend(update_actions(self.pair, link, records, fields, state))

    # ---- unlinked records: match or create ----

    def _unlinked(self, records: list[SideRecord]) -> None:
        live = [r for r in records if not r.deleted]
        self.actions.extend(Skip(r.ref, SkipReason.ARCHIVED) for r in records if r.deleted)
        snaps = {r.ref: self.snap(r) for r in live}
        matchable = self.pair in MATCH_FIELD
        pools: dict[System, dict[str, list[SideRecord]]] = {H: {}, Q: {}}
        if matchable:
            for side in System:
                looked_up = [c for c in self.context.candidates_on(side) if not c.deleted]
                for c in looked_up:
                    snaps.setdefault(c.ref, self.snap(c))
                # A candidate that is already linked holds its key: never match or
                # duplicate it (its side may have drifted from the link's base).
                candidates = [c for c in looked_up if c.ref.id not in self.by_id[side]]
                self._note_keys(snaps[c.ref] for c in looked_up if c.ref.id in self.by_id[side])
                pool = [r for r in live if r.system is side] + candidates
                pools[side] = index_by_key(self.pair, ((r, snaps[r.ref]) for r in pool))
        done: set[RecordRef] = set()
        self._link_counterparts(live, snaps, done)
        for record in live:
            if record.ref in done:
                continue
            done.add(record.ref)
            snap = snaps[record.ref]
            side, other = record.system, record.system.other
            key = match_key(self.pair, snap) if matchable else None
            if key is not None:
                peers = find_match(key, pools[side])
                found = find_match(key, pools[other])
                if peers.kind is MatchKind.AMBIGUOUS or found.kind is MatchKind.AMBIGUOUS:
                    refs = sorted({*peers.refs, *found.refs}, key=str)
                    detail = f"{MATCH_FIELD[self.pair]} {key!r} is shared by " + ", ".join(
                        str(r) for r in refs
                    )
                    self.actions.append(Fail(record.ref, ErrorCategory.AMBIGUOUS_MATCH, detail))
                    continue
                if found.ref is not None:
                    target = next(r for r in pools[other][key] if r.ref == found.ref)
                    done.add(target.ref)
                    snaps.setdefault(target.ref, self.snap(target))
                    self._match(record, target, snaps, key)
                    continue
                if key in self.linked_keys:
                    detail = (
                        f"{MATCH_FIELD[self.pair]} {key!r} already belongs to a linked record; "
                        "creating another would duplicate it"
                    )
                    self.actions.append(Fail(record.ref, ErrorCategory.AMBIGUOUS_MATCH, detail))
                    continue
            if not self.rule.allows(side):
                self.actions.append(Skip(record.ref, SkipReason.DIRECTION))
                continue
            excluded = self._excluded(record)
            if excluded is not None:
                self.actions.append(excluded)
                continue
            reason = self.hooks.skip_create(self.rule, record)
            sent = create_key(self.pair, record) in self.context.sent_creates
            if reason is not None and not sent:
                self.actions.append(Skip(record.ref, reason))
                continue
            self._create(record, snap)

    def _link_counterparts(
        self,
        live: Sequence[SideRecord],
        snaps: dict[RecordRef, dict[str, CanonicalValue]],
        done: set[RecordRef],
    ) -> None:
        """Link records that name their counterpart (see `SideRecord.counterpart_id`).

        This is identity, not matching: it runs before email/SKU matching, so a record
        created by a pass that crashed before its link was saved is linked, never
        created again (R-BEY-1), even when it has no email or SKU.
        """
        context = self.context
        pool = [*live, *context.hubspot_candidates, *context.qbo_candidates]
        present = {r.ref: r for r in pool if not r.deleted}
        for record in live:
            if record.counterpart_id is None or record.ref in done:
                continue
            other_ref = RecordRef(record.system.other, record.counterpart_id)
            linked = self.by_id[other_ref.system].get(other_ref.id)
            if linked is not None:
                done.add(record.ref)
                self.actions.append(
                    Fail(
                        record.ref,
                        ErrorCategory.AMBIGUOUS_MATCH,
                        f"this record was created from {other_ref}, which is already linked "
                        f"to {linked.ref_on(record.system)}; it is probably a duplicate",
                    )
                )
                continue
            target = present.get(other_ref)
            if target is None or target.ref in done:
                # Never create a second counterpart: link it once that record is read.
                done.add(record.ref)
                self.actions.append(
                    Skip(record.ref, f"created from {other_ref}; linked once that is read")
                )
                continue
            done.update((record.ref, target.ref))
            snaps.setdefault(target.ref, self.snap(target))
            # Only the original's filters apply (a copy of a QBO invoice fails "source is HubSpot").
            self._match(
                record, target, snaps, matched_on=f"created from {other_ref}", flow=other_ref.system
            )

    def _match(
        self,
        record: SideRecord,
        target: SideRecord,
        snaps: Mapping[RecordRef, Snapshot],
        key: str | None = None,
        *,
        matched_on: str | None = None,
        flow: System | None = None,
    ) -> None:
        records = {record.system: record, target.system: target}
        checked = [flow] if flow is not None else sorted(self.rule.direction.sources)
        for side in checked:
            excluded = self._excluded(records[side])
            if excluded is not None:
                self.actions.append(excluded)
                return
        hs, qb = records[H], records[Q]
        snap_of = {s: snaps[records[s].ref] for s in System}
        link = Link(
            self.pair, hs.ref.id, qb.ref.id, hs.version, qb.version, "", "", {}, origin=None
        )
        sides = {s: SideState(snap_of[s], True) for s in System}
        base: Snapshot = {}
        if flow is not None:
            # A copy the engine made from `flow`'s record (a pass that crashed before
            # its link was saved): it holds what was written, so it is the base, and a
            # change of the original since then goes over it (never the other way).
            base = snap_of[flow.other]
            sides[flow.other] = SideState(base, False)
        result = merge(
            self.mappings, base, sides, self.rule.direction.sources, self.rule.conflict_policy
        )
        hashes = {s: snapshot_hash(snap_of[s]) for s in System}
        placeholder = LinkState({}, "", "")
        match = LinkRecords(
            self.pair,
            hs.ref,
            qb.ref,
            hs.version,
            qb.version,
            placeholder,
            matched_on or f"{MATCH_FIELD[self.pair]}={key}",
        )
        self._apply_merge(link, records, snap_of, hashes, result.merged, result.writes, match=match)

    def _create(self, record: SideRecord, snap: dict[str, CanonicalValue]) -> None:
        target = record.system.other
        fields = {
            m.name: snap[m.name]
            for m in self.mappings
            if m.writable_on(target) and snap.get(m.name) is not None
        }
        failed = self.hooks.check_write(self.rule, target, record.ref, fields)
        if failed is not None:
            self.actions.append(failed)
            return
        display_name = None
        if self.pair is ObjectPair.CONTACTS_CUSTOMERS and target is Q:
            party = record.domain if isinstance(record.domain, Party) else _party(snap)
            display_name = resolve_display_name(
                party, self.display_names, self.rule.display_name_policy
            )
            if display_name is None:
                taken = party.best_display_name()
                self.actions.append(
                    Fail(
                        record.ref,
                        ErrorCategory.DUPLICATE_DISPLAY_NAME,
                        f"QuickBooks already has a customer, vendor or employee named {taken!r}",
                    )
                )
                return
            self.display_names.add(display_name)
        predicted = {m.name: fields.get(m.name) for m in self.mappings}
        hashes = {record.system: snapshot_hash(snap), target: snapshot_hash(predicted)}
        state = LinkState(dict(snap), hashes[H], hashes[Q], origin=record.system)
        # Keyed by what it creates (pair + source record), never by the source's version:
        # a create retried after a crash, once the source changed meanwhile, must send
        # the same key (QBO `requestid`, the write journal) or it makes a second copy.
        key = create_key(self.pair, record)
        self.actions.append(
            Create(self.pair, target, record.ref, record.version, fields, key, state, display_name)
        )


def create_key(pair: ObjectPair, record: SideRecord) -> str:
    """The key of the create of `record`'s copy: by pair and source record, never its version."""
    return idempotency_key(pair, record.ref, None, "create")


def _party(snap: Mapping[str, CanonicalValue]) -> Party:
    def text(name: str) -> str | None:
        value = snap.get(name)
        return value if isinstance(value, str) else None

    email = text("email")
    return Party(
        given_name=text("first_name"),
        family_name=text("last_name"),
        company_name=text("company"),
        emails=(email,) if email else (),
        billing_address=Address(line1=text("billing_street")),
    )
