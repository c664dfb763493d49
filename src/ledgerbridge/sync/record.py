"""Turning a pass's actions and write results into what the store records (step 5).

`record_pass(...)` is pure: from the planned actions, the write results and the
records the pass read, it builds the `Commit` (links, sync records, activity) and
says which records must be read again (transient failures hold the cursor).

Rules:
- A link is saved only when every write planned for its pair succeeded. Written
  sides take the version and snapshot hash of the record as written (services
  normalise values); unwritten sides the version of the record as read.
- A pair with a failed write keeps its old link (a new match is not linked): the
  next pass plans it again from the same base and converges.
- Transient failures (and a refused token) leave the records pending; terminal
  ones make them failed with the error's category; filters make them excluded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.actions import (
    Action,
    Create,
    Deactivate,
    Exclude,
    Fail,
    LinkRecords,
    Skip,
    SkipReason,
    Update,
    Void,
)
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory, SyncError, TransientError
from ledgerbridge.sync.mapping import first_text, named_mappings, snapshot
from ledgerbridge.sync.model import Link, LinkState, RefIndex, SideRecord, snapshot_hash
from ledgerbridge.sync.ports import ActivityEntry, RecordOutcome, WriteResult
from ledgerbridge.sync.report import PairReport, describe
from ledgerbridge.sync.rules import SyncRule
from ledgerbridge.sync.written import UNSEEN, edited_meanwhile, replayed_base

H, Q = System.HUBSPOT, System.QUICKBOOKS
LABEL_FIELDS = ("email", "name", "sku", "number", "company", "last_name")
SYNCED_SKIPS = (SkipReason.IN_SYNC, SkipReason.ONE_WAY_TARGET)


def flow(side: System) -> str:
    return "hubspot_to_qbo" if side is H else "qbo_to_hubspot"


@dataclass
class _PairWrites:
    """Everything planned for one linked (or newly matched) pair."""

    state: LinkState
    versions: dict[System, str | None]
    hashes: dict[System, str] = field(default_factory=dict)
    match: LinkRecords | None = None
    error: SyncError | None = None
    updates: list[Update | Void] = field(default_factory=list)


@dataclass
class Recorded:
    commit_links: list[Link] = field(default_factory=list)
    records: list[RecordOutcome] = field(default_factory=list)
    activity: list[ActivityEntry] = field(default_factory=list)
    held: set[RecordRef] = field(default_factory=set)
    """Records to read again next pass: the cursor must not move past them."""
    auth_error: AuthenticationError | None = None


class _Recorder:
    def __init__(
        self,
        rule: SyncRule,
        links: Sequence[Link],
        seen: Mapping[RecordRef, SideRecord],
        refs: RefIndex,
        report: PairReport,
    ) -> None:
        self.rule = rule
        self.pair = rule.object_pair
        self.links = {(x.hubspot_id, x.qbo_id): x for x in links}
        self.by_qbo = {x.qbo_id: x for x in links}
        self.seen = seen
        self.refs = refs
        self.report = report
        self.out = Recorded()
        self.pairs: dict[tuple[str, str], _PairWrites] = {}
        self._label_mappings = named_mappings(rule, LABEL_FIELDS)
        """The mappings a label is read from, looked up once per pass."""

    # ---- helpers ----

    def hash_of(self, record: SideRecord) -> str:
        return snapshot_hash(snapshot(self.rule, record, self.refs))

    def label_of(self, record: SideRecord) -> str | None:
        text = first_text(self.rule, self._label_mappings, record, self.refs)
        return text[:300] if text is not None else None

    def label(self, *refs: RecordRef) -> str | None:
        for ref in refs:
            record = self.seen.get(ref)
            if record is not None and (text := self.label_of(record)) is not None:
                return text
        return None

    def status(
        self,
        ref: RecordRef,
        status: str,
        *,
        label: str | None = None,
        category: ErrorCategory | None = None,
        detail: str | None = None,
        excluded_by: str | None = None,
    ) -> None:
        self.out.records.append(
            RecordOutcome(ref, status, label or self.label(ref), category, detail, excluded_by)
        )

    def activity(
        self, ref: RecordRef, direction: str, operation: str, outcome: str, action: Action
    ) -> None:
        self.out.activity.append(
            ActivityEntry(ref, direction, operation, outcome, describe(action))
        )

    def failed(
        self,
        refs: Sequence[RecordRef],
        error: SyncError,
        action: Action,
        op: str,
        direction: str,
    ) -> None:
        """A write that failed: pending (transient) or failed (terminal) records."""
        transient = error.transient or isinstance(error, AuthenticationError)
        if isinstance(error, AuthenticationError):
            self.out.auth_error = error
        status = "pending" if transient else "failed"
        for ref in refs:
            self.status(ref, status, category=error.category, detail=error.detail)
        if transient:
            self.out.held.update(refs)
            self.report.pending += 1
        else:
            self.report.failed += 1
        entry = ActivityEntry(
            refs[0],
            direction,
            op,
            status,
            {**describe(action), "error": error.category.value, "error_detail": error.detail},
        )
        self.out.activity.append(entry)

    def version_of(self, ref: RecordRef, link: Link | None) -> str | None:
        record = self.seen.get(ref)
        if record is not None:
            return record.version
        return link.version_on(ref.system) if link is not None else None

    def pair_writes(self, hubspot_id: str, qbo_id: str, state: LinkState) -> _PairWrites:
        key = (hubspot_id, qbo_id)
        found = self.pairs.get(key)
        if found is None:
            link = self.links.get(key)
            versions = {
                H: self.version_of(RecordRef(H, hubspot_id), link),
                Q: self.version_of(RecordRef(Q, qbo_id), link),
            }
            found = self.pairs[key] = _PairWrites(state, versions)
        found.state = state
        return found

    # ---- actions ----

    def run(self, actions: Sequence[Action], results: Mapping[int, WriteResult]) -> Recorded:
        for action in actions:
            if isinstance(action, Create):
                self.create(action, results[id(action)])
            elif isinstance(action, Update):
                self.update(action, results[id(action)])
            elif isinstance(action, LinkRecords):
                pw = self.pair_writes(action.hubspot_ref.id, action.qbo_ref.id, action.link_after)
                pw.match = action
                pw.versions = {H: action.hubspot_version, Q: action.qbo_version}
            elif isinstance(action, Deactivate):
                self.deactivate(action, results[id(action)])
            elif isinstance(action, Void):
                self.void(action, results[id(action)])
            elif isinstance(action, Exclude):
                self.report.excluded += 1
                self.status(action.ref, "excluded", excluded_by=action.filter_description)
                self.activity(action.ref, flow(action.ref.system), "exclude", "ok", action)
            elif isinstance(action, Fail):
                self.report.failed += 1
                self.status(action.ref, "failed", category=action.category, detail=action.detail)
                self.activity(action.ref, flow(action.ref.system), "fail", "failed", action)
            else:
                self.skip(action)
        for (hubspot_id, qbo_id), pw in self.pairs.items():
            self.finish_pair(hubspot_id, qbo_id, pw)
        return self.out

    def create(self, action: Create, result: WriteResult) -> None:
        source = action.source_ref
        if result.error is not None or result.record is None:
            self.failed(
                [source], result.error or _no_record(), action, "create", flow(source.system)
            )
            return
        written = result.record
        ids = {source.system: source.id, action.target: written.ref.id}
        versions = {source.system: action.source_version, action.target: written.version}
        hashes = {
            source.system: action.link_after.hash_on(source.system),
            action.target: self.hash_of(written),
        }
        base = dict(action.link_after.base)
        if result.replayed:  # the answer may predate the source's changes: see `written`
            base = replayed_base(self.rule, self.refs, action, written)
            hashes[source.system] = UNSEEN
            self.out.held.add(source)
        self.out.commit_links.append(
            Link(
                self.pair,
                ids[H],
                ids[Q],
                versions[H],
                versions[Q],
                hashes[H],
                hashes[Q],
                base,
                action.link_after.origin,
            )
        )
        self.report.created += 1
        label = self.label(source)
        self.status(source, "synced", label=label)
        # The copy's own label: a QuickBooks invoice made from a HubSpot one has its own
        # number when QBO numbers its invoices (custom transaction numbers off, R-INV-12).
        self.status(written.ref, "synced", label=self.label_of(written) or label)
        self.activity(written.ref, flow(source.system), "create", "ok", action)

    def update(self, action: Update, result: WriteResult) -> None:
        pw = self.pair_writes(action.hubspot_id, action.qbo_id, action.link_after)
        pw.updates.append(action)
        if result.error is not None or result.record is None:
            pw.error = pw.error or result.error or _no_record()
            self.failed(
                [RecordRef(H, action.hubspot_id), RecordRef(Q, action.qbo_id)],
                result.error or _no_record(),
                action,
                "update",
                flow(action.target.other),
            )
            return
        pw.versions[action.target] = result.record.version
        pw.hashes[action.target] = self.hash_of(result.record)
        before = self.seen.get(action.target_ref)
        if edited_meanwhile(self.rule, self.refs, before, result.record, action.fields):
            # The answer holds an edit this pass never read: the link keeps the hash of
            # what the engine wrote, so the next pass reads the record again and merges.
            pw.hashes[action.target] = action.link_after.hash_on(action.target)
            self.out.held.add(action.target_ref)
        self.report.updated += 1
        self.activity(action.target_ref, flow(action.target.other), "update", "ok", action)

    def void(self, action: Void, result: WriteResult) -> None:
        pw = self.pair_writes(action.hubspot_id, action.qbo_id, action.link_after)
        pw.updates.append(action)
        direction = flow(action.source_ref.system)
        if result.error is not None or result.record is None:
            error = result.error or _no_record()
            pw.error = pw.error or error
            refs = [RecordRef(H, action.hubspot_id), RecordRef(Q, action.qbo_id)]
            self.failed(refs, error, action, "void", direction)
            return
        pw.versions[action.target] = result.record.version
        pw.hashes[action.target] = self.hash_of(result.record)
        self.report.voided += 1
        self.activity(action.target_ref, direction, "void", "ok", action)

    def deactivate(self, action: Deactivate, result: WriteResult) -> None:
        if result.error is not None or result.record is None:
            error = result.error or _no_record()
            direction = flow(action.source_ref.system)
            self.failed([action.source_ref], error, action, "deactivate", direction)
            return
        link = self.by_qbo.get(action.target_ref.id)
        if link is not None:
            self.out.commit_links.append(
                Link(
                    link.object_type,
                    link.hubspot_id,
                    link.qbo_id,
                    self.version_of(link.ref_on(H), link),
                    result.record.version,
                    link.hubspot_hash,
                    self.hash_of(result.record),
                    link.base,
                    link.origin,
                )
            )
        self.report.deactivated += 1
        self.activity(action.target_ref, flow(action.source_ref.system), "deactivate", "ok", action)

    def skip(self, action: Skip) -> None:
        self.report.skipped += 1
        if action.link_after is not None and action.hubspot_id and action.qbo_id:
            self.pair_writes(action.hubspot_id, action.qbo_id, action.link_after)
            if action.reason in SYNCED_SKIPS:
                self.status(action.ref, "synced")
        if action.reason != SkipReason.UNCHANGED:
            # Echoes of our own writes are not logged: every pass would repeat them.
            self.activity(action.ref, flow(action.ref.system), "skip", "ok", action)

    def finish_pair(self, hubspot_id: str, qbo_id: str, pw: _PairWrites) -> None:
        refs = (RecordRef(H, hubspot_id), RecordRef(Q, qbo_id))
        if pw.error is not None:
            return  # keep the old link (or none, for a new match): replanned next pass
        old = self.links.get((hubspot_id, qbo_id))
        state = pw.state
        self.out.commit_links.append(
            Link(
                self.pair,
                hubspot_id,
                qbo_id,
                pw.versions[H],
                pw.versions[Q],
                pw.hashes.get(H, state.hubspot_hash),
                pw.hashes.get(Q, state.qbo_hash),
                dict(state.base),
                old.origin if old is not None else state.origin,
            )
        )
        if pw.match is not None:
            self.report.linked += 1
            self.activity(refs[0], "none", "link", "ok", pw.match)
        if pw.match is not None or pw.updates:
            label = self.label(*refs)
            for ref in refs:
                self.status(ref, "synced", label=label)


def _no_record() -> SyncError:
    return TransientError(ErrorCategory.UNKNOWN, "the service answered without the record")


def record_pass(
    rule: SyncRule,
    links: Sequence[Link],
    actions: Sequence[Action],
    results: Mapping[int, WriteResult],
    seen: Mapping[RecordRef, SideRecord],
    refs: RefIndex,
    report: PairReport,
) -> Recorded:
    """What to record for one rule's pass. `results` are keyed by `id(action)`."""
    report.actions.extend(actions)
    return _Recorder(rule, links, seen, refs, report).run(actions, results)
