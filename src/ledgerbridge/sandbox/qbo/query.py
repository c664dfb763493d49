"""The QBO query language subset, and change data capture (CDC)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from ledgerbridge.sandbox.qbo import faults
from ledgerbridge.sandbox.qbo.entities import ENTITIES, LIST_ENTITIES, public
from ledgerbridge.sandbox.qbo.state import Obj, RealmState
from ledgerbridge.sandbox.qbo.util import parse_datetime

MAX_RESULTS = 1000
DEFAULT_MAX_RESULTS = 100
CDC_MAX_OBJECTS = 1000
CDC_WINDOW = timedelta(days=30)

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:\\.|[^'\\])*')|(?P<op><=|>=|!=|=|<|>)|(?P<punct>[(),*])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*(?:\(\*\))?)|(?P<number>-?\d+(?:\.\d+)?))"
)
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "ORDER",
    "ORDERBY",
    "BY",
    "STARTPOSITION",
    "MAXRESULTS",
    "IN",
    "LIKE",
    "ASC",
    "DESC",
}


@dataclass
class Condition:
    path: str
    op: str
    value: Any


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] = field(default_factory=list)  # empty: all
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (path, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise faults.query_error(
                f"Encountered unexpected text at position {pos}: {text[pos:]!r}"
            )
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise faults.query_error("Unexpected end of query")
        self.i += 1
        return tok

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() in words:
            self.i += 1
            return tok[1].upper()
        return None

    def expect_keyword(self, word: str) -> None:
        if self.keyword(word) is None:
            raise faults.query_error(f"Expected {word} near {self.peek()}")

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "number":
            return Decimal(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise faults.query_error(f"Expected a value, found {text!r}")

    def integer(self) -> int:
        kind, text = self.take()
        if kind != "number" or "." in text:
            raise faults.query_error(f"Expected an integer, found {text!r}")
        return int(text)


def parse(text: str) -> Query:
    p = _Parser(text)
    p.expect_keyword("SELECT")
    count = False
    fields: list[str] = []
    while True:
        kind, tok = p.take()
        if kind == "word" and tok.lower() == "count(*)":
            count = True
        elif kind == "punct" and tok == "*":
            pass
        elif kind == "word" and tok.upper() not in _KEYWORDS:
            fields.append(tok)
        else:
            raise faults.query_error(f"Unexpected {tok!r} in the select list")
        nxt = p.peek()
        if nxt == ("punct", ","):
            p.take()
            continue
        break
    if any(t == ("punct", "*") for t in p.toks[: p.i]):
        fields = []  # "SELECT *, Sku" is everything
    p.expect_keyword("FROM")
    kind, entity = p.take()
    if kind != "word" or entity not in ENTITIES:
        raise faults.query_error(f"Invalid entity {entity!r} (entity names are case-sensitive)")
    query = Query(entity=entity, count=count, fields=fields)
    if p.keyword("WHERE"):
        while True:
            kind, path = p.take()
            if kind != "word":
                raise faults.query_error(f"Expected a property name, found {path!r}")
            op = p.keyword("IN", "LIKE")
            if op is None:
                okind, op = p.take()
                if okind != "op" or op == "!=":
                    raise faults.query_error(f"Unsupported operator {op!r}")
            if op == "IN":
                if p.take() != ("punct", "("):
                    raise faults.query_error("Expected ( after IN")
                values = [p.literal()]
                while p.peek() == ("punct", ","):
                    p.take()
                    values.append(p.literal())
                if p.take() != ("punct", ")"):
                    raise faults.query_error("Expected ) to close IN")
                query.where.append(Condition(path, "IN", values))
            else:
                query.where.append(Condition(path, op, p.literal()))
            if not p.keyword("AND"):
                break
            if p.peek() and p.peek() == ("word", "OR"):
                raise faults.query_error("OR is not supported")
    ordered = p.keyword("ORDERBY") is not None
    if not ordered and p.keyword("ORDER"):
        p.expect_keyword("BY")
        ordered = True
    if ordered:
        while True:
            kind, path = p.take()
            if kind != "word":
                raise faults.query_error(f"Expected a property to order by, found {path!r}")
            desc = p.keyword("ASC", "DESC") == "DESC"
            query.order.append((path, desc))
            if p.peek() != ("punct", ","):
                break
            p.take()
    if p.keyword("STARTPOSITION"):
        query.start = max(1, p.integer())
    if p.keyword("MAXRESULTS"):
        query.max_results = min(MAX_RESULTS, max(0, p.integer()))
    if p.peek() is not None:
        raise faults.query_error(f"Unexpected {p.peek()[1]!r}")  # type: ignore[index]
    return query


_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")


@lru_cache(maxsize=65536)
def _when(text: str) -> datetime:
    """`parse_datetime`, remembered: a table's stamps repeat, and so do a query's constants."""
    return parse_datetime(text)


def _value(obj: Obj, path: str) -> Any:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        # The first key equal to `part` but for case (found by C-level list operations).
        keys = list(current)
        try:
            match = keys[list(map(str.lower, keys)).index(part.lower())]
        except ValueError:
            return None
        current = current[match]
    if isinstance(current, dict):
        for key in ("value", "Address", "FreeFormNumber", "URI"):
            if key in current:
                return current[key]
    return current


def _coerce(field_value: Any, wanted: Any) -> tuple[Any, Any] | None:
    if field_value is None:
        return None
    if isinstance(wanted, bool) or isinstance(field_value, bool):
        return (str(field_value).lower(), str(wanted).lower())
    if isinstance(wanted, Decimal) or isinstance(field_value, (int, float, Decimal)):
        try:
            return (Decimal(str(field_value)), Decimal(str(wanted)))
        except InvalidOperation:
            return (str(field_value), str(wanted))
    text, other = str(field_value), str(wanted)
    if _DATE_PREFIX.match(text) and _DATE_PREFIX.match(other):
        try:
            return (_when(text), _when(other))
        except ValueError:
            return (text, other)
    if text.isdigit() and other.isdigit():
        return (int(text), int(other))
    return (text, other)


def matches(obj: Obj, cond: Condition) -> bool:
    field_value = _value(obj, cond.path)
    if cond.op == "IN":
        return any(matches(obj, Condition(cond.path, "=", v)) for v in cond.value)
    if cond.op == "LIKE":
        if field_value is None:
            return False
        pattern = "^" + ".*".join(re.escape(p) for p in str(cond.value).split("%")) + "$"
        return re.match(pattern, str(field_value), re.IGNORECASE | re.DOTALL) is not None
    pair = _coerce(field_value, cond.value)
    if pair is None:
        return False
    left, right = pair
    try:
        result = {
            "=": left == right,
            "<": left < right,
            ">": left > right,
            "<=": left <= right,
            ">=": left >= right,
        }[cond.op]
    except TypeError:
        return False
    return bool(result)


def _sort_key(obj: Obj, path: str) -> tuple[int, Any]:
    value = _value(obj, path)
    if value is None:
        return (0, "")
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return (1, Decimal(str(value)))
    text = str(value)
    if text.isdigit():
        return (1, Decimal(text))
    return (2, text.casefold())


def _id_key(value: Any) -> str | None:
    """The table key an `Id = value` condition can match, or None when unsure (a scan)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return str(int(value)) if value.is_finite() and value == value.to_integral_value() else None
    text = str(value)
    try:
        return str(int(text)) if text.isdigit() else None
    except ValueError:  # digits int() refuses ("²")
        return None


def _by_id(table: dict[str, Obj], where: list[Condition]) -> list[Obj] | None:
    """The rows an `Id = …` / `Id IN (…)` condition allows, straight from the table (keyed by
    Id), or None when there is no such condition. The caller still applies every condition."""
    for cond in where:
        if cond.path.lower() != "id" or cond.op not in ("=", "IN"):
            continue
        keys = [_id_key(v) for v in (cond.value if cond.op == "IN" else [cond.value])]
        if any(k is None for k in keys):
            continue
        found = {k: table[k] for k in keys if k is not None and k in table}
        return list(found.values())
    return None


CREATED = "metadata.createtime"


def _created_range(
    realm: RealmState, table: dict[str, Obj], query: Query
) -> tuple[list[Obj], list[Condition]] | None:
    """The rows `MetaData.CreateTime` comparisons allow, in creation order, from the
    realm's creation-order index (a slice found by bisection, not a scan of the table),
    and the conditions left to check on them; None when the query has no such condition
    (or one that does not compare as a date)."""
    bounds = [c for c in query.where if c.path.lower() == CREATED and c.op in _RANGE_OPS]
    if not bounds or not all(
        isinstance(c.value, str) and _DATE_PREFIX.match(c.value) for c in bounds
    ):
        return None
    try:
        order = realm.indexes.in_creation_order(table, query.entity)
        times = [(c.op, _when(c.value)) for c in bounds]
    except (KeyError, TypeError, ValueError):
        return None  # a row or a value without a usable time: the scan decides
    low, high = 0, len(order)
    for op, at in times:
        if op in (">=", "="):
            low = max(low, bisect.bisect_left(order, (at,)))
        if op == ">":
            low = max(low, bisect.bisect_left(order, (at, _AFTER_ANY_ID)))
        if op in ("<=", "="):
            high = min(high, bisect.bisect_left(order, (at, _AFTER_ANY_ID)))
        if op == "<":
            high = min(high, bisect.bisect_left(order, (at,)))
    try:
        rows = [table[obj_id] for _, _, obj_id in order[low:high]]
    except KeyError:  # a row removed behind the index's back: built again next time
        del realm.indexes.created[query.entity]
        return None
    return rows, [c for c in query.where if c not in bounds]


_RANGE_OPS = ("=", "<", ">", "<=", ">=")
_AFTER_ANY_ID = float("inf")


def run(realm: RealmState, text: str, *, indexed: bool = True) -> Obj:
    """Evaluate a query; return the `QueryResponse` object. `indexed=False` scans the
    table whatever the query (the tests compare both)."""
    query = parse(text)
    table = realm.table(query.entity)
    picked = _by_id(table, query.where) if indexed else None
    ranged = _created_range(realm, table, query) if indexed and picked is None else None
    where = query.where
    if ranged is not None:
        picked, where = ranged
    rows = list(table.values()) if picked is None else picked
    if query.entity in LIST_ENTITIES and not any(c.path.lower() == "active" for c in query.where):
        rows = [r for r in rows if r.get("Active", True)]
    rows = [r for r in rows if all(matches(r, c) for c in where)]
    if query.count:
        return {"totalCount": len(rows)}
    if ranged is None or [(path.lower(), desc) for path, desc in query.order] != [(CREATED, False)]:
        rows.sort(key=lambda r: int(r["Id"]) if str(r["Id"]).isdigit() else 0)
        for path, desc in reversed(query.order):
            rows.sort(key=lambda r, p=path: _sort_key(r, p), reverse=desc)  # type: ignore[misc]
    # else: in creation order (time, then Id) already, as those two sorts would leave them
    page = rows[query.start - 1 : query.start - 1 + query.max_results]
    if not page:
        return {}
    out = [public(r) for r in page]
    if query.fields:
        keep = {f.split(".")[0].lower() for f in query.fields} | {"id", "synctoken", "metadata"}
        out = [{k: v for k, v in r.items() if k.lower() in keep} for r in out]
    return {query.entity: out, "startPosition": query.start, "maxResults": len(out)}


def cdc(realm: RealmState, entities: list[str], changed_since: datetime, now: datetime) -> Obj:
    """Changes since `changed_since` (at most 30 days back, at most 1,000 objects in all)."""
    if changed_since < now - CDC_WINDOW:
        raise faults.QboFault(
            "4000",
            "Error parsing query",
            "QueryParserError: changedSince must be within the last 30 days.",
            element="changedSince",
        )
    changes: list[tuple[datetime, str, Obj]] = []
    for entity in entities:
        for obj in realm.table(entity).values():
            when = _when(obj["MetaData"]["LastUpdatedTime"])
            if when >= changed_since:
                changes.append((when, entity, obj))
        for entity_id, stamp in realm.deleted.get(entity, {}).items():
            when = _when(stamp)
            if when >= changed_since:
                tomb = {
                    "Id": entity_id,
                    "status": "Deleted",
                    "domain": "QBO",
                    "MetaData": {"LastUpdatedTime": stamp},
                }
                changes.append((when, entity, tomb))
    changes.sort(key=lambda c: c[0])
    changes = changes[:CDC_MAX_OBJECTS]
    responses = []
    for entity in entities:
        objs = [public(o) for _, e, o in changes if e == entity]  # tombstones: a plain copy
        if objs:
            responses.append({entity: objs, "startPosition": 1, "maxResults": len(objs)})
        else:
            responses.append({})
    return {"QueryResponse": responses}


def parse_entities(text: str) -> list[str]:
    names = []
    lower = {e.lower(): e for e in ENTITIES}
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        entity = lower.get(name.lower())
        if entity is None:
            raise faults.invalid_request(f"Invalid entity in CDC request: {name}", "entities")
        names.append(entity)
    if not names:
        raise faults.required_missing("entities")
    return names
