"""The one table that turns HubSpot failures into engine errors.

HubSpot reports an error as an HTTP status plus a JSON body
(`{status, message, category, subCategory?, errorType?, policyName?, context?, errors?}`),
and, inside 207 batch responses, as `StandardError` items with a `category`
but no HTTP status. Both go through `RULES`: the first rule whose status and
HubSpot category match decides, as a `Resolution` (the type QBO's table uses too,
`qbo.faults`),

* what the machine does: retry (`TransientError`, with backoff), fail
  (`TerminalError`, the record fails) or reconnect (`AuthenticationError`), and
* what the user sees: an `ErrorCategory`.

Three outcomes get their own subclasses because callers act on them:
`AuthenticationError` (401: the connection needs a reconnect),
`ConflictError` (409 on a unique-value property: the record already exists,
with its id when HubSpot names it) and `SearchLimitError` (paging a search
beyond 10,000 results).
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledgerbridge.sync.errors import (
    RECONNECT,
    ErrorCategory,
    Outcome,
    Resolution,
    SyncError,
    TerminalError,
    fail,
    retry,
)

__all__ = [
    "RULES",
    "ConflictError",
    "Rule",
    "SearchLimitError",
    "classify",
    "error_from_body",
    "error_from_standard_error",
    "parse_retry_after",
]


class ConflictError(TerminalError):
    """A unique-value property already holds this value on another record (HTTP 409).

    `existing_id` is the id of the record that holds it, when HubSpot names it
    (`context.id`, or "Existing ID: 123" in the message).
    """

    def __init__(
        self,
        detail: str = "",
        *,
        status: int | None = 409,
        existing_id: str | None = None,
        property_name: str | None = None,
    ) -> None:
        super().__init__(ErrorCategory.VALIDATION, detail, status=status, code="CONFLICT")
        self.existing_id = existing_id
        self.property_name = property_name


class SearchLimitError(TerminalError):
    """Paging a search past its 10,000-result cap (slice the query instead)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table: what it matches (`None` matches anything) and its decision."""

    statuses: frozenset[int] | None
    hubspot_category: str | None
    resolution: Resolution


def _codes(*codes: int) -> frozenset[int]:
    return frozenset(codes)


_5XX = frozenset(range(500, 600))

# First match wins. Body categories come before bare statuses so that, say, a 400
# whose body says RATE_LIMITS is treated as a rate limit.
RULES: tuple[Rule, ...] = (
    Rule(None, "RATE_LIMITS", retry(ErrorCategory.RATE_LIMITED)),
    Rule(_codes(429), None, retry(ErrorCategory.RATE_LIMITED)),
    Rule(_codes(401), None, RECONNECT),
    Rule(None, "INVALID_AUTHENTICATION", RECONNECT),
    Rule(None, "EXPIRED_AUTHENTICATION", RECONNECT),
    Rule(_codes(403), None, fail(ErrorCategory.PERMISSION)),
    Rule(None, "MISSING_SCOPES", fail(ErrorCategory.PERMISSION)),
    Rule(_codes(404), None, fail(ErrorCategory.NOT_FOUND)),
    Rule(None, "OBJECT_NOT_FOUND", fail(ErrorCategory.NOT_FOUND)),
    Rule(_codes(409), None, fail(ErrorCategory.VALIDATION)),
    Rule(None, "CONFLICT", fail(ErrorCategory.VALIDATION)),
    Rule(_codes(408, 423, 425), None, retry(ErrorCategory.SERVICE_UNAVAILABLE)),
    Rule(_5XX, None, retry(ErrorCategory.SERVICE_UNAVAILABLE)),
    Rule(None, "VALIDATION_ERROR", fail(ErrorCategory.VALIDATION)),
    Rule(_codes(400, 405, 413, 414, 415, 422), None, fail(ErrorCategory.VALIDATION)),
)

_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)", re.IGNORECASE)
_UNIQUE_NAME = re.compile(r"with (\w+) ", re.IGNORECASE)


def _rule_for(status: int | None, hubspot_category: str | None) -> Rule | None:
    for rule in RULES:
        if rule.statuses is not None and (status is None or status not in rule.statuses):
            continue
        if rule.hubspot_category is not None and rule.hubspot_category != hubspot_category:
            continue
        return rule
    return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return max(seconds, 0.0)


def _context_first(context: Any, key: str) -> str | None:
    if isinstance(context, Mapping):
        values = context.get(key)
        if isinstance(values, list) and values:
            return str(values[0])
        if isinstance(values, str) and values:
            return values
    return None


def _detail(body: Mapping[str, Any], fallback: str) -> str:
    message = str(body.get("message") or fallback)
    sub = body.get("subCategory")
    return f"{message} ({sub})" if isinstance(sub, str) and sub else message


def error_from_body(
    status: int | None,
    body: Mapping[str, Any] | None,
    *,
    retry_after: float | None = None,
) -> SyncError:
    """The engine error for one HubSpot failure (status and/or body)."""
    body = body or {}
    hubspot_category = body.get("category") or body.get("errorType")
    hs_cat = str(hubspot_category) if hubspot_category else None
    if hs_cat == "RATE_LIMIT":
        hs_cat = "RATE_LIMITS"
    code = hs_cat
    policy = body.get("policyName")
    detail = _detail(body, f"HubSpot answered HTTP {status}" if status else "HubSpot error")
    if isinstance(policy, str) and policy:
        detail = f"{detail} [policy {policy}]"
    sub = body.get("subCategory")
    if isinstance(sub, str) and sub.endswith("PAGING_LIMIT_EXCEEDED"):
        return SearchLimitError(ErrorCategory.VALIDATION, detail, status=status, code=sub)
    rule = _rule_for(status, hs_cat)
    if rule is None:
        return TerminalError(ErrorCategory.UNKNOWN, detail, status=status, code=code)
    resolution = rule.resolution
    if resolution.outcome is not Outcome.FAIL:
        return resolution.error(detail, status=status, code=code, retry_after=retry_after)
    if status == 409 or hs_cat == "CONFLICT":
        message = str(body.get("message") or "")
        context = body.get("context")
        existing = _context_first(context, "id")
        if existing is None:
            match = _EXISTING_ID.search(message)
            existing = match.group(1) if match else None
        prop = _context_first(context, "propertyName")
        if prop is None:
            match = _UNIQUE_NAME.search(message)
            prop = match.group(1) if match else None
        return ConflictError(detail, status=status, existing_id=existing, property_name=prop)
    return resolution.error(detail, status=status, code=code)


def classify(
    status: int,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
) -> SyncError | None:
    """None for a success (2xx, including 207); otherwise the engine error."""
    if 200 <= status < 300:
        return None
    raw = None
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value
    retry_after = parse_retry_after(raw)
    return error_from_body(status, body, retry_after=retry_after)


def error_from_standard_error(item: Mapping[str, Any]) -> SyncError:
    """The engine error for one `StandardError` of a 207 batch response."""
    raw_status = item.get("status")
    status: int | None = None
    if isinstance(raw_status, int):
        status = raw_status
    elif isinstance(raw_status, str) and raw_status.isdigit():
        status = int(raw_status)
    return error_from_body(status, item)
