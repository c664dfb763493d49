"""HubSpot object types, their type ids, default association types, and the record shape.

`HubSpotRecord` is a parsed `SimplePublicObject` (`{id, properties, createdAt,
updatedAt, archived, archivedAt?, associations?}`): property values stay
strings (or None), timestamps become tz-aware UTC datetimes, and the v3
`associations` block becomes `{plural object type: (ids…)}`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

ObjectType = Literal[
    "contacts",
    "companies",
    "deals",
    "quotes",
    "products",
    "line_items",
    "invoices",
    "commerce_payments",
]

OBJECT_TYPES: tuple[ObjectType, ...] = get_args(ObjectType)

# Object type ids (0-1…0-3 and 0-101 documented; the others as the sandbox and
# HubSpot's generic webhooks use them, see API-NOTES B1).
TYPE_IDS: dict[ObjectType, str] = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "products": "0-7",
    "line_items": "0-8",
    "quotes": "0-14",
    "invoices": "0-53",
    "commerce_payments": "0-101",
}
OBJECT_TYPE_BY_ID: dict[str, ObjectType] = {v: k for k, v in TYPE_IDS.items()}

SINGULAR: dict[ObjectType, str] = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "products": "product",
    "line_items": "line_item",
    "quotes": "quote",
    "invoices": "invoice",
    "commerce_payments": "commerce_payment",
}
_BY_ALIAS: dict[str, ObjectType] = {}
for _name in OBJECT_TYPES:
    for _alias in (_name, SINGULAR[_name], TYPE_IDS[_name], SINGULAR[_name].upper()):
        _BY_ALIAS[_alias.lower()] = _name
_BY_ALIAS["lineitems"] = "line_items"
_BY_ALIAS["payments"] = "commerce_payments"

# HUBSPOT_DEFINED (unlabelled) association type ids, from → to (API-NOTES B2).
ASSOCIATION_TYPE_IDS: dict[tuple[ObjectType, ObjectType], int] = {
    ("invoices", "contacts"): 177,
    ("contacts", "invoices"): 178,
    ("invoices", "companies"): 179,
    ("companies", "invoices"): 180,
    ("invoices", "deals"): 175,
    ("deals", "invoices"): 176,
    ("invoices", "line_items"): 409,
    ("line_items", "invoices"): 410,
    ("invoices", "quotes"): 407,
    ("quotes", "invoices"): 408,
    ("invoices", "commerce_payments"): 541,
    ("deals", "line_items"): 19,
    ("line_items", "deals"): 20,
    ("quotes", "line_items"): 67,
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("line_items", "commerce_payments"): 396,
}


def object_type(name: str) -> ObjectType:
    """The plural object type for any alias ("contact", "0-1", "CONTACT", "contacts")."""
    found = _BY_ALIAS.get(name.strip().lower())
    if found is None:
        raise ValueError(f"unknown HubSpot object type: {name!r}")
    return found


def parse_timestamp(value: Any) -> dt.datetime | None:
    """ISO-8601 ("…Z"), "YYYY-MM-DD" or a millisecond epoch → tz-aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    text = str(value).strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.UTC)
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def format_timestamp(moment: dt.datetime) -> str:
    """A tz-aware datetime as HubSpot writes it: "2024-05-01T12:00:00.000Z"."""
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _associations(raw: Any) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    if not isinstance(raw, Mapping):
        return {}
    for key, block in raw.items():
        try:
            name: str = object_type(str(key))
        except ValueError:
            name = str(key)
        results = block.get("results", []) if isinstance(block, Mapping) else []
        ids = found.setdefault(name, [])
        for item in results:
            if isinstance(item, Mapping) and item.get("id") is not None:
                value = str(item["id"])
                if value not in ids:
                    ids.append(value)
    return {name: tuple(ids) for name, ids in found.items()}


@dataclass(frozen=True, slots=True)
class HubSpotRecord:
    """One CRM record as HubSpot returns it (values are strings or None)."""

    id: str
    properties: Mapping[str, str | None] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    archived: bool = False
    archived_at: dt.datetime | None = None
    associations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.archived

    def get(self, name: str) -> str | None:
        """A property's value; None when absent or empty."""
        value = self.properties.get(name)
        return value if value not in (None, "") else None

    def associated(self, to: str) -> tuple[str, ...]:
        return self.associations.get(object_type(to), ())

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> HubSpotRecord:
        if "id" not in data:
            raise ValueError("a HubSpot record needs an id")
        raw_props = data.get("properties") or {}
        properties = {
            str(k): (None if v is None else str(v))
            for k, v in (raw_props.items() if isinstance(raw_props, Mapping) else ())
        }
        return cls(
            id=str(data["id"]),
            properties=properties,
            created_at=parse_timestamp(data.get("createdAt")),
            updated_at=parse_timestamp(data.get("updatedAt")),
            archived=bool(data.get("archived", False)),
            archived_at=parse_timestamp(data.get("archivedAt")),
            associations=_associations(data.get("associations")),
        )
