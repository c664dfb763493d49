"""The HubSpot side of the engine (`sync.ports.SidePort`) on the HubSpot connector.

- Reads: `hubspot.changes.read_changes` (search on the last-modified date, plus
  archived records) or, in a pass woken by webhooks that named every changed contact
  or product (`known`), a batch read of those; batch reads by id; and candidate
  look-ups: contacts by a batch read on `email` (their unique id property), others by
  search on the match property (`hs_sku`) with the IN operator, the chunks concurrent.
- Writes: creates go through `upsert_by_unique` keyed on our unique property
  (`ledgerbridge_qbo_id`) holding the id of the QBO record they come from, so a
  retried or replayed create finds the record it made instead of making another;
  updates through batch update, the chunks of 100 sent concurrently. A written
  contact or product is taken from the write's answer (HubSpot answers with the
  record's properties and version, as a later read gives them), so the engine
  hashes what HubSpot holds without reading it back.
- Invoices (with their line items, contact and deal) are read and written by
  `hubspot.side.invoices.HubSpotInvoices`; payments by `hubspot.side.payments`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Collection, Sequence

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.hubspot import changes as hs_changes
from ledgerbridge.hubspot.batch import BatchResult, gather_in_order
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.codec import (
    CONTACT_PROPERTIES,
    PRODUCT_PROPERTIES,
    CodecError,
    decode_contact,
    decode_product,
    writable,
)
from ledgerbridge.hubspot.codec_commerce import decode_invoice
from ledgerbridge.hubspot.objects import HubSpotRecord, ObjectType
from ledgerbridge.hubspot.side.invoices import HubSpotInvoices, as_read
from ledgerbridge.hubspot.side.kinds import OBJECTS, object_of
from ledgerbridge.hubspot.side.payments import HubSpotPayments
from ledgerbridge.hubspot.side.window import HubSpotWindow
from ledgerbridge.sync.actions import Create, Deactivate, Update, Void
from ledgerbridge.sync.defaults import MATCH_FIELD
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory, SyncError, TerminalError
from ledgerbridge.sync.model import DomainObject, RefIndex, SideRecord
from ledgerbridge.sync.payloads import UnresolvedReferenceError, hubspot_payload
from ledgerbridge.sync.payments import (
    PaymentsVia,
)
from ledgerbridge.sync.ports import Capabilities, Changes, WriteAction, WriteResult
from ledgerbridge.sync.rules import ObjectPair, SyncRule

CODEC_PROPERTIES: dict[ObjectPair, tuple[str, ...]] = {
    ObjectPair.CONTACTS_CUSTOMERS: CONTACT_PROPERTIES,
    ObjectPair.PRODUCTS_ITEMS: PRODUCT_PROPERTIES,
}
IN_CHUNK = 100
WRITTEN_TYPES: dict[ObjectType, tuple[ObjectType, ...]] = {"invoices": ("invoices", "line_items")}
"""The object types a rule's creates write, where more than its own (an invoice's lines)."""


class HubSpotSide(PaymentsVia):
    """`SidePort` for one HubSpot portal."""

    system = System.HUBSPOT

    def __init__(
        self,
        client: HubSpotClient,
        *,
        currency: str = "USD",
        overlap: dt.timedelta = dt.timedelta(0),
    ) -> None:
        self.client = client
        self.currency = currency
        self.overlap = overlap
        self.invoices = HubSpotInvoices(client, currency=currency)
        self.payments = HubSpotPayments(client, overlap=overlap)
        self.capabilities = Capabilities(
            window=HubSpotWindow(self), payments=self.payments, prepare=self.prepare_writes
        )
        self.known: dict[ObjectPair, frozenset[str]] = {}
        """Set by the runtime for one pass (`runtime.runner.run_pass`): per pair, the ids of
        every HubSpot record its webhooks say changed. That pair's changes are then those
        records, read by id; its search cursor stays where the last search left it."""

    # ---- reading ----

    def properties(self, rule: SyncRule) -> list[str]:
        if rule.object_pair is ObjectPair.INVOICES_INVOICES:
            return self.invoices.properties(rule)
        names = [*CODEC_PROPERTIES.get(rule.object_pair, ())]
        names += [m.hubspot for m in rule.mappings if not m.hubspot.startswith("@")]
        names += [f.property for f in rule.filters if not f.property.startswith("@")]
        names.append(self.client.unique_property)
        return list(dict.fromkeys(names))

    def side_record(
        self, rule: SyncRule, record: HubSpotRecord, lines: Sequence[HubSpotRecord] = ()
    ) -> SideRecord:
        domain: DomainObject | None = None
        try:
            if rule.object_pair is ObjectPair.CONTACTS_CUSTOMERS:
                domain = decode_contact(record)
            elif rule.object_pair is ObjectPair.PRODUCTS_ITEMS:
                domain = decode_product(record, self.currency)
            elif not record.archived:
                domain = decode_invoice(record, lines)
        except CodecError:
            domain = None  # mappings fall back to the raw properties
        updated = record.updated_at or record.created_at or dt.datetime.now(dt.UTC)
        return SideRecord(
            RecordRef(System.HUBSPOT, record.id),
            record.updated_at.isoformat() if record.updated_at else None,
            updated,
            domain,
            dict(record.properties),
            record.archived,
            counterpart_id=record.properties.get(self.client.unique_property) or None,
        )

    async def read_changes(
        self, rule: SyncRule, since: dt.datetime | None, refs: RefIndex
    ) -> Changes:
        known = self.known.get(rule.object_pair)
        if known is not None:
            records = await self.read_records(rule, known, refs)
            records.sort(key=lambda r: (r.updated_at, r.ref.id))
            return Changes(records, None)  # the poll's full pass searches from the cursor
        found = await hs_changes.read_changes(
            self.client, object_of(rule), since, self.properties(rule), overlap=self.overlap
        )
        return Changes(await self._side_records(rule, found.records), found.next_cursor)

    async def _side_records(
        self, rule: SyncRule, records: Sequence[HubSpotRecord]
    ) -> list[SideRecord]:
        if rule.object_pair is not ObjectPair.INVOICES_INVOICES:
            return [self.side_record(rule, r) for r in records]
        return [
            self.side_record(rule, r, lines) for r, lines in await self.invoices.enrich(records)
        ]

    async def read_records(
        self, rule: SyncRule, ids: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        if not ids:
            return []
        result = await self.client.batch_read(object_of(rule), sorted(ids), self.properties(rule))
        return await self._side_records(rule, result.records)

    async def find_candidates(
        self, rule: SyncRule, keys: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        name = MATCH_FIELD.get(rule.object_pair)
        mapping = rule.mapping(name) if name else None
        if mapping is None or not keys:
            return []
        values = sorted(keys)
        obj = object_of(rule)
        if obj == "contacts" and mapping.hubspot == "email":
            # Email is a contact's unique id property: a batch read by it finds the
            # contacts at once (100 a request, concurrent), outside the search API's
            # 4-a-second limit and its index lag. Unknown emails are simply not found.
            result = await self.client.batch_read(
                obj, values, self.properties(rule), id_property="email"
            )
            return [self.side_record(rule, r) for r in result.records if not r.archived]

        async def chunk_of(chunk: list[str]) -> list[HubSpotRecord]:
            group = {
                "filters": [{"propertyName": mapping.hubspot, "operator": "IN", "values": chunk}]
            }
            search = self.client.search(obj, [group], properties=self.properties(rule))
            return [record async for record in search]

        chunks = [values[start : start + IN_CHUNK] for start in range(0, len(values), IN_CHUNK)]
        found = await gather_in_order([chunk_of(c) for c in chunks])
        errors = [a for a in found if isinstance(a, SyncError)]
        if errors:
            auth = [e for e in errors if isinstance(e, AuthenticationError)]
            raise auth[0] if auth else errors[0]
        return [self.side_record(rule, r) for a in found if isinstance(a, list) for r in a]

    async def display_names(self) -> frozenset[str]:
        return frozenset()

    # ---- writing ----

    async def prepare_writes(self, rules: Sequence[SyncRule]) -> None:
        """Set up at once the unique property of every object type that `rules` create
        records of in HubSpot (each up to three round trips the first time), which their
        first writes would otherwise do one type after another. Best effort: a set-up that
        fails here is tried again, and its error raised, where the first write needs it."""
        objects = {
            OBJECTS[r.object_pair]
            for r in rules
            if System.QUICKBOOKS in r.direction.sources and r.object_pair in OBJECTS
        }
        kinds = {kind for obj in objects for kind in WRITTEN_TYPES.get(obj, (obj,))}
        await asyncio.gather(
            *(self.client.unique_property_ready(k) for k in sorted(kinds)), return_exceptions=True
        )

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        obj = object_of(rule)
        answers: dict[int, WriteResult] = {}
        if rule.object_pair is ObjectPair.INVOICES_INVOICES:
            unread: dict[int, str] = {}
            by_id = {id(a): a for a in actions}
            for key, outcome in (await self.invoices.apply(rule, actions)).items():
                action = by_id[key]
                if isinstance(outcome, SyncError):
                    answers[key] = WriteResult(action, error=outcome)
                elif outcome.record is None:
                    unread[key] = outcome.invoice_id
                else:
                    record = self.side_record(rule, outcome.record, outcome.lines)
                    answers[key] = WriteResult(action, record=record)
            await self._read_back(rule, answers, unread, actions)
            return [answers[id(a)] for a in actions]
        creates: list[tuple[Create, dict[str, str]]] = []
        updates: list[tuple[Update, dict[str, str]]] = []
        for action in actions:
            if isinstance(action, Deactivate | Void):
                error = TerminalError(ErrorCategory.UNKNOWN, "HubSpot records are not deactivated")
                answers[id(action)] = WriteResult(action, error=error)
                continue
            try:
                props = writable(obj, hubspot_payload(rule, action.fields).properties)
            except UnresolvedReferenceError as exc:
                error = TerminalError(ErrorCategory.VALIDATION, str(exc))
                answers[id(action)] = WriteResult(action, error=error)
                continue
            if isinstance(action, Create):
                creates.append((action, props))
            else:
                updates.append((action, props))
        if creates:
            await self.client.unique_property_ready(obj)
        calls = []
        if creates:
            inputs = [(a.source_ref.id, props) for a, props in creates]
            call = self.client.upsert_by_unique(obj, inputs, isolate=True)
            calls.append(self._run(rule, answers, [a for a, _ in creates], call))
        if updates:
            changes = [(a.target_ref.id, props) for a, props in updates]
            call = self.client.batch_update(obj, changes, isolate=True)
            calls.append(self._run(rule, answers, [a for a, _ in updates], call))
        for failure in await gather_in_order(calls):
            if isinstance(failure, SyncError):
                raise failure
        return [answers[id(a)] for a in actions]

    async def _run(
        self,
        rule: SyncRule,
        answers: dict[int, WriteResult],
        actions: Sequence[Create | Update],
        call: Awaitable[BatchResult],
    ) -> None:
        """Each action's result from the batch answer: the record as written (HubSpot
        answers a write with the record's properties and version, which is what a
        later read gives: no read-back), or the error of its input or its chunk."""
        try:
            result = await call
        except AuthenticationError:
            raise
        except SyncError as failure:
            for action in actions:
                answers[id(action)] = WriteResult(action, error=failure)
            return
        names = self.properties(rule)
        for action, item in zip(actions, result.items, strict=True):
            if item.error is not None or item.record is None:
                error = item.error or TerminalError(ErrorCategory.UNKNOWN, "no record returned")
                answers[id(action)] = WriteResult(action, error=error)
            else:
                record = self.side_record(rule, as_read(item.record, names))
                answers[id(action)] = WriteResult(action, record=record)

    async def _read_back(
        self,
        rule: SyncRule,
        answers: dict[int, WriteResult],
        written: dict[int, str],
        actions: Sequence[WriteAction],
    ) -> None:
        """Written invoices whose write answers do not hold all of them (see
        `HubSpotInvoices._written`), as HubSpot now holds them."""
        if not written:
            return
        current = {
            r.ref.id: r for r in await self.read_records(rule, set(written.values()), RefIndex())
        }
        for action in actions:
            record_id = written.get(id(action))
            if record_id is None:
                continue
            record = current.get(record_id)
            if record is None:
                error = TerminalError(ErrorCategory.NOT_FOUND, f"record {record_id} vanished")
                answers[id(action)] = WriteResult(action, error=error)
            else:
                answers[id(action)] = WriteResult(action, record=record)
