"""The inputs of the pure planner: records, links, snapshots and context.

A *snapshot* is a record reduced to its mapped fields, keyed by mapping name, in a
canonical JSON-serialisable form (see `ledgerbridge.sync.canonical`). Two records
agree when their snapshots are equal, whichever side they live on. The *base*
snapshot of a link is the snapshot both sides agreed on at the last sync; the
per-side hashes recognise echoes of our own writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from ledgerbridge.domain import Invoice, Party, Payment, Product, RecordRef, System
from ledgerbridge.sync.rules import ObjectPair

LineValue: TypeAlias = dict[str, str | None]
CanonicalValue: TypeAlias = str | list[LineValue] | None
Snapshot: TypeAlias = Mapping[str, CanonicalValue]
DomainObject: TypeAlias = Party | Product | Invoice | Payment
PAYMENTS: Final = "payments"
"""The store's object type of payment links, records, activity and cursors."""
LinkType: TypeAlias = ObjectPair | Literal["payments"]
"""What a link pairs: records of a rule's object pair, or payments (of the invoice rule)."""


def snapshot_hash(snapshot: Snapshot) -> str:
    """Stable hash of a snapshot: SHA-256 of its sorted-key JSON."""
    text = json.dumps(dict(snapshot), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SideRecord:
    """One record as read from one side, as the connector hands it to the planner.

    `domain` is the codec's typed object (used by built-in mappings and invoice lines);
    `raw` is the service's JSON (HubSpot: the `properties` dict; QBO: the entity JSON),
    used by custom mappings and filters. `version` is QBO's SyncToken or HubSpot's
    `updatedAt`; `deleted` marks an archived HubSpot record or a deleted QBO one.
    """

    ref: RecordRef
    version: str | None
    updated_at: dt.datetime
    domain: DomainObject | None
    raw: Mapping[str, Any] = field(default_factory=dict)
    deleted: bool = False
    counterpart_id: str | None = None
    """The id of the other side's record this one was created from, when the record says
    so (HubSpot records we create carry the QBO id in a unique property). A crash between
    such a create and its link leaves this as the only evidence that the two belong
    together; the planner links them by it before matching by email or SKU."""

    @property
    def system(self) -> System:
        return self.ref.system


@dataclass(frozen=True, slots=True)
class Link:
    """One linked pair, as the store keeps it: records of an object pair, or payments
    (`payment_link`)."""

    object_type: LinkType
    hubspot_id: str
    qbo_id: str
    hubspot_version: str | None
    qbo_version: str | None
    hubspot_hash: str
    qbo_hash: str
    base: Snapshot
    origin: System | None = None
    """The side the record was first created on (None when linked by matching)."""

    @property
    def type_value(self) -> str:
        """The store's object type."""
        return self.object_type.value if isinstance(self.object_type, ObjectPair) else PAYMENTS

    def id_on(self, system: System) -> str:
        return self.hubspot_id if system is System.HUBSPOT else self.qbo_id

    def ref_on(self, system: System) -> RecordRef:
        return RecordRef(system, self.id_on(system))

    def hash_on(self, system: System) -> str:
        return self.hubspot_hash if system is System.HUBSPOT else self.qbo_hash

    def version_on(self, system: System) -> str | None:
        return self.hubspot_version if system is System.HUBSPOT else self.qbo_version


@dataclass(frozen=True, slots=True)
class LinkState:
    """What a link should hold once every write planned for its pair has succeeded.

    Hashes of written sides are the planner's prediction; the engine should prefer
    the hash of the snapshot of the write response (services normalise values).
    """

    base: Snapshot
    hubspot_hash: str
    qbo_hash: str
    origin: System | None = None

    def hash_on(self, system: System) -> str:
        return self.hubspot_hash if system is System.HUBSPOT else self.qbo_hash


@dataclass(frozen=True, slots=True)
class RefIndex:
    """Translates references across sides through the links of other object pairs.

    `contacts` maps HubSpot contact ids to QBO customer ids, `products` HubSpot
    product ids to QBO item ids. `custom_line_item_id` is the QBO item that takes
    invoice lines matching no item (R-PRD-3), once it exists.
    """

    contacts: Mapping[str, str] = field(default_factory=dict)
    products: Mapping[str, str] = field(default_factory=dict)
    custom_line_item_id: str | None = None
    _customers: dict[str, str] = field(init=False, repr=False, compare=False)
    _items: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The reverse look-ups, built once: an invoice pass asks one per invoice and line.
        object.__setattr__(self, "_customers", _inverse(self.contacts))
        object.__setattr__(self, "_items", _inverse(self.products))

    @classmethod
    def from_links(cls, links: Sequence[Link], custom_line_item_id: str | None = None) -> RefIndex:
        contacts = {
            x.hubspot_id: x.qbo_id for x in links if x.object_type is ObjectPair.CONTACTS_CUSTOMERS
        }
        products = {
            x.hubspot_id: x.qbo_id for x in links if x.object_type is ObjectPair.PRODUCTS_ITEMS
        }
        return cls(contacts, products, custom_line_item_id)

    def with_planned(self, planned: RefIndex) -> RefIndex:
        """These links, and those a dry run's earlier rules would make (`planned`) where
        none is stored (`sync.report.planned_links`)."""
        return RefIndex(
            {**planned.contacts, **self.contacts},
            {**planned.products, **self.products},
            self.custom_line_item_id,
        )

    def customer_for_contact(self, hubspot_id: str) -> str | None:
        return self.contacts.get(hubspot_id)

    def contact_for_customer(self, qbo_id: str) -> str | None:
        return self._customers.get(qbo_id)

    def item_for_product(self, hubspot_id: str) -> str | None:
        return self.products.get(hubspot_id)

    def product_for_item(self, qbo_id: str) -> str | None:
        return self._items.get(qbo_id)


def _inverse(mapping: Mapping[str, str]) -> dict[str, str]:
    return {v: k for k, v in mapping.items()}


@dataclass(frozen=True, slots=True)
class PlanContext:
    """Everything else the planner needs, gathered by the engine before planning.

    - `sync_started_at`: when the rule started syncing (fixed filters, R-INV-2).
    - `refs`: cross-pair reference translation (invoice customers and products).
    - `qbo_display_names`: DisplayNames in use in QBO (customers, vendors, employees).
    - `hubspot_candidates` / `qbo_candidates`: unchanged records the engine looked up
      by match key (email, SKU) for the changed, unlinked records of the other side,
      so that matching sees records outside the changed set (`match.lookup_keys`).
    - `associated`: associated records per record, for associated filters.
    - `sent_creates`: keys of creates a pass sent before it died, among the unlinked
      records the planner would otherwise not create (an invoice voided since): the
      create is sent again so the service replays it and the copy gets linked (and
      then voided), never left unlinked to be copied back (R-BEY-1).
    """

    sync_started_at: dt.datetime
    refs: RefIndex = field(default_factory=RefIndex)
    qbo_display_names: frozenset[str] = frozenset()
    hubspot_candidates: Sequence[SideRecord] = ()
    qbo_candidates: Sequence[SideRecord] = ()
    associated: Mapping[RecordRef, Mapping[str, Sequence[SideRecord]]] = field(default_factory=dict)
    sent_creates: frozenset[str] = frozenset()

    def candidates_on(self, system: System) -> Sequence[SideRecord]:
        return self.hubspot_candidates if system is System.HUBSPOT else self.qbo_candidates


CURSOR_MARGIN = dt.timedelta(seconds=1)


def held_cursor(
    cursor: dt.datetime | None, held: Sequence[dt.datetime], margin: dt.timedelta = CURSOR_MARGIN
) -> dt.datetime | None:
    """The next cursor of a side, never past a record that must be read again: `margin`
    before the earliest update time in `held`, when that is earlier than `cursor`."""
    if not held:
        return cursor
    hold = min(held) - margin
    return hold if cursor is None else min(cursor, hold)
