"""The engine's seams: what it needs of each service and of the state store.

`sync/` imports no HTTP and no database, so the engine talks to the world through
these Protocols; `hubspot.side`, `qbo.side` and `store.state` implement them with the
connectors and the store, and tests implement them in memory.

- `SidePort`: one per service (HubSpot, QBO). Reads changes since a cursor, reads
  records by id, looks up candidates by match key (email, SKU), and applies writes
  in batches, returning per-action results with the record as written (its id,
  version and the data its snapshot is computed from).
- `StatePort`: rules, links, cursors, and one atomic `commit` per rule of a pass
  (links, sync records, activity, then cursors, all or nothing). A pass reads only
  the links it needs (`load_links_for`) and the cross-pair ids (`load_refs`), so its
  cost does not grow with the number of records already synced.

Errors: ports raise (or return, per write) only `ledgerbridge.sync.errors` types.
`AuthenticationError` raised by any port call stops the pass for the connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.actions import Create, Deactivate, Update, Void
from ledgerbridge.sync.errors import ErrorCategory, SyncError
from ledgerbridge.sync.model import Link, RefIndex, SideRecord
from ledgerbridge.sync.payments import PaymentPort, PaymentState
from ledgerbridge.sync.rules import ObjectPair, SyncRule
from ledgerbridge.sync.window import WindowReader

WriteAction: TypeAlias = Create | Update | Deactivate | Void


@dataclass(frozen=True, slots=True)
class Changes:
    """Records changed on one side since a cursor, and the cursor to store next.

    `next_cursor` None means "keep the current cursor" (nothing was read).
    """

    records: Sequence[SideRecord]
    next_cursor: dt.datetime | None


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What happened to one write: the record as written, or the error (never both)."""

    action: WriteAction
    record: SideRecord | None = None
    error: SyncError | None = None
    replayed: bool = False
    """A create sent before (a crashed pass): the service may have answered with the
    record as that first try wrote it, without the source's changes since."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.record is not None


class CustomLineItemSource(Protocol):
    """A QBO side that knows the "Custom line item" item (R-PRD-3)."""

    async def custom_line_item(self, rule: SyncRule, *, create: bool = False) -> str | None:
        """Its id (None while it does not exist); created first when `create`."""
        ...


class SentCreates(Protocol):
    """A side that journals its creates' keys before sending them (QBO's `requestid`)."""

    async def sent_creates(self, keys: Collection[str]) -> frozenset[str]:
        """Those of `keys` whose create was sent before (by a pass that may have died
        before saving its link): sending one again replays the first answer."""
        ...


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a side offers beyond `SidePort`, said explicitly (never found by `isinstance`):
    a wrapper around a side forwards its inner side's `capabilities`, or says which it
    takes away, so no feature is switched off by a wrapper that forgot a method."""

    window: WindowReader | None = None
    """The backfill window read in creation order (`operations.backfill`)."""
    payments: PaymentPort | None = None
    """Payments (the invoice rule's payment pass, R-PAY-*)."""
    custom_line_item: CustomLineItemSource | None = None
    """QBO's "Custom line item" item (R-PRD-3)."""
    sent_creates: SentCreates | None = None
    """The keys of creates sent before (a crashed pass), see `PlanContext.sent_creates`."""
    prepare: Callable[[Sequence[SyncRule]], Awaitable[None]] | None = None
    """Set up ahead, all at once, what the first writes of these rules would set up one
    after another (HubSpot's unique properties); best effort, never raises."""


NO_CAPABILITIES = Capabilities()


class SidePort(Protocol):
    """One service (HubSpot or QBO) as the engine sees it."""

    @property
    def system(self) -> System: ...

    @property
    def capabilities(self) -> Capabilities:
        """Its optional features (`Capabilities`)."""
        ...

    async def read_changes(
        self, rule: SyncRule, since: dt.datetime | None, refs: RefIndex
    ) -> Changes:
        """Records of the rule's object type changed (or deleted) at or after `since`."""
        ...

    async def read_records(
        self, rule: SyncRule, ids: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        """The current state of these records (missing ones are left out)."""
        ...

    async def find_candidates(
        self, rule: SyncRule, keys: Collection[str], refs: RefIndex
    ) -> list[SideRecord]:
        """Live records whose match key (`match.match_key`) may be one of `keys`.

        A superset is fine: the planner matches exactly.
        """
        ...

    async def display_names(self) -> frozenset[str]:
        """Names that new records may not take (QBO DisplayNames); empty elsewhere."""
        ...

    async def apply(
        self, rule: SyncRule, actions: Sequence[WriteAction], refs: RefIndex
    ) -> list[WriteResult]:
        """Apply writes (idempotently, keyed on each action's `idempotency_key`).

        One result per action, in order. Per-record failures are returned, not raised;
        an `AuthenticationError` is raised.
        """
        ...


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """The sync-record status of one record after a pass (R-HLT-2)."""

    ref: RecordRef
    status: str  # synced | failed | excluded | pending (see store.RecordStatus)
    label: str | None = None
    category: ErrorCategory | None = None
    detail: str | None = None
    excluded_by: str | None = None
    object_type: str | None = None
    """The store's object type when it is not the commit's (payments)."""


@dataclass(frozen=True, slots=True)
class ActivityEntry:
    """One line of the audit log: a decision or a write (R-HLT-4, R-BEY-4)."""

    ref: RecordRef
    direction: str  # hubspot_to_qbo | qbo_to_hubspot | none
    operation: str  # create | update | link | deactivate | void | exclude | fail | skip
    outcome: str  # ok | failed | pending | planned
    details: Mapping[str, Any] = field(default_factory=dict)
    object_type: str | None = None


@dataclass(frozen=True, slots=True)
class Commit:
    """Everything one rule's pass records, in one transaction: links, sync records and
    activity first, then the cursors. The invoice rule's payment pass commits its
    payment links and cursors here too (`payment_links`, `payment_cursors`)."""

    object_type: ObjectPair
    links: Sequence[Link] = ()
    records: Sequence[RecordOutcome] = ()
    activity: Sequence[ActivityEntry] = ()
    cursors: Mapping[System, dt.datetime] = field(default_factory=dict)
    payment_links: Sequence[Link] = ()
    payment_cursors: Mapping[System, dt.datetime] = field(default_factory=dict)


class StatePort(Protocol):
    """The connection's state (the store)."""

    async def load_rules(self) -> list[SyncRule]:
        """Every saved rule (enabled or not), with `sync_started_at` filled in."""
        ...

    async def load_links(self) -> list[Link]:
        """Every link of the connection (all object pairs). A pass does not use it (its
        cost grows with everything ever synced): see `load_links_for` and `load_refs`."""
        ...

    async def load_links_for(
        self,
        object_type: ObjectPair,
        hubspot_ids: Collection[str] = (),
        qbo_ids: Collection[str] = (),
        keys: Collection[str] = (),
    ) -> list[Link]:
        """The links of `object_type` whose HubSpot id is in `hubspot_ids`, whose QBO id
        is in `qbo_ids`, or whose base snapshot's match key (`match.match_key`: email,
        SKU) is in `keys`. A superset is fine (the planner looks links up by id and key)."""
        ...

    @property
    def payments(self) -> PaymentState | None:
        """The payment links and cursors (None: none are kept; the payment pass is off)."""
        ...

    async def load_link_ids(self, object_type: ObjectPair) -> list[tuple[str, str]]:
        """(HubSpot id, QBO id) of every link of `object_type`: the ids only, no snapshots
        (what a full deal roll-up walks, a chunk at a time)."""
        ...

    async def load_refs(self) -> RefIndex:
        """The `RefIndex` of the contact and product links (ids only, no snapshots;
        no custom line item)."""
        ...

    async def get_cursor(self, side: System, object_type: ObjectPair) -> dt.datetime | None: ...

    async def commit(self, commit: Commit) -> None:
        """Record one rule's pass atomically (all or nothing)."""
        ...

    async def mark_needs_reauth(self, detail: str) -> None:
        """The connection's grant was refused: it waits for a reconnect."""
        ...
