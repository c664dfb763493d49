"""Pure filter evaluation (R-CON-7, R-INV-2).

A primary filter tests a property of the record itself; an associated filter
tests the records associated with it (it passes when any of them passes). Text
comparisons are trimmed and case-insensitive, as in HubSpot's filters.
Virtual properties: `@source` (the domain document's source system), `@status`
(the domain object's status), `@updated_at` (the record's last change).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from ledgerbridge.sync import canonical as canon
from ledgerbridge.sync.mapping import read_raw
from ledgerbridge.sync.model import SideRecord
from ledgerbridge.sync.rules import SYNC_STARTED, Filter, FilterOperator, FilterScope

Op = FilterOperator


def property_value(record: SideRecord, prop: str) -> object:
    if prop == "@updated_at":
        return record.updated_at
    if prop == "@source":
        source = getattr(record.domain, "source", None)
        return None if source is None else str(source)
    if prop == "@status":
        status = getattr(record.domain, "status", None)
        return None if status is None else str(status)
    return read_raw(record.raw, prop, record.system)


def _as_datetime(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    if value is None:
        return None
    return canon.parse_datetime(str(value))


def _as_decimal(value: object) -> Decimal | None:
    text = canon.number(value)
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _fold(value: object) -> str | None:
    text = canon.text(value)
    return text.casefold() if text is not None else None


def meets(flt: Filter, value: object, sync_started_at: dt.datetime | None) -> bool:
    """Whether one property value meets the filter's criterion."""
    op = flt.operator
    if op is Op.IS_KNOWN:
        return canon.text(value) is not None
    if op is Op.IS_UNKNOWN:
        return canon.text(value) is None
    expected = flt.value
    if op in (Op.AFTER, Op.BEFORE):
        have = _as_datetime(value)
        if expected == SYNC_STARTED:
            want = sync_started_at
        else:
            want = _as_datetime(expected) if isinstance(expected, str) else None
        if have is None or want is None:
            return False
        return have > want if op is Op.AFTER else have < want
    if op in (Op.GREATER_THAN, Op.LESS_THAN):
        left = _as_decimal(value)
        right = _as_decimal(expected) if isinstance(expected, str) else None
        if left is None or right is None:
            return False
        return left > right if op is Op.GREATER_THAN else left < right
    have_text = _fold(value)
    if op is Op.IN:
        options = expected if isinstance(expected, tuple) else (expected,)
        return have_text in {_fold(o) for o in options if o is not None}
    want_text = _fold(expected) if isinstance(expected, str) else None
    if op is Op.EQUALS:
        return have_text == want_text
    if op is Op.NOT_EQUALS:
        return have_text != want_text
    contains = have_text is not None and want_text is not None and want_text in have_text
    return contains if op is Op.CONTAINS else not contains


def passes(
    flt: Filter,
    record: SideRecord,
    associated: Mapping[str, Sequence[SideRecord]] | None = None,
    sync_started_at: dt.datetime | None = None,
) -> bool:
    if flt.scope is FilterScope.PRIMARY:
        return meets(flt, property_value(record, flt.property), sync_started_at)
    related = (associated or {}).get(flt.association or "", ())
    return any(
        meets(flt, property_value(other, flt.property), sync_started_at) for other in related
    )


def first_failing(
    filters: Sequence[Filter],
    record: SideRecord,
    associated: Mapping[str, Sequence[SideRecord]] | None = None,
    sync_started_at: dt.datetime | None = None,
) -> Filter | None:
    """The first filter `record` does not meet (None: the record is eligible)."""
    for flt in filters:
        if not passes(flt, record, associated, sync_started_at):
            return flt
    return None
