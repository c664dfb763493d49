"""What the planner asks the engine to do. Frozen, pure data.

How the engine applies them (in list order):

- `Create`: write `fields` (canonical, see `mapping.hubspot_payload` /
  `mapping.qbo_payload`) as a new record on `target`, using `idempotency_key` as
  QBO `requestid` / the HubSpot upsert key; then insert a link between `source_ref`
  and the new record holding `link_after` (target hash: from the response).
- `LinkRecords`: a match (records that already existed on both sides): insert the
  link with `link_after`. `Update` actions for the same pair may follow it.
- `Update`: sparse-update `target_ref` with `fields` (`base_version` is the version
  the plan saw: QBO's SyncToken); once every write for the pair succeeded, store
  `link_after` (versions and written-side hashes from the responses).
- `Deactivate`: QBO customers and items are never deleted, only made inactive.
- `Void`: a linked invoice voided on its source side is voided on `target_ref`
  (QBO `operation=void`); never deleted (R-INV-4). Recorded like an `Update`.
- `Exclude`, `Fail`, `Skip`: write nothing to either record; record the outcome.
  A `Skip` with `link_after` refreshes the stored link (for example after a change
  on the target side of a one-way rule, or a change made identically on both sides).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.model import CanonicalValue, LinkState
from ledgerbridge.sync.rules import ObjectPair

Fields: TypeAlias = Mapping[str, CanonicalValue]


def idempotency_key(
    object_type: ObjectPair, source_ref: RecordRef, source_version: str | None, operation: str
) -> str:
    """Deterministic key from (object type, source ref, version, operation).

    32 hex characters: fits QBO's `requestid` (50, or 36 in a batch), so a retried
    pass over the same source version sends the same key and never writes twice.
    """
    text = "|".join((object_type.value, str(source_ref), source_version or "", operation))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Create:
    object_type: ObjectPair
    target: System
    source_ref: RecordRef
    source_version: str | None
    fields: Fields
    idempotency_key: str
    link_after: LinkState
    display_name: str | None = None
    """QBO DisplayName for a new customer, resolved by the R-CUS-3 policy."""


@dataclass(frozen=True, slots=True)
class Update:
    object_type: ObjectPair
    target: System
    target_ref: RecordRef
    base_version: str | None
    fields: Fields
    idempotency_key: str
    link_after: LinkState
    hubspot_id: str
    qbo_id: str


@dataclass(frozen=True, slots=True)
class LinkRecords:
    object_type: ObjectPair
    hubspot_ref: RecordRef
    qbo_ref: RecordRef
    hubspot_version: str | None
    qbo_version: str | None
    link_after: LinkState
    matched_on: str
    """What matched, e.g. `email=jane@example.com`."""


@dataclass(frozen=True, slots=True)
class Deactivate:
    object_type: ObjectPair
    target_ref: RecordRef
    base_version: str | None
    idempotency_key: str
    source_ref: RecordRef


@dataclass(frozen=True, slots=True)
class Void:
    object_type: ObjectPair
    target_ref: RecordRef
    base_version: str | None
    idempotency_key: str
    source_ref: RecordRef
    link_after: LinkState
    hubspot_id: str
    qbo_id: str

    @property
    def target(self) -> System:
        return self.target_ref.system


@dataclass(frozen=True, slots=True)
class Exclude:
    ref: RecordRef
    filter_description: str


@dataclass(frozen=True, slots=True)
class Fail:
    ref: RecordRef
    category: ErrorCategory
    detail: str


@dataclass(frozen=True, slots=True)
class Skip:
    ref: RecordRef
    reason: str
    link_after: LinkState | None = None
    hubspot_id: str | None = None
    qbo_id: str | None = None


Action: TypeAlias = Create | Update | LinkRecords | Deactivate | Void | Exclude | Fail | Skip
WRITES = (Create, Update, LinkRecords, Deactivate, Void)


class SkipReason:
    """Stable reasons for `Skip` (shown in the activity log)."""

    UNCHANGED = "unchanged (echo of our own write)"
    IN_SYNC = "changed, but already the same on both sides"
    ONE_WAY_TARGET = "changed on the target side of a one-way rule; not propagated"
    DIRECTION = "the rule does not sync records from this side"
    ARCHIVED = "archived or deleted; not propagated by this rule"
    VOIDED = "voided before it was ever synced; not created on the other side"
    DISABLED = "the rule is turned off"
