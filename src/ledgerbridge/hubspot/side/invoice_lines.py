"""Writing a HubSpot invoice's line items (step 2 of `hubspot.side.invoices`), and what
the write steps share: the `Job` of one invoice and `guard`.

Line *n* of an invoice made from QBO invoice *q* is keyed `q:n` on our unique property:
a fresh invoice's lines are created with the invoice association inline; an existing
invoice's are upserted on their keys, the new ones associated, and the ones beyond the
new list unkeyed and archived.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ledgerbridge.hubspot.batch import gather_in_order
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.objects import HubSpotRecord
from ledgerbridge.sync.actions import Create, Update, Void
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory, SyncError, TerminalError
from ledgerbridge.sync.payloads import HubSpotWrite

T = TypeVar("T")
LINE_TO_INVOICE = 409  # invoice → line item (association calls from the invoice)
LINE_TO_INVOICE_INLINE = 410  # line item → invoice (inline in the line item's create)


def line_key(qbo_invoice_id: str, position: int) -> str:
    return f"{qbo_invoice_id}:{position}"


def line_position(record: HubSpotRecord, unique: str) -> tuple[int, int]:
    key = record.get(unique) or ""
    _, _, tail = key.rpartition(":")
    position = int(tail) if tail.isdigit() else 1 << 30
    return position, int(record.id) if record.id.isdigit() else 0


@dataclass
class Job:
    """One write to one HubSpot invoice, step by step."""

    action: Create | Update | Void
    qbo_id: str
    write: HubSpotWrite = field(default_factory=HubSpotWrite)
    invoice_id: str | None = None
    status: str | None = None
    error: SyncError | None = None
    fresh: bool = False
    """Made by this pass's create: no line items yet, its contact associated inline."""
    record: HubSpotRecord | None = None
    """The invoice from the last write answer (its properties, status, version)."""
    stale: bool = False
    """`record` predates a later change of the invoice (its lines: amounts)."""
    lines: list[HubSpotRecord] | None = None

    def fail(self, error: SyncError) -> None:
        self.error = self.error or error

    def answered(self, record: HubSpotRecord) -> None:
        self.record, self.stale = record, False


async def guard(jobs: Sequence[Job], call: Awaitable[T]) -> T | None:
    """The call's answer; a failure of the whole call fails every job in it."""
    try:
        return await call
    except AuthenticationError:
        raise
    except SyncError as error:
        for job in jobs:
            job.fail(error)
        return None


async def together(*calls: Coroutine[Any, Any, None]) -> None:
    """Independent steps at once. Each guards its own failures, so the only error
    one can raise is an `AuthenticationError`: raised once all have finished."""
    for answer in await gather_in_order(calls):
        if isinstance(answer, SyncError):
            raise answer


async def new_lines(client: HubSpotClient, jobs: Sequence[Job]) -> None:
    """A fresh invoice's line items, created with the invoice association inline."""
    inputs: list[tuple[str, dict[str, str], list[tuple[str, str, int]]]] = []
    owners: list[Job] = []
    for job in jobs:
        job.lines = []
        for n, props in enumerate(job.write.line_items or (), start=1):
            link = ("invoices", job.invoice_id or "", LINE_TO_INVOICE_INLINE)
            inputs.append((line_key(job.qbo_id, n), dict(props), [link]))
            owners.append(job)
    if not inputs:
        return
    result = await guard(jobs, client.create_by_unique("line_items", inputs))
    for job, item in zip(owners, result.items if result else (), strict=False):
        job.stale = True  # its amounts changed with its lines
        if item.error is not None or item.record is None:
            job.fail(item.error or TerminalError(ErrorCategory.UNKNOWN, "no line item"))
        elif job.lines is not None:
            job.lines.append(item.record)


async def replace_lines(client: HubSpotClient, jobs: Sequence[Job]) -> None:
    """An existing invoice's line items, replaced: line n upserted on its key, the
    new ones associated, the ones beyond the new list unkeyed and archived."""
    if not jobs:
        return
    current = await guard(
        jobs,
        client.batch_read_associations(
            "invoices", "line_items", [j.invoice_id or "" for j in jobs]
        ),
    )
    existing: Mapping[str, list[str]] = current or {}
    inputs: list[tuple[str, dict[str, str]]] = []
    owners: list[Job] = []
    for job in jobs:
        for n, props in enumerate(job.write.line_items or (), start=1):
            inputs.append((line_key(job.qbo_id, n), dict(props)))
            owners.append(job)
    kept: dict[int, list[str]] = {id(j): [] for j in jobs}
    if inputs:
        result = await guard(jobs, client.upsert_by_unique("line_items", inputs, isolate=True))
        for job, item in zip(owners, result.items if result else (), strict=False):
            job.stale = True
            if item.error is not None or item.record is None:
                job.fail(item.error or TerminalError(ErrorCategory.UNKNOWN, "no line item"))
            else:
                kept[id(job)].append(item.record.id)
    pairs = [
        (job.invoice_id or "", line_id)
        for job in jobs
        if job.error is None
        for line_id in kept[id(job)]
        if line_id not in existing.get(job.invoice_id or "", ())
    ]
    if pairs:
        outcome = await guard(
            jobs,
            client.batch_associate("invoices", "line_items", pairs, LINE_TO_INVOICE),
        )
        for (invoice_id, _), error in zip(pairs, outcome or (), strict=False):
            if error is not None:
                for job in jobs:
                    if job.invoice_id == invoice_id:
                        job.fail(error)
    surplus = sorted(
        {
            line_id
            for job in jobs
            if job.error is None
            for line_id in existing.get(job.invoice_id or "", ())
            if line_id not in kept[id(job)]
        }
    )
    if surplus:
        for job in jobs:
            job.stale = True
        # Free their keys first: a later line n upserts a fresh line item.
        cleared = [(line_id, {client.unique_property: ""}) for line_id in surplus]
        await guard(jobs, client.batch_update("line_items", cleared))
        await guard(jobs, client.batch_archive("line_items", surplus))
