"""The QBO side of the engine (`sync.ports.SidePort`) on the QBO connector.

- Reads: `qbo.changes.read_changes` (CDC since the cursor, query fallback, deletes),
  queries by `Id IN (…)`, and candidate look-ups. Candidates are found by reading
  the active customers / items and keeping those whose key may match: QBO's query
  language cannot compare emails case-insensitively, and a missed candidate would
  become a duplicate. (A name-list read is ~1 request per 1,000 records, and only
  happens in a pass that has unlinked records to match.)
- Writes: creates, sparse updates and deactivations in `/batch` (≤30 a request, the
  chunks sent concurrently within the budgets); invoice voids one by one after them.
  Each batch's `requestid` is a digest of its items' idempotency keys, so a retried
  chunk replays (QBO answers a replayed requestid with the original response); with a
  `BatchJournal` (the store's, in the runtime) a write that went out in a chunk before
  a crash is re-sent in that same chunk even when the next pass composes its chunks
  differently, so a create never runs twice. Items are
  created as `Service` items on the company's first income account unless one is
  configured. Invoice lines that match no item go to the "Custom line item" item,
  created on first need (`qbo.side.invoices`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.qbo import changes as qbo_changes
from ledgerbridge.qbo.batch import BatchJournal, BatchOp
from ledgerbridge.qbo.changes import ql_string
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.codec import invoice_from_qbo, party_from_qbo, product_from_qbo
from ledgerbridge.qbo.side.entities import ENTITIES
from ledgerbridge.qbo.side.feed import ChangeFeed
from ledgerbridge.qbo.side.invoices import QboInvoices
from ledgerbridge.qbo.side.mirror import MIRRORED, SKEW, NameMirror
from ledgerbridge.qbo.side.payments import QboPayments
from ledgerbridge.qbo.side.window import QboWindow
from ledgerbridge.sync.actions import Create, Deactivate, Update, Void
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory, SyncError, TerminalError
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.match import match_key
from ledgerbridge.sync.model import DomainObject, RefIndex, SideRecord
from ledgerbridge.sync.payloads import UnresolvedReferenceError, qbo_payload
from ledgerbridge.sync.payments import (
    PaymentsVia,
)
from ledgerbridge.sync.ports import Capabilities, Changes, WriteAction, WriteResult
from ledgerbridge.sync.rules import ObjectPair, SyncRule

Obj = dict[str, Any]
NAME_ENTITIES = ("Customer", "Vendor", "Employee")
ID_CHUNK = 100


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _ready(rows: list[Obj]) -> list[Obj]:
    return rows


class QboSide(PaymentsVia):
    """`SidePort` for one QBO company (realm)."""

    system = System.QUICKBOOKS

    def __init__(
        self,
        client: QboClient,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        home_currency: str = "USD",
        income_account: str | None = None,
        overlap: dt.timedelta = qbo_changes.DEFAULT_OVERLAP,
        journal: BatchJournal | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.names_ttl = 300.0
        self._pass = 0
        self._rows: dict[str, tuple[int, asyncio.Task[list[Obj]]]] = {}
        self._mirrors: dict[str, NameMirror] = {}
        """Customers kept current by the change reads (`qbo.side.mirror`)."""
        self._other_names: tuple[float, frozenset[str]] | None = None
        self.clock = clock
        self.home_currency = home_currency
        self.income_account = income_account
        self.overlap = overlap
        self.invoices = QboInvoices(client, self._income_account)
        self.feed = ChangeFeed(client, clock, overlap)
        """The changes of every entity of a pass, read at once (`qbo.side.feed`)."""
        self.payments = QboPayments(
            client, self.invoices, clock=clock, overlap=overlap, home_currency=home_currency
        )
        self.payments.feed = self.feed
        self.capabilities = Capabilities(
            window=QboWindow(self), payments=self.payments, custom_line_item=self, sent_creates=self
        )

    # ---- reading ----

    def decode(self, pair: ObjectPair, raw: Obj) -> DomainObject | None:
        try:
            if pair is ObjectPair.CONTACTS_CUSTOMERS:
                return party_from_qbo(raw)
            if pair is ObjectPair.PRODUCTS_ITEMS:
                return product_from_qbo(raw, home_currency=self.home_currency)
            return invoice_from_qbo(raw, home_currency=self.home_currency)
        except (ValueError, KeyError, TypeError):
            return None  # mappings fall back to the raw JSON

    def side_record(self, rule: SyncRule, raw: Obj) -> SideRecord:
        record = qbo_changes.QboRecord.from_raw(ENTITIES[rule.object_pair], raw)
        deleted = record.deleted or raw.get("Active") is False
        return SideRecord(
            RecordRef(System.QUICKBOOKS, record.id),
            record.sync_token,
            record.last_updated or self.clock(),
            None if record.deleted else self.decode(rule.object_pair, raw),
            raw,
            deleted,
        )

    async def read_changes(
        self, rule: SyncRule, since: dt.datetime | None, refs: RefIndex
    ) -> Changes:
        self._pass += 1  # a new pass: name-list reads of the last one are stale
        entity = ENTITIES[rule.object_pair]
        mirror = self._mirrors.get(entity)
        start = since
        if mirror is not None and since is not None and mirror.links_back_from(since):
            start = mirror.taken_at - SKEW  # the first read after a whole read reaches it
        found = (self.feed.take(entity, since) if start == since else None) or (
            await qbo_changes.read_changes(
                self.client, [entity], start, self.clock(), overlap=self.overlap
            )
        )
        cursor = found.next_cursor if since is None else max(found.next_cursor, since)
        if mirror is not None:
            if mirror.covers(start):
                mirror.applied((r.raw for r in found.records), cursor, self._pass)
            else:
                del self._mirrors[entity]  # it may miss a change: read the list whole
        return Changes([self.side_record(rule, r.raw) for r in found.records], cursor)

    def _where_all(self, entity: str) -> str:
        return " WHERE Active IN (true, false)" if entity in qbo_changes.LIST_ENTITIES else ""

    async def read_records(
        self, rule: SyncRule, ids: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        entity = ENTITIES[rule.object_pair]
        values = sorted(ids)
        found: list[SideRecord] = []
        for start in range(0, len(values), ID_CHUNK):
            chunk = ", ".join(ql_string(i) for i in values[start : start + ID_CHUNK])
            where = self._where_all(entity)
            where = f"{where} AND Id IN ({chunk})" if where else f" WHERE Id IN ({chunk})"
            rows = await self.client.query_all(f"SELECT * FROM {entity}{where}")
            found.extend(self.side_record(rule, row) for row in rows if "Id" in row)
        return found

    def _all_rows(self, entity: str) -> asyncio.Task[list[Obj]]:
        """Every row of a name-list entity (active or not), read once per pass: the
        candidate look-up and the DisplayName check of one pass share the read. Customers
        come from their mirror when this pass's change read brought it up to date."""
        held = self._rows.get(entity)
        if held is not None and held[0] == self._pass:
            return held[1]
        mirror = self._mirrors.get(entity)
        if mirror is not None and mirror.answers(self._pass):
            # Once per change read: a pass that reads no QBO change must not reuse it.
            mirror.current_pass = -1
            task = asyncio.ensure_future(_ready(mirror.all_rows()))
        else:
            task = asyncio.ensure_future(self._read_all(entity))
        self._rows[entity] = (self._pass, task)
        return task

    async def _read_all(self, entity: str) -> list[Obj]:
        started = self.clock()
        rows = await self.client.query_all(f"SELECT * FROM {entity}{self._where_all(entity)}")
        if entity in MIRRORED:
            # It answers only once a later change read has brought it up to date (a
            # backfill, which reads no changes, always reads the list whole).
            self._mirrors[entity] = NameMirror.from_rows(started, rows)
        return rows

    async def find_candidates(
        self, rule: SyncRule, keys: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        if not keys:
            return []
        entity = ENTITIES[rule.object_pair]
        wanted = set(keys)
        found: list[SideRecord] = []
        for row in await self._all_rows(entity):
            if row.get("Active") is False:
                continue  # an inactive record is not a match candidate
            record = self.side_record(rule, row)
            if match_key(rule.object_pair, snapshot(rule, record, refs)) in wanted:
                found.append(record)
        return found

    async def display_names(self) -> frozenset[str]:
        """Customers' names are read fresh each pass; vendors' and employees' (which the
        sync never writes) are kept for `names_ttl` seconds."""
        names = {
            str(r["DisplayName"]) for r in await self._all_rows("Customer") if r.get("DisplayName")
        }
        now = time.monotonic()
        if self._other_names is None or now - self._other_names[0] > self.names_ttl:
            others: set[str] = set()
            for entity in NAME_ENTITIES:
                if entity == "Customer":
                    continue
                statement = f"SELECT * FROM {entity}{self._where_all(entity)}"
                async for row in self.client.query(statement):
                    if row.get("DisplayName"):
                        others.add(str(row["DisplayName"]))
            self._other_names = (now, frozenset(others))
        return frozenset(names) | self._other_names[1]

    # ---- writing ----

    async def _income_account(self) -> str:
        if self.income_account is None:
            rows = await self.client.query_all(
                "SELECT * FROM Account WHERE AccountType = 'Income'", page_size=10
            )
            if not rows:
                raise TerminalError(
                    ErrorCategory.VALIDATION, "the QuickBooks company has no income account"
                )
            self.income_account = str(rows[0]["Id"])
        return self.income_account

    async def custom_line_item(self, rule: SyncRule, *, create: bool = False) -> str | None:
        """The "Custom line item" item's id (R-PRD-3); created first when `create`."""
        return await self.invoices.custom_line_item(rule, create=create)

    async def _create_body(self, rule: SyncRule, action: Create, refs: RefIndex) -> Obj:
        body = qbo_payload(rule, action.fields, refs, display_name=action.display_name)
        if rule.object_pair is ObjectPair.PRODUCTS_ITEMS:
            body.setdefault("Type", "Service")
            body.setdefault("IncomeAccountRef", {"value": await self._income_account()})
        if rule.object_pair is ObjectPair.INVOICES_INVOICES:
            body = await self.invoices.with_custom_field_ids(body)
        return body

    async def _invoice_refs(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> RefIndex:
        """`refs` with the custom line item, created now if a line to write needs it."""
        if rule.object_pair is not ObjectPair.INVOICES_INVOICES or refs.custom_line_item_id:
            return refs
        for action in actions:
            if not isinstance(action, Create | Update):
                continue
            lines = action.fields.get("lines")
            if isinstance(lines, list) and any(
                not line.get("product") or refs.item_for_product(str(line["product"])) is None
                for line in lines
            ):
                custom = await self.custom_line_item(rule, create=True)
                return dataclasses.replace(refs, custom_line_item_id=custom)
        return refs

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        self._rows.clear()  # our writes change the name lists: read them again
        entity = ENTITIES[rule.object_pair]
        mirror = self._mirrors.get(entity)
        answers: dict[int, WriteResult] = {}
        batched: list[tuple[WriteAction, BatchOp]] = []
        voids: list[Void] = []
        refs = await self._invoice_refs(rule, actions, refs)
        for action in actions:
            try:
                if isinstance(action, Void):
                    voids.append(action)
                    continue
                if isinstance(action, Create):
                    body = await self._create_body(rule, action, refs)
                    op = BatchOp.create(entity, body, request_id=action.idempotency_key)
                    batched.append((action, op))
                    continue
                batched.append((action, await self._batch_op(rule, entity, action, refs)))
            except AuthenticationError:
                raise
            except UnresolvedReferenceError as exc:
                error = TerminalError(ErrorCategory.VALIDATION, str(exc))
                answers[id(action)] = WriteResult(action, error=error)
            except SyncError as error:
                answers[id(action)] = WriteResult(action, error=error)
        if batched:
            ops = [op for _, op in batched]
            sent = await self._sent_before(batched)
            results = await self.client.batch(ops, journal=self.journal, singles_when_busy=True)
            for (action, op), result in zip(batched, results, strict=True):
                if isinstance(result, SyncError):
                    answers[id(action)] = WriteResult(action, error=_named(rule, result))
                    mirror = self._mirrors.pop(entity, None)  # it may have been written
                else:
                    if mirror is not None:
                        mirror.apply([result])
                    record = self.side_record(rule, result)
                    replayed = op.request_id in sent
                    answers[id(action)] = WriteResult(action, record, replayed=replayed)
        for void in voids:
            try:
                raw = await self.invoices.void(
                    void.target_ref.id, void.base_version, void.idempotency_key
                )
                answers[id(void)] = WriteResult(void, self.side_record(rule, raw))
            except AuthenticationError:
                raise
            except SyncError as error:
                answers[id(void)] = WriteResult(void, error=error)
        return [answers[id(a)] for a in actions]

    async def sent_creates(self, keys: Collection[str]) -> frozenset[str]:
        if self.journal is None or not keys:
            return frozenset()
        return frozenset(await self.journal.recall(list(keys)))

    async def _sent_before(self, batched: Sequence[tuple[WriteAction, BatchOp]]) -> set[str]:
        """The request ids of the creates a crashed pass sent already: QBO replays their
        first answer (the record as it was then created), see `WriteResult.replayed`."""
        creates = [op.request_id for action, op in batched if isinstance(action, Create)]
        return set(await self.sent_creates(creates))

    async def _batch_op(
        self, rule: SyncRule, entity: str, action: Update | Deactivate, refs: RefIndex
    ) -> BatchOp:
        body: Obj
        if isinstance(action, Deactivate):
            body = {"Active": False}
        else:
            body = qbo_payload(rule, action.fields, refs)
            if rule.object_pair is ObjectPair.INVOICES_INVOICES:
                body = await self.invoices.with_custom_field_ids(body)
        body["Id"] = action.target_ref.id
        body["SyncToken"] = action.base_version or "0"
        return BatchOp.update(entity, body, request_id=action.idempotency_key)


def _named(rule: SyncRule, error: SyncError) -> SyncError:
    """QBO answers a taken name with the same fault (6240) for a customer's display name
    and an item's name; an item's is said as such (its fix is not the contact rule's)."""
    if (
        rule.object_pair is ObjectPair.PRODUCTS_ITEMS
        and error.category is ErrorCategory.DUPLICATE_DISPLAY_NAME
    ):
        return TerminalError(ErrorCategory.DUPLICATE_ITEM_NAME, error.detail)
    return error
