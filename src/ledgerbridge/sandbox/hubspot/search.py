"""CRM search: filter groups, operators, sorts, paging and limits.

Limits: 5 filter groups, 10 filters per group, 25 filters in total, `limit` ≤ 200,
`query` ≤ 3000 characters, one sort, and at most 10,000 results reachable by paging
(`after` + `limit` > 10,000 → 400). `after` is an offset (a decimal string).

Semantics: string comparisons are case-insensitive; `number` properties compare as
decimals and `date`/`datetime` properties as instants (ISO or ms-epoch values).
EQ, IN, ranges and CONTAINS_TOKEN never match a record without a value; NEQ,
NOT_IN and NOT_CONTAINS_TOKEN do. CONTAINS_TOKEN matches a whole word (or a run of
words) of the value and supports the `*` wildcard.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

from .errors import validation
from .schema import OBJECT_TYPES, PropertyDef
from .state import Record, SandboxState
from .values import parse_datetime_ms, parse_decimal

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_LIMIT = 200
MAX_RESULTS = 10_000
MAX_QUERY = 3000
OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
_TOKEN = re.compile(r"[\w]+", re.UNICODE)


def _key(definition: PropertyDef | None, value: str) -> Any:
    kind = definition.type if definition else "string"
    if kind == "number":
        return parse_decimal(value)
    if kind in ("date", "datetime") or (definition and definition.name in _STAMPS):
        return parse_datetime_ms(value)
    return value.lower()


_STAMPS = {"createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate"}


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _contains_token(value: str, pattern: str) -> bool:
    pattern = pattern.lower().strip()
    if not pattern:
        return False
    words = _tokens(value)
    if "*" in pattern:
        return fnmatchcase(value.lower(), pattern) or any(fnmatchcase(w, pattern) for w in words)
    wanted = _tokens(pattern)
    if not wanted:
        return False
    span = len(wanted)
    return any(words[i : i + span] == wanted for i in range(len(words) - span + 1))


def _compare(definition: PropertyDef | None, left: str, right: str) -> int | None:
    a, b = _key(definition, left), _key(definition, right)
    if a is None or b is None:
        return None
    if isinstance(a, Decimal | int) != isinstance(b, Decimal | int):
        return None
    result: int = (a > b) - (a < b)
    return result


def matches_filter(record: Record, flt: dict[str, Any], defs: dict[str, PropertyDef]) -> bool:
    name = str(flt.get("propertyName", ""))
    op = str(flt.get("operator", "EQ")).upper()
    definition = defs.get(name)
    value = record.id if name == "hs_object_id" else record.properties.get(name, "")
    present = value != ""
    if op == "HAS_PROPERTY":
        return present
    if op == "NOT_HAS_PROPERTY":
        return not present
    target = "" if flt.get("value") is None else str(flt.get("value"))
    values = [str(v) for v in flt.get("values") or []]
    if op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN") and not present:
        return True
    if not present:
        return False
    if op == "EQ":
        return _compare(definition, value, target) == 0
    if op == "NEQ":
        return _compare(definition, value, target) != 0
    if op in ("LT", "LTE", "GT", "GTE"):
        cmp = _compare(definition, value, target)
        if cmp is None:
            return False
        return {"LT": cmp < 0, "LTE": cmp <= 0, "GT": cmp > 0, "GTE": cmp >= 0}[op]
    if op == "BETWEEN":
        high = "" if flt.get("highValue") is None else str(flt.get("highValue"))
        low_cmp, high_cmp = _compare(definition, value, target), _compare(definition, value, high)
        return low_cmp is not None and high_cmp is not None and low_cmp >= 0 and high_cmp <= 0
    if op == "IN":
        return any(_compare(definition, value, v) == 0 for v in values)
    if op == "NOT_IN":
        return all(_compare(definition, value, v) != 0 for v in values)
    if op == "CONTAINS_TOKEN":
        return _contains_token(value, target)
    if op == "NOT_CONTAINS_TOKEN":
        return not _contains_token(value, target)
    return False


def _is_text(definition: PropertyDef | None) -> bool:
    """Whether `_key` compares this property as lower-cased text."""
    kind = definition.type if definition else "string"
    stamp = definition is not None and definition.name in _STAMPS
    return kind not in ("number", "date", "datetime") and not stamp


def _compile(flt: dict[str, Any], defs: dict[str, PropertyDef]) -> Callable[[Record], bool]:
    """`matches_filter` for one filter, with EQ / IN / NOT_IN on text properties reduced to
    set look-ups (same answers: text keys are equal exactly when their lower-cased forms are)."""
    name = str(flt.get("propertyName", ""))
    op = str(flt.get("operator", "EQ")).upper()
    definition = defs.get(name)
    if name == "hs_object_id" or op not in ("EQ", "IN", "NOT_IN") or not _is_text(definition):
        return lambda record: matches_filter(record, flt, defs)
    if op == "EQ":
        keys = {"" if flt.get("value") is None else str(flt.get("value")).lower()}
    else:
        keys = {str(v).lower() for v in flt.get("values") or []}
    inside = op != "NOT_IN"

    def test(record: Record) -> bool:
        value = record.properties.get(name, "")
        if value == "":
            return not inside
        return (value.lower() in keys) == inside

    return test


def validate_filter_groups(groups: Any, defs: dict[str, PropertyDef]) -> list[dict[str, Any]]:
    if groups is None:
        return []
    if not isinstance(groups, list):
        raise validation("filterGroups must be a list")
    if len(groups) > MAX_GROUPS:
        raise validation(
            f"Too many filter groups: {len(groups)}. The maximum is {MAX_GROUPS}.",
            sub_category="crm.search.TOO_MANY_FILTER_GROUPS",
        )
    total = 0
    for group in groups:
        filters = group.get("filters", []) if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation("each filter group needs a list of filters")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation(
                f"Too many filters in a group: {len(filters)}. "
                f"The maximum is {MAX_FILTERS_PER_GROUP}.",
                sub_category="crm.search.TOO_MANY_FILTERS_IN_GROUP",
            )
        total += len(filters)
        for flt in filters:
            _validate_filter(flt, defs)
    if total > MAX_FILTERS:
        raise validation(
            f"Too many filters: {total}. The maximum is {MAX_FILTERS} across all groups.",
            sub_category="crm.search.TOO_MANY_FILTERS",
        )
    return groups


def _validate_filter(flt: Any, defs: dict[str, PropertyDef]) -> None:
    if not isinstance(flt, dict):
        raise validation("a filter must be an object")
    op = str(flt.get("operator", "")).upper()
    name = flt.get("propertyName")
    if op not in OPERATORS:
        raise validation(f"Unknown filter operator: {flt.get('operator')}")
    if not isinstance(name, str) or name not in defs:
        raise validation(
            f"There was a problem with the request. Property {name} does not exist",
            sub_category="crm.search.UNKNOWN_PROPERTY",
        )
    if op in ("IN", "NOT_IN") and not isinstance(flt.get("values"), list):
        raise validation(f"{op} filters need a `values` list")
    if op == "BETWEEN" and (flt.get("value") is None or flt.get("highValue") is None):
        raise validation("BETWEEN filters need `value` and `highValue`")
    if op in ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN") and (
        flt.get("value") is None
    ):
        raise validation(f"{op} filters need a `value`")


def parse_sorts(sorts: Any, defs: dict[str, PropertyDef]) -> list[tuple[str, bool]]:
    """[(property, descending)]; accepts "prop", "-prop" and {propertyName, direction}."""
    if not sorts:
        return []
    if not isinstance(sorts, list):
        raise validation("sorts must be a list")
    if len(sorts) > 1:
        raise validation("Only one sort is supported", sub_category="crm.search.TOO_MANY_SORTS")
    parsed: list[tuple[str, bool]] = []
    for item in sorts:
        if isinstance(item, str):
            name, desc = item.lstrip("-"), item.startswith("-")
        elif isinstance(item, dict):
            name = str(item.get("propertyName", ""))
            desc = str(item.get("direction", "ASCENDING")).upper() == "DESCENDING"
        else:
            raise validation("invalid sort")
        if name not in defs:
            raise validation(f"Property {name} does not exist and cannot be used to sort")
        parsed.append((name, desc))
    return parsed


def _query_match(record: Record, query: str, object_type: str) -> bool:
    words = _tokens(query)
    if not words:
        return True
    haystack: list[str] = [record.id]
    for name in OBJECT_TYPES[object_type].searchable:
        haystack.extend(_tokens(record.properties.get(name, "")))
        haystack.append(record.properties.get(name, "").lower())
    return all(any(h.startswith(w) for h in haystack) for w in words)


def search(state: SandboxState, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
    defs = state.prop_defs(object_type)
    groups = validate_filter_groups(body.get("filterGroups"), defs)
    sorts = parse_sorts(body.get("sorts"), defs)
    query = body.get("query")
    if query is not None and (not isinstance(query, str) or len(query) > MAX_QUERY):
        raise validation(f"query must be a string of at most {MAX_QUERY} characters")
    limit_raw = body.get("limit", 10)
    try:
        limit = int(limit_raw)
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError) as exc:
        raise validation("limit and after must be integers") from exc
    if limit < 1 or limit > MAX_LIMIT:
        raise validation(
            f"limit must be between 1 and {MAX_LIMIT}", sub_category="crm.search.INVALID_LIMIT"
        )
    if offset < 0 or offset + limit > MAX_RESULTS:
        raise validation(
            f"Paging beyond {MAX_RESULTS} results is not allowed; refine the filters",
            sub_category="crm.search.PAGING_LIMIT_EXCEEDED",
        )
    compiled = [[_compile(f, defs) for f in g["filters"]] for g in groups]
    hits = [
        r
        for r in state.live(object_type)
        if (not compiled or any(all(test(r) for test in group) for group in compiled))
        and (not query or _query_match(r, query, object_type))
    ]
    hits.sort(key=lambda r: int(r.id))
    for name, desc in sorts:
        definition = defs.get(name)
        with_value = [r for r in hits if _sort_value(r, name, definition) is not None]
        without = [r for r in hits if _sort_value(r, name, definition) is None]
        with_value.sort(key=lambda r: _sort_value(r, name, definition), reverse=desc)
        hits = with_value + without
    page = hits[offset : offset + limit]
    properties = body.get("properties") or None
    result: dict[str, Any] = {
        "total": len(hits),
        "results": [r.to_api(properties) for r in page],
    }
    if offset + limit < len(hits) and offset + limit < MAX_RESULTS:
        result["paging"] = {"next": {"after": str(offset + limit)}}
    return result


def _sort_value(record: Record, name: str, definition: PropertyDef | None) -> Any:
    raw = record.id if name == "hs_object_id" else record.properties.get(name, "")
    if raw == "":
        return None
    value = _key(definition, raw)
    if name == "hs_object_id":
        return int(raw)
    return value
