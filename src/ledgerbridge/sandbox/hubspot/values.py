"""Conversions between HubSpot string property values and Python values."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from .errors import HubSpotError
from .schema import PropertyDef


@lru_cache(maxsize=1024)  # a write stamps every property it sets with the same moment
def iso_ms(ms: int) -> str:
    """Millisecond epoch → "2024-05-01T12:00:00.000Z"."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@lru_cache(maxsize=65536)  # searches and sorts parse every record's stamps: they repeat
def parse_datetime_ms(value: str) -> int | None:
    """ISO-8601 / "YYYY-MM-DD" / ms epoch string → ms epoch, or None if unparseable."""
    text = value.strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def parse_decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value.strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def fmt_decimal(value: Decimal) -> str:
    """A computed money amount as a decimal string with two places ("12.50")."""
    text = format(value.quantize(Decimal("0.01")), "f")
    return "0.00" if text == "-0.00" else text


def invalid_property(name: str, error: str, message: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": error, "name": name}


def property_error(problems: list[dict[str, Any]]) -> HubSpotError:
    return HubSpotError(
        400,
        "VALIDATION_ERROR",
        f"Property values were not valid: {json.dumps(problems)}",
        errors=[
            {
                "message": p["message"],
                "code": p["error"],
                "context": {"propertyName": [p["name"]]},
            }
            for p in problems
        ],
    )


def normalize(definition: PropertyDef, raw: Any) -> tuple[str | None, dict[str, Any] | None]:
    """Coerce a JSON value to HubSpot's string form; return (value, problem)."""
    name = definition.name
    if raw is None:
        return "", None
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, int | float | str):
        text = str(raw)
    else:
        return None, invalid_property(name, "INVALID_TYPE", f"{raw!r} is not a valid value")
    if text == "":
        return "", None
    kind = definition.type
    if kind == "number":
        number = parse_decimal(text)
        if number is None:
            message = f"{text} was not a valid number."
            return None, invalid_property(name, "INVALID_FLOAT", message)
        return text.strip(), None
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            message = f"{text} was not a valid boolean option."
            return None, invalid_property(name, "INVALID_OPTION", message)
        return text.lower(), None
    if kind in ("datetime", "date"):
        ms = parse_datetime_ms(text)
        if ms is None:
            message = f"{text} was not a valid date/time value."
            return None, invalid_property(name, "INVALID_DATE", message)
        return (iso_ms(ms)[:10] if kind == "date" else iso_ms(ms)), None
    if kind == "enumeration" and definition.options:
        allowed = [str(o["value"]) for o in definition.options]
        if text not in allowed:
            message = f"{text} was not one of the allowed options: " + ", ".join(
                f"[label: {o['label']!r} value: {o['value']!r}]" for o in definition.options
            )
            return None, invalid_property(name, "INVALID_OPTION", message)
    return text, None
