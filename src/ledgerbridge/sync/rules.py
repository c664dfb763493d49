"""Sync rules: one per object pair (R-CON-2…7), JSON-serialisable pydantic models.

A rule says which way records flow (`direction`), who wins a field changed on both
sides (`conflict_policy`), which fields are mapped (`mappings`: the default table,
each with a toggle, plus custom mappings) and which records are eligible
(`filters`, per flow). `validate_for_save` checks a rule against the rules already
saved and returns clear, user-facing error messages (an empty list means valid).

The default tables, the fixed filters and the wizard defaults are in
`ledgerbridge.sync.defaults`; the field-type catalogue used to refuse
incompatible mappings is in `ledgerbridge.sync.catalogue`.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledgerbridge.domain import System


class ObjectPair(StrEnum):
    CONTACTS_CUSTOMERS = "contacts_customers"
    PRODUCTS_ITEMS = "products_items"
    INVOICES_INVOICES = "invoices_invoices"


class Direction(StrEnum):
    HUBSPOT_TO_QBO = "hubspot_to_qbo"
    QBO_TO_HUBSPOT = "qbo_to_hubspot"
    TWO_WAY = "two_way"

    @property
    def sources(self) -> frozenset[System]:
        """The systems whose changes this direction propagates."""
        if self is Direction.HUBSPOT_TO_QBO:
            return frozenset({System.HUBSPOT})
        if self is Direction.QBO_TO_HUBSPOT:
            return frozenset({System.QUICKBOOKS})
        return frozenset({System.HUBSPOT, System.QUICKBOOKS})

    @classmethod
    def flow_from(cls, source: System) -> Direction:
        """The one-way flow out of `source`."""
        return cls.HUBSPOT_TO_QBO if source is System.HUBSPOT else cls.QBO_TO_HUBSPOT


class ConflictPolicy(StrEnum):
    HUBSPOT_WINS = "hubspot_wins"
    QBO_WINS = "qbo_wins"

    @property
    def winner(self) -> System:
        return System.HUBSPOT if self is ConflictPolicy.HUBSPOT_WINS else System.QUICKBOOKS


class FieldType(StrEnum):
    """The transform a mapping applies. The last three are for built-in mappings only."""

    TEXT = "text"
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    ENUMERATION = "enumeration"
    REFERENCE = "reference"
    LINES = "lines"
    DISCOUNT = "discount"


CUSTOM_FIELD_TYPES = frozenset(
    {FieldType.TEXT, FieldType.NUMBER, FieldType.MONEY, FieldType.DATE, FieldType.ENUMERATION}
)


class DisplayNamePolicy(StrEnum):
    """R-CUS-3: what to do when a new QBO customer's DisplayName is taken."""

    STRICT = "strict"
    DISAMBIGUATE = "disambiguate"


class FilterScope(StrEnum):
    PRIMARY = "primary"
    ASSOCIATED = "associated"


class FilterOperator(StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    IS_KNOWN = "is_known"
    IS_UNKNOWN = "is_unknown"
    AFTER = "after"
    BEFORE = "before"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"
    IN = "in"

    @property
    def needs_value(self) -> bool:
        return self not in (FilterOperator.IS_KNOWN, FilterOperator.IS_UNKNOWN)


class ServiceDateSource(StrEnum):
    """R-INV-10 (Beyond): what fills a line's service date when it has none."""

    NONE = "none"
    ISSUE_DATE = "issue_date"
    DUE_DATE = "due_date"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldMapping(_Frozen):
    """One mapped field. `name` is the key of the canonical snapshot.

    `hubspot` is a HubSpot property name; `qbo` a dotted path in the QBO entity JSON
    (`PrimaryEmailAddr.Address`) or a custom field by name (`CustomField:PO number`).
    Paths starting with `@` are virtual (read from the domain object, built-in only).
    `hubspot_type` / `qbo_type` are the side's own field types when the UI knows them
    (None: look them up in the catalogue); `type` is the transform.
    """

    name: str = Field(min_length=1)
    hubspot: str
    qbo: str
    type: FieldType = FieldType.TEXT
    enabled: bool = True
    builtin: bool = False
    value_map: dict[str, str] = Field(default_factory=dict)
    hubspot_type: FieldType | None = None
    qbo_type: FieldType | None = None
    read_only_on: System | None = None
    label: str | None = None

    def path(self, system: System) -> str:
        return self.hubspot if system is System.HUBSPOT else self.qbo

    def writable_on(self, system: System) -> bool:
        return self.read_only_on is not system


SYNC_STARTED = "@sync_started_at"
"""Filter value that stands for the time the rule started syncing (R-INV-2)."""


class Filter(_Frozen):
    """A filter on one flow. Properties are read on the flow's source side.

    `property` is a HubSpot property name / QBO path like mappings, or a virtual
    property: `@source`, `@status`, `@updated_at`. `association` names the associated
    record type for associated filters (for example `contact`, `company`).
    """

    flow: Direction
    scope: FilterScope = FilterScope.PRIMARY
    association: str | None = None
    property: str = Field(min_length=1)
    operator: FilterOperator
    value: str | tuple[str, ...] | None = None
    fixed: bool = False
    label: str | None = None

    @field_validator("flow")
    @classmethod
    def _one_way(cls, flow: Direction) -> Direction:
        if flow is Direction.TWO_WAY:
            raise ValueError("a filter applies to one flow: hubspot_to_qbo or qbo_to_hubspot")
        return flow

    @builtins.property
    def source(self) -> System:
        return System.HUBSPOT if self.flow is Direction.HUBSPOT_TO_QBO else System.QUICKBOOKS

    def identity(self) -> tuple[object, ...]:
        return (self.flow, self.scope, self.association, self.property, self.operator, self.value)

    def describe(self) -> str:
        if self.label:
            return self.label
        where = f"associated {self.association} " if self.scope is FilterScope.ASSOCIATED else ""
        value = "" if self.value is None else f" {self.value!r}"
        return f"{where}{self.property} {self.operator.value.replace('_', ' ')}{value}"


class InvoiceSettings(_Frozen):
    """Set-up of the invoice rule (R-PRD-3, R-INV-10, R-PAY-3).

    `propagate_refunds` (a refunded HubSpot payment becomes a QBO RefundReceipt) and
    `propagate_payment_deletes` (a deleted HubSpot payment voids its QBO payment) are
    off by default (R-PAY-3, Beyond); every such write is in the activity log.
    """

    custom_line_item_income_account: str | None = None
    service_date: ServiceDateSource = ServiceDateSource.NONE
    propagate_refunds: bool = False
    propagate_payment_deletes: bool = False


class SyncRule(_Frozen):
    id: str | None = None
    object_pair: ObjectPair
    direction: Direction
    enabled: bool = True
    conflict_policy: ConflictPolicy = ConflictPolicy.HUBSPOT_WINS
    mappings: tuple[FieldMapping, ...] = ()
    filters: tuple[Filter, ...] = ()
    display_name_policy: DisplayNamePolicy = DisplayNamePolicy.DISAMBIGUATE
    propagate_archive: bool = False
    invoice: InvoiceSettings | None = None
    sync_started_at: dt.datetime | None = None

    def active_mappings(self) -> tuple[FieldMapping, ...]:
        return tuple(m for m in self.mappings if m.enabled)

    def mapping(self, name: str) -> FieldMapping | None:
        return next((m for m in self.mappings if m.name == name), None)

    def allows(self, source: System) -> bool:
        """Whether changes made on `source` flow to the other side."""
        return source in self.direction.sources

    def filters_for(self, source: System) -> tuple[Filter, ...]:
        return tuple(f for f in self.filters if f.source is source)

    @property
    def payments_enabled(self) -> bool:
        """R-PAY-1: payments follow outbound and two-way invoice sync, not inbound alone."""
        return self.object_pair is ObjectPair.INVOICES_INVOICES and self.direction in (
            Direction.HUBSPOT_TO_QBO,
            Direction.TWO_WAY,
        )

    def with_fixed_filters(self) -> SyncRule:
        """This rule with the fixed filters it must carry added (R-INV-2)."""
        from ledgerbridge.sync.defaults import fixed_filters

        have = {f.identity() for f in self.filters}
        missing = tuple(f for f in fixed_filters(self) if f.identity() not in have)
        return self.model_copy(update={"filters": (*missing, *self.filters)}) if missing else self

    def validate_for_save(
        self, existing_rules: Sequence[SyncRule], *, qbo_requires_tax: bool = False
    ) -> list[str]:
        """Clear, user-facing errors; an empty list means the rule can be saved."""
        from ledgerbridge.sync.validation import validate_rule

        return validate_rule(self, existing_rules, qbo_requires_tax=qbo_requires_tax)
