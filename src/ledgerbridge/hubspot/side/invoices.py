"""HubSpot invoices for the engine: read with their line items, contact and deal; write
them the way HubSpot expects an integration to (R-INV-1, R-INV-4).

Reading: the changed invoices (search on `hs_lastmodifieddate`, `hubspot.changes`),
then, in batches, their associated line items, contact and deal (associations v4
batch read), and the line items themselves (batch read). Lines are ordered by the
position in their key (see below), then by id (creation order).

Writing (one batch per step for all the invoices of a pass):

1. the invoice's own properties: a create is an upsert on `ledgerbridge_qbo_id`
   (the QBO invoice id), so a retried create finds the invoice it made; HubSpot
   creates API invoices as drafts, so the status is never sent here;
2. its line items, **replaced**: line *n* is upserted on the key
   `<qbo invoice id>:<n>`, so a retry (or an unchanged line) updates the same line
   item instead of adding one; line items of the invoice beyond the new list lose
   their key and are archived (HubSpot keeps them in its recycle bin);
3. associations: line items (409) and the contact (177, replacing another contact);
   QBO-made invoices are never associated with a deal (R-INV-6);
4. the status, along HubSpot's allowed transitions (draft → open → paid, open →
   voided, paid → open), one batch per step. When the rule syncs payments, open
   and paid are HubSpot's own (computed from the invoice's payments, which the
   payment pass writes): a new invoice is only opened, and only voids are sent;
5. the invoices are read back, so the engine hashes what HubSpot holds.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ledgerbridge.domain import DiscountKind
from ledgerbridge.hubspot.batch import gather_in_order
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.codec import LINE_ITEM_PROPERTIES, fmt_decimal, writable
from ledgerbridge.hubspot.codec_commerce import INVOICE_PROPERTIES
from ledgerbridge.hubspot.objects import HubSpotRecord
from ledgerbridge.hubspot.side.invoice_lines import (
    Job,
    guard,
    line_position,
    new_lines,
    replace_lines,
    together,
)
from ledgerbridge.sync.actions import Create, Deactivate, Update, Void
from ledgerbridge.sync.errors import ErrorCategory, SyncError, TerminalError
from ledgerbridge.sync.payloads import HubSpotWrite, UnresolvedReferenceError, hubspot_payload
from ledgerbridge.sync.ports import WriteAction
from ledgerbridge.sync.rules import SyncRule

STATUS = "hs_invoice_status"
DISCOUNT = "hs_discount_amount"
TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "draft": ("open", "voided"),
    "open": ("paid", "voided"),
    "paid": ("open",),
}
INVOICE_TO_CONTACT = 177
ASSOCIATED = ("line_items", "contacts", "deals")
"""What a read invoice is enriched with (associations v4 batch reads, in this order)."""


def status_path(current: str, target: str) -> list[str]:
    """The statuses to set, in order, to move an invoice from `current` to `target`."""
    if current == target:
        return []
    queue: deque[list[str]] = deque([[current]])
    seen = {current}
    while queue:
        path = queue.popleft()
        for step in TRANSITIONS.get(path[-1], ()):
            if step == target:
                return [*path[1:], step]
            if step not in seen:
                seen.add(step)
                queue.append([*path, step])
    raise TerminalError(
        ErrorCategory.VALIDATION, f"a HubSpot invoice cannot move from {current} to {target}"
    )


@dataclass(frozen=True, slots=True)
class Written:
    """One invoice as this pass wrote it. `record` is the invoice as HubSpot holds it
    now, with its associations and `lines` (in order), built from the write answers;
    None when those answers do not give all of it (the caller reads it back)."""

    invoice_id: str
    record: HubSpotRecord | None = None
    lines: tuple[HubSpotRecord, ...] = ()


class HubSpotInvoices:
    """Invoice reads and writes on one portal (used by `HubSpotSide`)."""

    def __init__(self, client: HubSpotClient, *, currency: str = "USD") -> None:
        self.client = client
        self.currency = currency
        self.unique = client.unique_property

    def properties(self, rule: SyncRule) -> list[str]:
        names = [*INVOICE_PROPERTIES]
        names += [m.hubspot for m in rule.mappings if not m.hubspot.startswith("@")]
        names += [f.property for f in rule.filters if not f.property.startswith("@")]
        names.append(self.unique)
        return list(dict.fromkeys(names))

    # ---- reading ----

    async def enrich(
        self, records: Sequence[HubSpotRecord]
    ) -> list[tuple[HubSpotRecord, list[HubSpotRecord]]]:
        """Each invoice with its associations filled in and its line items, in order."""
        ids = [r.id for r in records if not r.archived]
        if not ids:
            return [(r, []) for r in records]
        # The three association reads at the same time (one round trip, not three).
        found = await gather_in_order(
            [self.client.batch_read_associations("invoices", to, ids) for to in ASSOCIATED]
        )
        for answer in found:
            if isinstance(answer, SyncError):
                raise answer
        lines, contacts, deals = (a for a in found if not isinstance(a, SyncError))
        wanted = sorted({i for found in lines.values() for i in found})
        items: dict[str, HubSpotRecord] = {}
        if wanted:
            props = [*LINE_ITEM_PROPERTIES, self.unique]
            result = await self.client.batch_read("line_items", wanted, props)
            items = {r.id: r for r in result.records}
        out: list[tuple[HubSpotRecord, list[HubSpotRecord]]] = []
        for record in records:
            if record.archived:
                out.append((record, []))
                continue
            associations = {
                **record.associations,
                "line_items": tuple(lines.get(record.id, ())),
                "contacts": tuple(contacts.get(record.id, ())),
                "deals": tuple(deals.get(record.id, ())),
            }
            mine = [items[i] for i in lines.get(record.id, ()) if i in items]
            mine.sort(key=lambda r: line_position(r, self.unique))
            out.append((dataclasses.replace(record, associations=associations), mine))
        return out

    # ---- writing ----

    def _job(self, rule: SyncRule, action: Create | Update | Void) -> Job:
        if isinstance(action, Void):
            return Job(action, action.qbo_id, invoice_id=action.target_ref.id, status="voided")
        qbo_id = action.source_ref.id if isinstance(action, Create) else action.qbo_id
        job = Job(action, qbo_id)
        if isinstance(action, Update):
            job.invoice_id = action.target_ref.id
        try:
            job.write = hubspot_payload(rule, action.fields)
        except UnresolvedReferenceError as exc:
            job.fail(TerminalError(ErrorCategory.MISSING_CUSTOMER, str(exc)))
            return job
        job.status = job.write.properties.get(STATUS) or None
        return job

    def _own_properties(self, job: Job) -> dict[str, str]:
        props = writable("invoices", job.write.properties)
        props.pop(STATUS, None)
        if job.write.discount_changed:
            props[DISCOUNT] = _discount_amount(job.write)
        if isinstance(job.action, Create):
            props.setdefault("hs_currency", self.currency)
        return props

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction]
    ) -> dict[int, SyncError | Written]:
        """Per action (by `id`): the invoice written, or the error."""
        jobs: list[Job] = []
        answers: dict[int, SyncError | Written] = {}
        for action in actions:
            if isinstance(action, Deactivate):
                error = TerminalError(ErrorCategory.UNKNOWN, "HubSpot invoices are not deactivated")
                answers[id(action)] = error
                continue
            jobs.append(self._job(rule, action))
        # Both properties at once (each is up to three round trips the first time).
        kinds = ["invoices"]
        if any(j.write.line_items is not None for j in jobs if j.error is None):
            kinds.append("line_items")
        await together(*(self.client.unique_property_ready(kind) for kind in kinds))
        await together(self._create_step(jobs), self._update_step(jobs))
        await self._lines_step([j for j in jobs if j.write.line_items is not None])
        await self._contacts_step(jobs)
        await self._status_step(jobs, derived=rule.payments_enabled)
        names = self.properties(rule)
        for job in jobs:
            if job.error is not None or job.invoice_id is None:
                answers[id(job.action)] = job.error or TerminalError(
                    ErrorCategory.UNKNOWN, "HubSpot returned no invoice"
                )
            else:
                answers[id(job.action)] = self._written(job, names)
        return answers

    def _written(self, job: Job, names: Sequence[str]) -> Written:
        """The invoice as a later read would give it, when the answers hold all of it:
        only for a fresh invoice whose last answer came after its lines were written
        (the status step). An update leaves parts unwritten (unchanged lines, other
        associations such as a deal), so it is read back."""
        invoice_id = job.invoice_id or ""
        if not job.fresh or job.record is None or job.stale:
            return Written(invoice_id)
        lines = tuple(
            as_read(line, [*LINE_ITEM_PROPERTIES, self.unique]) for line in job.lines or ()
        )
        associations = {
            "line_items": tuple(line.id for line in lines),
            "contacts": (job.write.contact_id,) if job.write.contact_id else (),
            "deals": (),
        }
        record = dataclasses.replace(as_read(job.record, names), associations=associations)
        return Written(invoice_id, record, lines)

    async def _create_step(self, jobs: Sequence[Job]) -> None:
        """New invoices (drafts), each with its contact inline (`create_by_unique`: an
        invoice that already exists, from a replayed create, is updated instead and
        then written like an update)."""
        creates = [j for j in jobs if j.error is None and isinstance(j.action, Create)]
        if not creates:
            return
        inputs = [
            (
                j.qbo_id,
                self._own_properties(j),
                [("contacts", j.write.contact_id, INVOICE_TO_CONTACT)]
                if j.write.contact_id
                else [],
            )
            for j in creates
        ]
        result = await guard(creates, self.client.create_by_unique("invoices", inputs))
        for job, item in zip(creates, result.items if result else (), strict=False):
            if item.error is not None or item.record is None:
                job.fail(item.error or TerminalError(ErrorCategory.UNKNOWN, "no invoice"))
            else:
                job.invoice_id, job.fresh = item.record.id, bool(item.created)
                job.answered(item.record)

    async def _update_step(self, jobs: Sequence[Job]) -> None:
        updates = [
            (j, props)
            for j in jobs
            if j.error is None and isinstance(j.action, Update)
            for props in [self._own_properties(j)]
            if props
        ]
        if not updates:
            return
        changes = [(j.invoice_id or "", props) for j, props in updates]
        batch = [j for j, _ in updates]
        result = await guard(batch, self.client.batch_update("invoices", changes, isolate=True))
        for job, item in zip(batch, result.items if result else (), strict=False):
            if item.error is not None:
                job.fail(item.error)
            elif item.record is not None:
                job.answered(item.record)

    async def _lines_step(self, jobs: Sequence[Job]) -> None:
        live = [j for j in jobs if j.error is None and j.invoice_id is not None]
        await together(
            new_lines(self.client, [j for j in live if j.fresh]),
            replace_lines(self.client, [j for j in live if not j.fresh]),
        )

    async def _contacts_step(self, jobs: Sequence[Job]) -> None:
        """The contact of an invoice that existed (a fresh one has it inline): added
        when missing, any other contact removed."""
        todo = [
            j
            for j in jobs
            if j.error is None
            and not j.fresh
            and j.invoice_id is not None
            and j.write.contact_id is not None
        ]
        if not todo:
            return
        ids = [j.invoice_id or "" for j in todo]
        current = await guard(
            todo, self.client.batch_read_associations("invoices", "contacts", ids)
        )
        existing: Mapping[str, list[str]] = current or {}
        pairs = [
            (j.invoice_id or "", j.write.contact_id or "")
            for j in todo
            if j.write.contact_id not in existing.get(j.invoice_id or "", ())
        ]
        if pairs:
            outcome = await guard(
                todo,
                self.client.batch_associate("invoices", "contacts", pairs, INVOICE_TO_CONTACT),
            )
            for (invoice_id, _), error in zip(pairs, outcome or (), strict=False):
                if error is not None:
                    for job in todo:
                        if job.invoice_id == invoice_id:
                            job.fail(error)
        removals = [
            (job, other)
            for job in todo
            for other in existing.get(job.invoice_id or "", ())
            if other != job.write.contact_id and job.error is None
        ]
        await together(
            *(
                guard(
                    [job],
                    self.client.remove_association(
                        "invoices", job.invoice_id or "", "contacts", other
                    ),
                )
                for job, other in removals
            )
        )

    async def _status_step(self, jobs: Sequence[Job], *, derived: bool) -> None:
        """Move each invoice to its status. When payments sync (`derived`), HubSpot
        computes open / paid from the invoice's payments itself: a draft is only
        opened, and only a void is written to an open or paid invoice. The current
        status comes from the last write answer; only invoices with none are read."""
        todo = [j for j in jobs if j.error is None and j.invoice_id and j.status]
        if not todo:
            return
        current: dict[str, str] = {}
        unknown = sorted({j.invoice_id or "" for j in todo if j.record is None})
        if unknown:
            result = await guard(
                [j for j in todo if j.record is None],
                self.client.batch_read("invoices", unknown, [STATUS]),
            )
            current = {r.id: r.get(STATUS) or "draft" for r in (result.records if result else [])}
        paths: dict[int, list[str]] = {}
        for job in todo:
            if job.error is not None:
                continue
            if job.record is not None:
                now = job.record.get(STATUS) or "draft"
            else:
                now = current.get(job.invoice_id or "", "draft")
            target = job.status or ""
            if derived and target in ("open", "paid"):
                target = "open" if now == "draft" else now
            try:
                paths[id(job)] = status_path(now, target)
            except TerminalError as error:
                job.fail(error)
        step = 0
        while True:
            batch = [j for j in todo if j.error is None and len(paths.get(id(j), ())) > step]
            if not batch:
                return
            changes = [(j.invoice_id or "", {STATUS: paths[id(j)][step]}) for j in batch]
            answer = await guard(batch, self.client.batch_update("invoices", changes, isolate=True))
            for job, item in zip(batch, answer.items if answer else (), strict=False):
                if item.error is not None:
                    job.fail(item.error)
                elif item.record is not None:
                    job.answered(item.record)
            step += 1


def as_read(record: HubSpotRecord, names: Sequence[str]) -> HubSpotRecord:
    """A write answer trimmed to the properties a read asks for (a read answers
    null for a requested property that has no value)."""
    return dataclasses.replace(
        record, properties={name: record.properties.get(name) for name in names}
    )


def _discount_amount(write: HubSpotWrite) -> str:
    """HubSpot's invoice discount is an amount: a percentage is applied to the lines."""
    discount = write.discount
    if discount is None:
        return ""
    if discount.kind is DiscountKind.AMOUNT:
        return fmt_decimal(discount.value)
    subtotal = sum(
        (
            Decimal(line.get("quantity") or "1") * Decimal(line.get("price") or "0")
            for line in write.line_items or ()
        ),
        Decimal(0),
    )
    return fmt_decimal((subtotal * discount.value / 100).quantize(Decimal("0.01")))
