"""Canonical forms of field values, and their conversion to each side's write form.

Canonical values are JSON-serialisable and comparable across sides:
text trimmed; numbers and money as normalised decimal strings ("10.5", never a
float); dates ISO (`YYYY-MM-DD`); enumerations as the HubSpot value (QBO values
are translated through the inverse of the mapping's value map); None for empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerbridge.domain import System
from ledgerbridge.sync.rules import FieldType


def text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    cleaned = str(value).strip()
    return cleaned or None


def decimal_text(value: Decimal) -> str:
    """Normalised decimal string: no exponent, no trailing zeros, no negative zero."""
    if value == 0:
        return "0"
    normal = value.normalize()
    result = format(normal, "f")
    return result


def number(value: object) -> str | None:
    """A decimal string; an unparsable value keeps its trimmed text (so edits still show)."""
    if value is None or isinstance(value, bool):
        return text(value)
    if isinstance(value, Decimal | int):
        return decimal_text(Decimal(value))
    raw = str(value).strip()
    if not raw:
        return None
    try:
        parsed = Decimal(raw)
    except InvalidOperation:
        return raw
    return decimal_text(parsed) if parsed.is_finite() else raw


def date(value: object) -> str | None:
    """ISO date from a date, an aware datetime (its UTC date), ISO text or epoch ms."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raw = str(value).strip()
    if not raw:
        return None
    parsed = parse_datetime(raw)
    return parsed.date().isoformat() if parsed is not None else raw


def parse_datetime(raw: str) -> dt.datetime | None:
    """Parse ISO date/datetime text or HubSpot epoch milliseconds (UTC when naive)."""
    raw = raw.strip()
    if raw.isdigit() and len(raw) >= 10:
        return dt.datetime.fromtimestamp(int(raw) / 1000, tz=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def enumeration(value: object, value_map: Mapping[str, str], system: System) -> str | None:
    cleaned = text(value)
    if cleaned is None or system is System.HUBSPOT:
        return cleaned
    inverse = {qbo: hubspot for hubspot, qbo in value_map.items()}
    return inverse.get(cleaned, cleaned)


def canonical(
    value: object, type_: FieldType, system: System, value_map: Mapping[str, str]
) -> str | None:
    """The canonical form of a scalar `value` read on `system`."""
    if type_ in (FieldType.NUMBER, FieldType.MONEY):
        return number(value)
    if type_ is FieldType.DATE:
        return date(value)
    if type_ is FieldType.ENUMERATION:
        return enumeration(value, value_map, system)
    return text(value)


def to_hubspot(value: str | None, type_: FieldType, value_map: Mapping[str, str]) -> str:
    """HubSpot property values are strings; an empty string clears the value."""
    del type_, value_map  # canonical scalars already are HubSpot's string form
    return "" if value is None else value


def to_qbo(value: str | None, type_: FieldType, value_map: Mapping[str, str]) -> Any:
    """QBO JSON value: Decimal for numbers and money (the connector encodes it)."""
    if value is None:
        return None
    if type_ in (FieldType.NUMBER, FieldType.MONEY):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    if type_ is FieldType.ENUMERATION:
        return value_map.get(value, value)
    return value
