"""THE table: (HTTP status, QBO Fault code / type) → `Resolution` (retry / fail / reconnect,
and the ErrorCategory) — the same resolution type as HubSpot's table (`hubspot.errors`).

QBO reports errors in several shapes, all parsed here:
* the usual `{"Fault": {"Error": [{"Message", "Detail", "code", "element"}], "type"}}`,
  with any HTTP status, including **200** (a Fault inside a success);
* the 401 shape with lowercase keys `{"fault": {"error": [{"message", "detail", "code"}]}}`;
* an **XML** `<Fault type="SERVICE"><Error code="3001">…` body (429s come back as XML
  even when JSON was asked for);
* per-item Faults inside a `/batch` response (`error_from_fault`).

Lookup order: a code rule (`CODE_RULES`, exact code, then the 6000 message refinements),
then the HTTP status (`STATUS_RULES`, 5xx → transient), then the Fault type
(`TYPE_RULES`), else `UNKNOWN` terminal. Statuses 429 and 5xx are transient whatever the
code says. Authentication failures become `AuthenticationError` (status kept, so the
transport can refresh the token once on a 401).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledgerbridge.sync.errors import (
    RECONNECT,
    ErrorCategory,
    Resolution,
    SyncError,
    TerminalError,
    fail,
    retry,
)

_MAX_XML = 64_000  # error bodies are small; never feed a huge document to the parser

CODE_RULES: dict[str, Resolution] = {
    "3001": retry(ErrorCategory.RATE_LIMITED),  # ThrottleExceeded
    "3200": RECONNECT,  # AuthenticationFailed (token)
    "100": RECONNECT,  # General Authentication Error
    "3100": RECONNECT,  # ApplicationAuthenticationFailed
    "120": fail(ErrorCategory.PERMISSION),  # Authorization Failure
    "3202": fail(ErrorCategory.PERMISSION),  # ApplicationAuthorizationFailed
    "6190": fail(ErrorCategory.PERMISSION),  # Invalid Company Status (subscription)
    "5010": retry(ErrorCategory.STALE_OBJECT),  # Stale Object Error (SyncToken)
    "6240": fail(ErrorCategory.DUPLICATE_DISPLAY_NAME),
    "6210": fail(ErrorCategory.DUPLICATE_DOCUMENT_NUMBER),
    "610": fail(ErrorCategory.NOT_FOUND),  # Object Not Found
    "2500": fail(ErrorCategory.NOT_FOUND),  # Invalid Reference Id
    "6000": fail(ErrorCategory.VALIDATION),  # Business validation (refined below)
    "10000": retry(ErrorCategory.SERVICE_UNAVAILABLE),  # System Failure Error
}

# Code 6000 is a catch-all "business validation error"; its text says which one.
_SERVICE_DATE = re.compile(r"service\s*date|revenue\s*recognition", re.IGNORECASE)
_TAX = re.compile(r"\btax", re.IGNORECASE)

STATUS_RULES: dict[int, Resolution] = {
    401: RECONNECT,
    403: fail(ErrorCategory.PERMISSION),
    404: fail(ErrorCategory.NOT_FOUND),
    408: retry(ErrorCategory.SERVICE_UNAVAILABLE),
    429: retry(ErrorCategory.RATE_LIMITED),
    400: fail(ErrorCategory.VALIDATION),
}

TYPE_RULES: dict[str, Resolution] = {
    "authenticationfault": RECONNECT,
    "authentication": RECONNECT,
    "authorizationfault": fail(ErrorCategory.PERMISSION),
    "validationfault": fail(ErrorCategory.VALIDATION),
    "validation": fail(ErrorCategory.VALIDATION),
    "systemfault": retry(ErrorCategory.SERVICE_UNAVAILABLE),
}


@dataclass(frozen=True, slots=True)
class FaultItem:
    """One `Error` of a Fault."""

    code: str | None
    message: str = ""
    detail: str = ""
    element: str = ""

    @property
    def text(self) -> str:
        return " ".join(p for p in (self.message, self.detail, self.element) if p)


@dataclass(frozen=True, slots=True)
class Fault:
    type: str
    errors: tuple[FaultItem, ...]


def _normalize_code(code: Any) -> str | None:
    if code is None or code == "":
        return None
    text = str(code).strip()
    stripped = text.lstrip("0")
    return stripped or text


def _lower_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def fault_from_json(body: Any) -> Fault | None:
    """The Fault in a JSON body (either key case), or None when there is none."""
    if not isinstance(body, Mapping):
        return None
    raw = body.get("Fault", body.get("fault"))
    if not isinstance(raw, Mapping):
        return None
    data = _lower_keys(raw)
    errors = data.get("error") or []
    if isinstance(errors, Mapping):
        errors = [errors]
    items = tuple(
        FaultItem(
            code=_normalize_code(e.get("code")),
            message=str(e.get("message") or ""),
            detail=str(e.get("detail") or ""),
            element=str(e.get("element") or ""),
        )
        for e in errors
        if isinstance(e, Mapping)
    )
    return Fault(type=str(data.get("type") or ""), errors=items)


def fault_from_xml(text: str) -> Fault | None:
    """The Fault in an XML body (`<Fault type><Error code><Message/><Detail/></Error>`)."""
    if len(text) > _MAX_XML:
        return None
    try:
        root = ET.fromstring(text)  # noqa: S314 - trusted API answer, no DTDs resolved
    except ET.ParseError:
        return None

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    fault = root if local(root.tag) == "Fault" else None
    if fault is None:
        fault = next((el for el in root.iter() if local(el.tag) == "Fault"), None)
    if fault is None:
        return None
    items = []
    for error in (el for el in fault.iter() if local(el.tag) == "Error"):
        fields = {local(child.tag): (child.text or "").strip() for child in error}
        items.append(
            FaultItem(
                code=_normalize_code(error.get("code")),
                message=fields.get("Message", ""),
                detail=fields.get("Detail", ""),
                element=error.get("element", ""),
            )
        )
    return Fault(type=fault.get("type", ""), errors=tuple(items))


def parse_fault(body: bytes | str, content_type: str = "") -> Fault | None:
    """A Fault from a raw body, whether JSON or XML (whatever the Content-Type claims)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    stripped = text.lstrip()
    if stripped.startswith("<") or "xml" in content_type.lower():
        return fault_from_xml(stripped)
    try:
        data = json.loads(stripped) if stripped else None
    except ValueError:
        return None
    return fault_from_json(data)


def _code_rule(item: FaultItem) -> Resolution | None:
    if item.code is None:
        return None
    rule = CODE_RULES.get(item.code)
    if item.code == "6000":
        if _SERVICE_DATE.search(item.text):
            return fail(ErrorCategory.REVENUE_RECOGNITION_SERVICE_DATE)
        if _TAX.search(item.text):
            return fail(ErrorCategory.TAX_REQUIRED)
    if rule is None and item.code.isdigit() and len(item.code) == 4 and item.code[0] == "2":
        return fail(ErrorCategory.VALIDATION)  # 2xxx: request validation
    if rule is None and item.code in {"4000", "4001", "500"}:
        return fail(ErrorCategory.VALIDATION)  # query parse, unsupported operation
    return rule


def decide(status: int, fault: Fault | None) -> Resolution | None:
    """The table lookup. None means: not an error (2xx without a Fault)."""
    if status == 429 or status >= 500:
        code_rule = _code_rule(fault.errors[0]) if fault and fault.errors else None
        if code_rule is not None and code_rule.transient:
            return code_rule
        category = (
            ErrorCategory.RATE_LIMITED if status == 429 else ErrorCategory.SERVICE_UNAVAILABLE
        )
        return retry(category)
    if fault is None:
        if status < 400:
            return None
        return STATUS_RULES.get(status, fail(ErrorCategory.UNKNOWN))
    for item in fault.errors:
        rule = _code_rule(item)
        if rule is not None:
            return rule
    if status in STATUS_RULES:
        return STATUS_RULES[status]
    type_rule = TYPE_RULES.get(fault.type.lower())
    if type_rule is not None:
        return type_rule
    return fail(ErrorCategory.UNKNOWN)


def _describe(status: int, fault: Fault | None) -> tuple[str, str | None]:
    if fault is None or not fault.errors:
        return (f"HTTP {status}", None)
    first = fault.errors[0]
    parts = [f"QBO {first.code or '?'}", first.message, first.detail]
    if first.element:
        parts.append(f"(element {first.element})")
    return (" ".join(p for p in parts if p), first.code)


def error_for(status: int, fault: Fault | None) -> SyncError | None:
    """The SyncError for a status and an optional Fault (None: it is a success)."""
    resolution = decide(status, fault)
    if resolution is None:
        return None
    detail, code = _describe(status, fault)
    return resolution.error(detail, status=status, code=code)


def classify(status: int, body: bytes | str, content_type: str = "") -> SyncError | None:
    """Classify a whole HTTP answer (any status, JSON or XML body)."""
    if 200 <= status < 300 and not body:
        return None
    fault = parse_fault(body, content_type)
    return error_for(status, fault)


def error_from_fault(fault_json: Any, status: int = 200) -> SyncError:
    """The SyncError for one batch item's `Fault` object (never None)."""
    fault = fault_from_json({"Fault": fault_json})
    error = error_for(status, fault)
    return error or TerminalError(ErrorCategory.UNKNOWN, "empty Fault", status=status)
