"""Default mapping tables, fixed filters and wizard defaults for each object pair.

Built-in mappings read the typed domain objects the connector codecs produce (see
`ledgerbridge.sync.mapping`); their `hubspot` / `qbo` paths are what the write
payloads use and what is read from raw JSON when no domain object is given.
"""

from __future__ import annotations

import datetime as dt

from ledgerbridge.domain import System
from ledgerbridge.sync.rules import (
    SYNC_STARTED,
    ConflictPolicy,
    Direction,
    DisplayNamePolicy,
    FieldMapping,
    FieldType,
    Filter,
    FilterOperator,
    InvoiceSettings,
    ObjectPair,
    SyncRule,
)

T = FieldType


def _builtin(
    name: str,
    hubspot: str,
    qbo: str,
    type_: FieldType = T.TEXT,
    label: str | None = None,
    *,
    read_only_on: System | None = None,
) -> FieldMapping:
    return FieldMapping(
        name=name,
        hubspot=hubspot,
        qbo=qbo,
        type=type_,
        builtin=True,
        hubspot_type=type_,
        qbo_type=type_,
        label=label or name.replace("_", " ").capitalize(),
        read_only_on=read_only_on,
    )


CONTACT_MAPPINGS: tuple[FieldMapping, ...] = (
    _builtin("email", "email", "PrimaryEmailAddr.Address", label="Email"),
    _builtin("first_name", "firstname", "GivenName"),
    _builtin("last_name", "lastname", "FamilyName"),
    _builtin("company", "company", "CompanyName"),
    _builtin("phone", "phone", "PrimaryPhone.FreeFormNumber"),
    _builtin("billing_street", "address", "BillAddr.Line1"),
    _builtin("billing_city", "city", "BillAddr.City"),
    _builtin("billing_region", "state", "BillAddr.CountrySubDivisionCode"),
    _builtin("billing_postal_code", "zip", "BillAddr.PostalCode"),
    _builtin("billing_country", "country", "BillAddr.Country"),
)

PRODUCT_MAPPINGS: tuple[FieldMapping, ...] = (
    _builtin("name", "name", "Name"),
    _builtin("sku", "hs_sku", "Sku", label="SKU"),
    _builtin("price", "price", "UnitPrice", T.MONEY),
    _builtin("description", "description", "Description"),
)

INVOICE_MAPPINGS: tuple[FieldMapping, ...] = (
    # HubSpot numbers its invoices itself (`hs_number` is read-only there).
    _builtin(
        "number", "hs_number", "DocNumber", label="Invoice number", read_only_on=System.HUBSPOT
    ),
    _builtin("issue_date", "hs_invoice_date", "TxnDate", T.DATE),
    _builtin("due_date", "hs_due_date", "DueDate", T.DATE),
    _builtin("currency", "hs_currency", "CurrencyRef.value"),
    _builtin("customer", "@contact", "CustomerRef.value", T.REFERENCE),
    _builtin("memo", "hs_comments", "CustomerMemo.value"),
    # QBO has no writable status: paying and voiding are their own operations.
    _builtin(
        "status", "hs_invoice_status", "@status", T.ENUMERATION, read_only_on=System.QUICKBOOKS
    ),
    _builtin("lines", "@line_items", "Line", T.LINES, label="Line items"),
    _builtin("order_discount", "@discount", "@discount", T.DISCOUNT, label="Order discount"),
)

DEFAULT_MAPPINGS: dict[ObjectPair, tuple[FieldMapping, ...]] = {
    ObjectPair.CONTACTS_CUSTOMERS: CONTACT_MAPPINGS,
    ObjectPair.PRODUCTS_ITEMS: PRODUCT_MAPPINGS,
    ObjectPair.INVOICES_INVOICES: INVOICE_MAPPINGS,
}

MATCH_FIELD: dict[ObjectPair, str] = {
    ObjectPair.CONTACTS_CUSTOMERS: "email",
    ObjectPair.PRODUCTS_ITEMS: "sku",
}
"""The mapping whose value matches records across sides (R-CUS-1, R-PRD-1)."""

OUTBOUND_INVOICE_FILTERS: tuple[Filter, ...] = (
    Filter(
        flow=Direction.HUBSPOT_TO_QBO,
        property="@source",
        operator=FilterOperator.EQUALS,
        value="hubspot",
        fixed=True,
        label="Invoice source is HubSpot",
    ),
    Filter(
        flow=Direction.HUBSPOT_TO_QBO,
        property="@status",
        operator=FilterOperator.NOT_EQUALS,
        value="draft",
        fixed=True,
        label="Invoice is not a draft",
    ),
    Filter(
        flow=Direction.HUBSPOT_TO_QBO,
        property="@updated_at",
        operator=FilterOperator.AFTER,
        value=SYNC_STARTED,
        fixed=True,
        label="Created or modified after the sync started",
    ),
)


def fixed_filters(rule: SyncRule) -> tuple[Filter, ...]:
    """The filters `rule` must carry and the user cannot remove (R-INV-2)."""
    if rule.object_pair is ObjectPair.INVOICES_INVOICES and rule.allows(System.HUBSPOT):
        return OUTBOUND_INVOICE_FILTERS
    return ()


def sku_filter(flow: Direction) -> Filter:
    """R-PRD-1: only products with a SKU (a default filter; the user may remove it)."""
    prop = "hs_sku" if flow is Direction.HUBSPOT_TO_QBO else "Sku"
    return Filter(
        flow=flow, property=prop, operator=FilterOperator.IS_KNOWN, label="Product has a SKU"
    )


def created_after_filter(day: dt.date) -> Filter:
    """R-INV-3: the filter the wizard proposes for inbound invoices, "created after today"
    (a default filter the user may remove; historical invoices come in by backfill)."""
    return Filter(
        flow=Direction.QBO_TO_HUBSPOT,
        property="MetaData.CreateTime",
        operator=FilterOperator.AFTER,
        value=day.isoformat(),
        label=f"Invoice created after {day.isoformat()}",
    )


def wizard_invoice_rule(direction: Direction, today: dt.date) -> SyncRule:
    """The invoice rule the wizard proposes for `direction`: outbound flows carry the three
    fixed filters (R-INV-2); inbound flows get "created after today" (R-INV-3)."""
    rule = wizard_defaults(ObjectPair.INVOICES_INVOICES).model_copy(
        update={"direction": direction, "filters": ()}
    )
    if direction in (Direction.QBO_TO_HUBSPOT, Direction.TWO_WAY):
        rule = rule.model_copy(update={"filters": (created_after_filter(today),)})
    return rule.with_fixed_filters()


def wizard_defaults(pair: ObjectPair) -> SyncRule:
    """The rule the set-up wizard proposes for `pair`."""
    mappings = DEFAULT_MAPPINGS[pair]
    if pair is ObjectPair.CONTACTS_CUSTOMERS:
        # R-CUS-4: the recommended set-up brings every QBO customer into HubSpot too.
        return SyncRule(
            object_pair=pair,
            direction=Direction.TWO_WAY,
            conflict_policy=ConflictPolicy.HUBSPOT_WINS,
            mappings=mappings,
            display_name_policy=DisplayNamePolicy.DISAMBIGUATE,
        )
    if pair is ObjectPair.PRODUCTS_ITEMS:
        # R-PRD-1/2: QBO → HubSpot, only products with a SKU.
        return SyncRule(
            object_pair=pair,
            direction=Direction.QBO_TO_HUBSPOT,
            conflict_policy=ConflictPolicy.QBO_WINS,
            mappings=mappings,
            filters=(sku_filter(Direction.QBO_TO_HUBSPOT),),
        )
    rule = SyncRule(
        object_pair=pair,
        direction=Direction.HUBSPOT_TO_QBO,
        conflict_policy=ConflictPolicy.HUBSPOT_WINS,
        mappings=mappings,
        invoice=InvoiceSettings(),
    )
    return rule.with_fixed_filters()
