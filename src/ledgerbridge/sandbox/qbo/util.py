"""Small helpers: QBO datetime format, Decimal-aware JSON, money rounding."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def qbo_time(when: datetime) -> str:
    """QBO's datetime format: ISO 8601 with seconds and an offset (UTC here)."""
    return when.astimezone(UTC).isoformat(timespec="seconds")


def parse_datetime(text: str) -> datetime:
    """Parse an ISO date or datetime; a naive value is taken as UTC."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if len(value) == 10:
        parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
    else:
        parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def money(value: Any) -> Decimal:
    """A Decimal rounded to cents, from a number or numeric string; bad input gives 0."""
    return dec(value).quantize(CENT, rounding=ROUND_HALF_UP)


def dec(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_jsonable(value: Any) -> Any:
    """Replace Decimals by JSON numbers (QBO serializes amounts as numbers)."""
    return _plain(value)


def _number(value: Any) -> Any:
    """`json.dumps`'s fallback: a Decimal as `_plain` writes it (nothing else is JSON)."""
    if isinstance(value, Decimal):
        return _plain(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    # Same text as json.dumps(_plain(value)), without first copying the whole value in Python.
    return json.dumps(value, separators=(",", ":"), default=_number)


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)
