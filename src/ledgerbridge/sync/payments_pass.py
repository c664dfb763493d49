"""The payment part of the invoice rule's pass (R-PAY-1…3), after the invoices.

1. read the payments changed on each side since that side's `payments` cursor,
   and the current counterparts of changed linked payments;
2. `payments.plan_payments(...)` with the invoice links as they now are (only those
   of the invoices the payments name: `StatePort.load_links_for`);
3. apply the writes (QBO first, then HubSpot), each idempotent;
4. record payment links, sync records (object type `payments`) and activity, then
   the payment cursors, in one commit. A transient failure holds its side's cursor
   just before the payment; a terminal one makes it failed.

Runs only when both sides offer payments (`SidePort.capabilities.payments`) and the state
keeps payment links (`StatePort.payments`): each says so explicitly, never by `isinstance`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.errors import AuthenticationError, SyncError
from ledgerbridge.sync.model import Link, held_cursor, snapshot_hash
from ledgerbridge.sync.payments import (
    PAYMENTS,
    PaymentAction,
    PaymentPort,
    PaymentRecord,
    PaymentResult,
    PaymentSkip,
    PaymentState,
    PaymentWrite,
    invoice_maps,
    made_on,
    payment_link,
    payment_snapshot,
    plan_payments,
    qbo_payment_id,
)
from ledgerbridge.sync.ports import ActivityEntry, Commit, RecordOutcome, SidePort, StatePort
from ledgerbridge.sync.report import PairReport
from ledgerbridge.sync.rules import ObjectPair, SyncRule

H, Q = System.HUBSPOT, System.QUICKBOOKS
MARGIN = dt.timedelta(seconds=1)
AUDITED = {"void": "propagate_payment_deletes", "refund": "propagate_refunds"}


def _flow(side: System) -> str:
    return "hubspot_to_qbo" if side is H else "qbo_to_hubspot"


def _describe(action: PaymentAction) -> dict[str, Any]:
    if isinstance(action, PaymentSkip):
        return {"action": "skip", "record": str(action.ref), "reason": action.reason}
    details: dict[str, Any] = {
        "action": action.kind,
        "direction": _flow(action.target.other),
        "source": str(action.source.ref),
        "invoice": action.invoice_id,
        "amount": str(action.amount),
        "payment_source": action.source.source,
    }
    if action.target_id:
        details["target"] = action.target_id
    if action.kind in AUDITED:
        details["setting"] = AUDITED[action.kind]
    return details


async def _read(
    ports: Mapping[System, PaymentPort],
    state: PaymentState,
    links: Sequence[Link],
) -> tuple[dict[System, list[PaymentRecord]], dict[System, dt.datetime | None]]:
    records: dict[System, list[PaymentRecord]] = {}
    cursors: dict[System, dt.datetime | None] = {}
    for side in (H, Q):
        found = await ports[side].read_payment_changes(await state.get_payment_cursor(side))
        records[side] = list(found.records)
        cursors[side] = found.next_cursor
    by_id = {H: {x.hubspot_id: x for x in links}, Q: {x.qbo_id: x for x in links}}
    for side in (H, Q):
        other = side.other
        want: set[str] = set()
        for record in records[other]:
            link = by_id[other].get(record.ref.id)
            if link is not None:
                want.add(link.id_on(side))
            elif other is Q and record.deleted:
                prefix = qbo_payment_id(record.ref.id) + "@"
                want.update(x.hubspot_id for x in links if x.qbo_id.startswith(prefix))
        want -= {r.ref.id for r in records[side]}
        if want:
            records[side].extend(await ports[side].read_payments(sorted(want)))
    return records, cursors


LoggedSkips = dict[RecordRef, tuple[str | None, str]]
"""The payments whose skip was logged, with the version and reason it was logged for:
the readers read a payment again every pass within their overlap, and a payment waiting
for its invoice was logged "skip" every pass (the engine keeps one per process)."""
LOGGED_SKIPS_LIMIT = 50_000


class _Recorder:
    def __init__(
        self,
        invoice_links: Sequence[Link],
        report: PairReport,
        logged: LoggedSkips | None = None,
        versions: Mapping[RecordRef, str | None] | None = None,
    ) -> None:
        self.to_hubspot = invoice_maps(invoice_links)[1]
        self.report = report
        self.logged = logged
        self.versions = versions or {}
        self.links: dict[tuple[str, str], Link] = {}
        self.records: list[RecordOutcome] = []
        self.activity: list[ActivityEntry] = []
        self.held: set[RecordRef] = set()
        self.auth_error: AuthenticationError | None = None

    def count(self, name: str) -> None:
        self.report.payments[name] = self.report.payments.get(name, 0) + 1

    def status(self, ref: RecordRef, status: str, error: SyncError | None = None) -> None:
        category = error.category if error else None
        detail = error.detail if error else None
        self.records.append(
            RecordOutcome(ref, status, None, category, detail, object_type=PAYMENTS)
        )

    def log(self, ref: RecordRef, direction: str, op: str, outcome: str, details: Any) -> None:
        self.activity.append(
            ActivityEntry(ref, direction, op, outcome, details, object_type=PAYMENTS)
        )

    def hash(self, record: PaymentRecord) -> str:
        return snapshot_hash(payment_snapshot(record, self.to_hubspot))

    def skip(self, action: PaymentSkip) -> None:
        self.count("skipped")
        if action.link_after is not None:
            link = action.link_after
            self.links[(link.hubspot_id, link.qbo_id)] = link
        if action.reason.startswith("unchanged"):
            return
        if self.logged is not None:
            seen = (self.versions.get(action.ref), action.reason)
            if self.logged.get(action.ref) == seen:
                return  # read again as it was, skipped for the same reason: logged already
            if len(self.logged) >= LOGGED_SKIPS_LIMIT:
                self.logged.clear()
            self.logged[action.ref] = seen
        self.log(action.ref, _flow(action.ref.system), "skip", "ok", _describe(action))

    def written(self, result: PaymentResult) -> None:
        action, record = result.action, result.record
        source = action.source
        details = _describe(action)
        if result.error is not None or record is None:
            self.failed(action, result.error)
            return
        ids = {source.ref.system: source.ref.id, action.target: record.ref.id}
        if action.link is not None:
            ids = {H: action.link.hubspot_id, Q: action.link.qbo_id}
        snap = payment_snapshot(source, self.to_hubspot)
        versions = {source.ref.system: source.version, action.target: record.version}
        hashes = {source.ref.system: snapshot_hash(snap), action.target: self.hash(record)}
        origin = made_on(action.link) if action.link else source.ref.system
        link = payment_link(
            ids[H], ids[Q], versions[H], versions[Q], hashes[H], hashes[Q], snap, origin
        )
        self.links[(link.hubspot_id, link.qbo_id)] = link
        self.count(action.kind)
        for ref in (RecordRef(H, ids[H]), RecordRef(Q, ids[Q])):
            self.status(ref, "synced")
        self.log(record.ref, _flow(source.ref.system), action.kind, "ok", details)

    def failed(self, action: PaymentWrite, error: SyncError | None) -> None:
        if error is None:
            return
        transient = error.transient or isinstance(error, AuthenticationError)
        if isinstance(error, AuthenticationError):
            self.auth_error = error
        status = "pending" if transient else "failed"
        self.status(action.source.ref, status, error)
        if transient:
            self.held.add(action.source.ref)
        self.count(status)
        details = {**_describe(action), "error": error.category.value, "error_detail": error.detail}
        self.log(action.source.ref, _flow(action.source.ref.system), action.kind, status, details)


def _cursors(
    found: Mapping[System, dt.datetime | None],
    records: Mapping[System, Sequence[PaymentRecord]],
    held: set[RecordRef],
) -> dict[System, dt.datetime]:
    out: dict[System, dt.datetime] = {}
    for side, cursor in found.items():
        stamps = [r.updated_at for r in records[side] if r.ref in held]
        if (after := held_cursor(cursor, stamps, MARGIN)) is not None:
            out[side] = after
    return out


def _invoice_ids(
    records: Mapping[System, Sequence[PaymentRecord]], links: Sequence[Link]
) -> dict[System, set[str]]:
    """The invoices the payments of this pass name (by their own side's id, and by the
    HubSpot invoice of their payment links' base): the invoice links the plan needs."""
    ids: dict[System, set[str]] = {H: set(), Q: set()}
    by_id = {H: {x.hubspot_id: x for x in links}, Q: {x.qbo_id: x for x in links}}
    for side in (H, Q):
        for record in records[side]:
            if record.invoice_id:
                ids[side].add(record.invoice_id)
            mine = by_id[side].get(record.ref.id)
            found = [mine] if mine is not None else []
            if mine is None and side is Q and record.deleted:
                prefix = qbo_payment_id(record.ref.id) + "@"
                found = [x for x in links if x.qbo_id.startswith(prefix)]
            ids[H].update(str(x.base.get("invoice") or "") for x in found)
    ids[H].discard("")
    return ids


async def _invoice_links(
    state: StatePort, ids: Mapping[System, set[str]], have: Sequence[Link] = ()
) -> list[Link]:
    """`have` and the invoice links of `ids` not in it."""
    known = {H: {x.hubspot_id for x in have}, Q: {x.qbo_id for x in have}}
    want = {s: ids[s] - known[s] for s in (H, Q)}
    if not (want[H] or want[Q]):
        return list(have)
    found = await state.load_links_for(ObjectPair.INVOICES_INVOICES, want[H], want[Q])
    pairs = {(x.hubspot_id, x.qbo_id) for x in have}
    return [*have, *(x for x in found if (x.hubspot_id, x.qbo_id) not in pairs)]


async def run_payment_pass(
    rule: SyncRule,
    sides: Mapping[System, SidePort],
    state: StatePort,
    report: PairReport,
    *,
    dry_run: bool = False,
    logged_skips: LoggedSkips | None = None,
) -> None:
    """The payment part of `rule`'s pass; commits through `state.commit`. A skip is
    logged once per version and reason when the caller keeps `logged_skips`.

    Loads only the invoice links of the invoices its payments name (never all of them)."""
    if not rule.payments_enabled:
        return
    hubspot, qbo = sides[H].capabilities.payments, sides[Q].capabilities.payments
    payment_state = state.payments
    if hubspot is None or qbo is None or payment_state is None:
        return  # a side or the state without payments (`Capabilities`, `StatePort.payments`)
    ports: dict[System, PaymentPort] = {H: hubspot, Q: qbo}
    links = await payment_state.load_payment_links()
    records, found = await _read(ports, payment_state, links)
    invoice_links = await _invoice_links(state, _invoice_ids(records, links))
    actions = plan_payments(rule, links, invoice_links, records[H], records[Q])
    if dry_run:
        recorder = _Recorder(invoice_links, report)
        for action in actions:
            recorder.count(action.kind if isinstance(action, PaymentWrite) else "skipped")
        return
    results: list[PaymentResult] = []
    for target in (Q, H):
        writes = [a for a in actions if isinstance(a, PaymentWrite) and a.target is target]
        if writes:
            results.extend(await ports[target].apply_payments(rule, writes))
    # The records as written name their invoices too (their snapshots map them).
    written = {H: set[str](), Q: set[str]()}
    for result in results:
        if result.record is not None and result.record.invoice_id:
            written[result.record.ref.system].add(result.record.invoice_id)
    invoice_links = await _invoice_links(state, written, invoice_links)
    versions = {r.ref: r.version for side in (H, Q) for r in records[side]}
    recorder = _Recorder(invoice_links, report, logged_skips, versions)
    for action in actions:
        if isinstance(action, PaymentSkip):
            recorder.skip(action)
    for result in results:
        recorder.written(result)
    commit = Commit(
        ObjectPair.INVOICES_INVOICES,
        records=recorder.records,
        activity=recorder.activity,
        payment_links=list(recorder.links.values()),
        payment_cursors=_cursors(found, records, recorder.held),
    )
    await state.commit(commit)
    if recorder.auth_error is not None:
        raise recorder.auth_error
