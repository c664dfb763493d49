"""Object types, default property definitions and HUBSPOT_DEFINED association types.

Property value conventions (all values are strings, as in HubSpot):
- `number`: a decimal string ("12.50"); `bool`: "true" / "false";
- `datetime`: ISO-8601 UTC with milliseconds ("2024-05-01T12:00:00.000Z"); a
  millisecond epoch string is accepted on input and stored in ISO form;
- `date`: "YYYY-MM-DD"; `enumeration`: one of the option values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import HubSpotError


@dataclass(frozen=True)
class ObjectType:
    name: str  # plural API name, e.g. "line_items"
    singular: str  # "line_item"
    type_id: str  # "0-8"
    workflow_name: str  # "LINE_ITEM" (custom workflow action payloads)
    defaults: tuple[str, ...]  # properties returned when none are asked for
    searchable: tuple[str, ...]  # properties matched by the search `query`
    legacy_webhook_prefix: str | None = None


OBJECT_TYPES: dict[str, ObjectType] = {
    o.name: o
    for o in (
        ObjectType(
            "contacts",
            "contact",
            "0-1",
            "CONTACT",
            ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
            ("firstname", "lastname", "email", "phone", "company"),
            "contact",
        ),
        ObjectType(
            "companies",
            "company",
            "0-2",
            "COMPANY",
            ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
            ("name", "domain", "phone"),
            "company",
        ),
        ObjectType(
            "deals",
            "deal",
            "0-3",
            "DEAL",
            (
                *("amount", "closedate", "createdate", "dealname", "dealstage"),
                *("hs_lastmodifieddate", "hs_object_id", "pipeline"),
            ),
            ("dealname",),
            "deal",
        ),
        ObjectType(
            "products",
            "product",
            "0-7",
            "PRODUCT",
            ("createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name", "price"),
            ("name", "description", "hs_sku"),
            "product",
        ),
        ObjectType(
            "line_items",
            "line_item",
            "0-8",
            "LINE_ITEM",
            (
                *("createdate", "hs_lastmodifieddate", "hs_object_id", "hs_product_id"),
                *("name", "price", "quantity", "amount"),
            ),
            ("name", "hs_sku"),
            "line_item",
        ),
        ObjectType(
            "quotes",
            "quote",
            "0-14",
            "QUOTE",
            (
                *("hs_createdate", "hs_expiration_date", "hs_lastmodifieddate", "hs_object_id"),
                *("hs_public_url_key", "hs_status", "hs_title"),
            ),
            ("hs_title",),
        ),
        ObjectType(
            "invoices",
            "invoice",
            "0-53",
            "INVOICE",
            ("hs_createdate", "hs_currency", "hs_lastmodifieddate", "hs_object_id"),
            ("hs_number", "hs_title"),
        ),
        ObjectType(
            "commerce_payments",
            "commerce_payment",
            "0-101",
            "COMMERCE_PAYMENT",
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
            ("hs_reference_number",),
        ),
    )
}

_ALIASES: dict[str, str] = {}
for _o in OBJECT_TYPES.values():
    for _alias in (_o.name, _o.singular, _o.type_id, _o.workflow_name):
        _ALIASES[_alias.lower()] = _o.name
_ALIASES["payments"] = "commerce_payments"
_ALIASES["payment"] = "commerce_payments"
_ALIASES["lineitems"] = "line_items"


def resolve_type(name: str) -> str:
    """Canonical plural name for any alias ("contact", "0-1", "CONTACT", "contacts")."""
    found = _ALIASES.get(name.lower())
    if found is None:
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            f"Unable to infer object type from: {name}",
            sub_category="crm.object.INVALID_OBJECT_TYPE",
        )
    return found


def type_id_of(name: str) -> str:
    return OBJECT_TYPES[name].type_id


# ---------------------------------------------------------------- properties


@dataclass
class PropertyDef:
    name: str
    label: str
    type: str = "string"  # string | number | date | datetime | enumeration | bool
    field_type: str = "text"
    group_name: str = "information"
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    has_unique_value: bool = False
    read_only: bool = False
    calculated: bool = False
    hubspot_defined: bool = True
    created_at: str = "2020-01-01T00:00:00.000Z"
    updated_at: str = "2020-01-01T00:00:00.000Z"
    display_order: int = -1

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group_name,
            "description": self.description,
            "options": self.options,
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": False,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "formField": not self.read_only,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": False,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
        }
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        return body

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PropertyDef:
        return cls(**data)


def _opts(*values: str) -> list[dict[str, Any]]:
    return [
        {"label": v.replace("_", " ").title(), "value": v, "displayOrder": i, "hidden": False}
        for i, v in enumerate(values)
    ]


def _p(name: str, kind: str = "string", **kwargs: Any) -> PropertyDef:
    field_type = {"number": "number", "date": "date", "datetime": "date", "bool": "booleancheckbox"}
    ft = field_type.get(kind, "select" if kind == "enumeration" else "text")
    label = kwargs.pop("label", name.removeprefix("hs_").replace("_", " ").capitalize())
    return PropertyDef(name=name, label=label, type=kind, field_type=ft, **kwargs)


def _ro(name: str, kind: str = "string", **kwargs: Any) -> PropertyDef:
    return _p(name, kind, read_only=True, **kwargs)


COMMON: tuple[PropertyDef, ...] = (
    _ro("hs_object_id", "number", label="Record ID"),
    _ro("createdate", "datetime", label="Create date"),
    _ro("hs_createdate", "datetime", label="Create date"),
    _ro("lastmodifieddate", "datetime", label="Last modified date"),
    _ro("hs_lastmodifieddate", "datetime", label="Last modified date"),
    _p("hubspot_owner_id", label="Owner"),
)

INVOICE_STATUSES = ("draft", "open", "paid", "voided")
# Sandbox choice: HubSpot's internal name of "Invoice Source" is unverified.
INVOICE_SOURCE_PROPERTY = "hs_invoice_source"
INVOICE_SOURCES = ("hubspot", "integration")
PAYMENT_STATUSES = ("succeeded", "processing", "failed", "refunded", "partially_refunded")
PAYMENT_SOURCES = ("invoice", "payment_link", "quote", "subscription", "manual")
PAYMENT_PROCESSORS = ("hubspot_payments", "stripe", "manual")

SPECIFIC: dict[str, tuple[PropertyDef, ...]] = {
    "contacts": (
        _p("email"),
        _p("firstname"),
        _p("lastname"),
        _p("phone"),
        _p("company"),
        _p("address"),
        _p("city"),
        _p("state"),
        _p("zip"),
        _p("country"),
        _p("lifecyclestage", "enumeration", options=_opts("lead", "customer", "other")),
    ),
    "companies": (
        _p("name"),
        _p("domain"),
        _p("phone"),
        _p("address"),
        _p("city"),
        _p("state"),
        _p("zip"),
        _p("country"),
    ),
    "deals": (
        _p("dealname"),
        _p("amount", "number"),
        _p("closedate", "datetime"),
        _p("dealstage"),
        _p("pipeline"),
        _p("deal_currency_code"),
        _p("hs_payment_link", label="Payment link"),
    ),
    "products": (
        _p("name"),
        _p("description"),
        _p("price", "number"),
        _p("hs_sku", label="SKU"),
        _p("hs_cost_of_goods_sold", "number"),
        _p("tax", "number"),
        _p(
            "hs_product_type", "enumeration", options=_opts("inventory", "non_inventory", "service")
        ),
    ),
    "line_items": (
        _p("name"),
        _p("description"),
        _p("quantity", "number"),
        _p("price", "number"),
        _p("hs_sku", label="SKU"),
        _p("hs_product_id"),
        _p("discount", "number", label="Unit discount"),
        _p("hs_discount_percentage", "number"),
        _p("hs_tax_amount", "number"),
        _p("hs_tax_rate_group_id"),
        _ro("amount", "number", calculated=True, label="Net price"),
        _ro("hs_total_discount", "number", calculated=True),
        _p("hs_line_item_currency_code"),
    ),
    "quotes": (
        _p("hs_title"),
        _p("hs_expiration_date", "datetime"),
        _p("hs_status", "enumeration", options=_opts("DRAFT", "APPROVAL_NOT_NEEDED", "APPROVED")),
        _p("hs_currency"),
        _p("hs_esign_enabled", "bool"),
        _p("hs_esign_completed", "bool", label="E-signature completed"),
        _p("hs_esign_date", "datetime"),
        _ro("hs_public_url_key"),
    ),
    "invoices": (
        _p("hs_currency"),
        _p("hs_invoice_date", "datetime"),
        _p("hs_due_date", "datetime"),
        _p("hs_invoice_status", "enumeration", options=_opts(*INVOICE_STATUSES)),
        _p("hs_tax_id"),
        _p("hs_title"),
        _p("hs_comments"),
        _p("hs_purchase_order_number"),
        _p("hs_discount_amount", "number", label="Invoice discount"),
        _ro("hs_number", label="Invoice number"),
        _ro("hs_subtotal", "number", calculated=True),
        _ro("hs_tax", "number", calculated=True),
        _ro("hs_amount_billed", "number", calculated=True),
        _ro("hs_amount_paid", "number", calculated=True),
        _ro("hs_balance_due", "number", calculated=True),
        _ro(
            INVOICE_SOURCE_PROPERTY,
            "enumeration",
            options=_opts(*INVOICE_SOURCES),
            label="Invoice source",
        ),
        _ro("hs_payment_date", "datetime"),
        _ro("hs_voided_date", "datetime"),
    ),
    "commerce_payments": (
        _p("hs_initial_amount", "number", label="Amount"),
        _p("hs_currency_code"),
        _p("hs_initiated_date", "datetime", label="Payment date"),
        _p("hs_latest_status", "enumeration", options=_opts(*PAYMENT_STATUSES)),
        _p("hs_payment_source", "enumeration", options=_opts(*PAYMENT_SOURCES)),
        _p("hs_processor_type", "enumeration", options=_opts(*PAYMENT_PROCESSORS)),
        _p("hs_payment_method_type", "enumeration", options=_opts("card", "ach", "other")),
        _p("hs_processing_fee", "number"),
        _p("hs_platform_fee", "number"),
        _p("hs_refunds_amount", "number"),
        _p("hs_reference_number"),
        _p("hs_customer_email"),
        _ro("hs_net_amount", "number", calculated=True),
    ),
}


def default_properties(object_type: str) -> dict[str, PropertyDef]:
    props = {p.name: PropertyDef(**p.__dict__) for p in COMMON}
    for i, p in enumerate(SPECIFIC[object_type]):
        props[p.name] = PropertyDef(**{**p.__dict__, "display_order": i})
    return props


# --------------------------------------------------------------- associations


@dataclass(frozen=True)
class AssociationType:
    from_type: str
    to_type: str
    type_id: int
    label: str | None
    v3_name: str  # name used in v3 `associations` blocks, e.g. "invoice_to_contact"
    reverse_id: int | None


def _pair(
    a: str, b: str, fwd: int, rev: int | None, label: str | None = None, suffix: str = ""
) -> list[AssociationType]:
    sa, sb = OBJECT_TYPES[a].singular, OBJECT_TYPES[b].singular
    out = [AssociationType(a, b, fwd, label, f"{sa}_to_{sb}{suffix}", rev)]
    if rev is not None:
        out.append(AssociationType(b, a, rev, label, f"{sb}_to_{sa}{suffix}", fwd))
    return out


# (first type id of a pair is the default, unlabelled association)
ASSOCIATION_TYPES: list[AssociationType] = [
    *_pair("invoices", "contacts", 177, 178),
    *_pair("invoices", "companies", 179, 180),
    *_pair("invoices", "deals", 175, 176),
    *_pair("invoices", "line_items", 409, 410),
    *_pair("invoices", "quotes", 407, 408),
    *_pair("invoices", "commerce_payments", 541, 542),
    *_pair("contacts", "companies", 279, 280, suffix="_unlabeled"),
    *_pair("contacts", "companies", 1, 2, label="Primary"),
    *_pair("deals", "line_items", 19, 20),
    *_pair("deals", "contacts", 3, 4),
    *_pair("deals", "companies", 341, 342),
    *_pair("quotes", "line_items", 67, 68),
    *_pair("quotes", "deals", 64, 63),
    *_pair("quotes", "contacts", 69, 70),
    *_pair("line_items", "commerce_payments", 396, 397),
    *_pair("commerce_payments", "contacts", 393, 394),
    *_pair("deals", "commerce_payments", 391, 392),
]

_BY_KEY = {(t.from_type, t.to_type, t.type_id): t for t in ASSOCIATION_TYPES}


def association_types(from_type: str, to_type: str) -> list[AssociationType]:
    return [t for t in ASSOCIATION_TYPES if t.from_type == from_type and t.to_type == to_type]


def association_type(from_type: str, to_type: str, type_id: int) -> AssociationType | None:
    return _BY_KEY.get((from_type, to_type, type_id))


def default_association(from_type: str, to_type: str) -> AssociationType | None:
    unlabelled = [t for t in association_types(from_type, to_type) if t.label is None]
    return unlabelled[0] if unlabelled else None
