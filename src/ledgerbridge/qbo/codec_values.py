"""Small pure helpers for the QBO codecs: numbers, dates, references, addresses.

Amounts arrive as JSON numbers. They become `Decimal(str(x))` at once (a float never
survives past this module); the client parses response bodies with `parse_float=Decimal`,
so `str(x)` is the exact text QBO sent.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerbridge.domain import Address, RecordRef, System

Obj = dict[str, Any]


def dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    """A Decimal from a JSON number or numeric string (`Decimal(str(x))`); `default` if absent."""
    if value is None or value == "" or isinstance(value, bool):
        return default
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def dec0(value: Any) -> Decimal:
    result = dec(value, Decimal(0))
    assert result is not None
    return result


def number(value: Decimal) -> Decimal | int:
    """A Decimal for a JSON body (integral amounts as int); the client serializes it."""
    if value == value.to_integral_value() and abs(value) < 10**15:
        return int(value)
    return value


def date_of(value: Any) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


def datetime_of(value: Any) -> dt.datetime | None:
    """A QBO timestamp ("2026-01-15T09:00:00-08:00" or "...Z") as tz-aware UTC."""
    if not value:
        return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def ref_value(ref: Any) -> str | None:
    """The `value` of a `{value, name?}` reference."""
    if isinstance(ref, dict):
        value = ref.get("value")
        return str(value) if value not in (None, "") else None
    return None


def qbo_ref(ref: Any) -> RecordRef | None:
    value = ref_value(ref)
    return RecordRef(System.QUICKBOOKS, value) if value else None


def own_ref(obj: Obj) -> RecordRef | None:
    entity_id = obj.get("Id")
    return RecordRef(System.QUICKBOOKS, str(entity_id)) if entity_id not in (None, "") else None


def ref_of(record: RecordRef | None, name: str | None = None) -> Obj | None:
    """A QBO reference to a record of ours; None unless it points into QuickBooks."""
    if record is None or record.system is not System.QUICKBOOKS:
        return None
    ref: Obj = {"value": record.id}
    if name:
        ref["name"] = name
    return ref


def text(value: Any) -> str | None:
    if value is None:
        return None
    result = str(value)
    return result if result.strip() else None


def address_from(raw: Any) -> Address | None:
    if not isinstance(raw, dict):
        return None
    address = Address(
        line1=text(raw.get("Line1")),
        line2=text(raw.get("Line2")),
        city=text(raw.get("City")),
        region=text(raw.get("CountrySubDivisionCode")),
        postal_code=text(raw.get("PostalCode")),
        country=text(raw.get("Country")),
    )
    return None if address.is_empty else address


def address_to(address: Address | None) -> Obj | None:
    if address is None or address.is_empty:
        return None
    fields = {
        "Line1": address.line1,
        "Line2": address.line2,
        "City": address.city,
        "CountrySubDivisionCode": address.region,
        "PostalCode": address.postal_code,
        "Country": address.country,
    }
    return {key: value for key, value in fields.items() if value is not None}


def put(body: Obj, key: str, value: Any) -> None:
    """Set `key` unless `value` is None (create bodies omit what is unknown)."""
    if value is not None:
        body[key] = value


def is_voided(obj: Obj) -> bool:
    """QBO has no void flag. A voided transaction keeps its lines, all amounts become zero and
    "Voided" is prepended to PrivateNote; we need both signs (a zero total alone could be a
    genuinely empty document, a note alone could be a user's text)."""
    note = str(obj.get("PrivateNote") or "")
    return note.lower().startswith("voided") and dec0(obj.get("TotalAmt")) == 0


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 10**15:
            return int(value)
        # Money has few significant digits; float's shortest repr prints them exactly.
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def json_dumps(value: Any) -> bytes:
    """A request body as JSON bytes; Decimals become JSON numbers."""
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_loads(raw: bytes | str) -> Any:
    """A response body; JSON fractions become Decimal (never float)."""
    return json.loads(raw, parse_float=Decimal)
