"""The one table: HubSpot status + category → transient/terminal + ErrorCategory."""

from __future__ import annotations

import pytest

from ledgerbridge.hubspot.errors import (
    ConflictError,
    SearchLimitError,
    classify,
    error_from_standard_error,
    parse_retry_after,
)
from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    TerminalError,
    TransientError,
)


@pytest.mark.parametrize(
    ("status", "body", "kind", "category"),
    [
        (429, {"errorType": "RATE_LIMIT", "policyName": "DAILY"}, TransientError, "rate_limited"),
        (429, None, TransientError, "rate_limited"),
        (500, {"category": "INTERNAL_ERROR"}, TransientError, "service_unavailable"),
        (502, None, TransientError, "service_unavailable"),
        (503, None, TransientError, "service_unavailable"),
        (504, None, TransientError, "service_unavailable"),
        (423, None, TransientError, "service_unavailable"),
        (401, {"category": "INVALID_AUTHENTICATION"}, AuthenticationError, "authentication"),
        (403, {"category": "MISSING_SCOPES"}, TerminalError, "permission"),
        (404, {"category": "OBJECT_NOT_FOUND"}, TerminalError, "not_found"),
        (409, {"category": "CONFLICT"}, ConflictError, "validation"),
        (400, {"category": "VALIDATION_ERROR"}, TerminalError, "validation"),
        (418, None, TerminalError, "unknown"),
    ],
)
def test_table(status: int, body: dict[str, str] | None, kind: type, category: str) -> None:
    error = classify(status, body, {})
    assert isinstance(error, kind)
    assert error.category is ErrorCategory(category)
    assert error.status == status
    assert error.transient is issubclass(kind, TransientError)


def test_success_is_not_an_error() -> None:
    for status in (200, 201, 204, 207):
        assert classify(status, None, {}) is None


def test_429_carries_retry_after_and_policy() -> None:
    body = {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "TEN_SECONDLY_ROLLING",
    }
    error = classify(429, body, {"Retry-After": "3"})
    assert isinstance(error, TransientError)
    assert error.retry_after == 3.0
    assert "TEN_SECONDLY_ROLLING" in error.detail


def test_conflict_names_the_existing_record() -> None:
    from_sandbox = {
        "category": "CONFLICT",
        "message": "Invoice already exists with ledgerbridge_qbo_id 42. Existing ID: 1005",
        "context": {"id": ["1005"], "propertyName": ["ledgerbridge_qbo_id"]},
    }
    error = classify(409, from_sandbox, {})
    assert isinstance(error, ConflictError)
    assert error.existing_id == "1005"
    assert error.property_name == "ledgerbridge_qbo_id"
    hubspot = {"category": "CONFLICT", "message": "Contact already exists. Existing ID: 851"}
    error = classify(409, hubspot, {})
    assert isinstance(error, ConflictError)
    assert error.existing_id == "851"


def test_paging_past_the_search_cap_is_its_own_error() -> None:
    body = {"category": "VALIDATION_ERROR", "subCategory": "crm.search.PAGING_LIMIT_EXCEEDED"}
    assert isinstance(classify(400, body, {}), SearchLimitError)


def test_batch_standard_errors_use_the_same_table() -> None:
    item = {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "gone"}
    assert error_from_standard_error(item).category is ErrorCategory.NOT_FOUND
    item = {"status": "error", "category": "VALIDATION_ERROR", "message": "bad"}
    assert error_from_standard_error(item).category is ErrorCategory.VALIDATION
    item = {"status": "error", "category": "RATE_LIMITS", "message": "slow"}
    assert error_from_standard_error(item).transient


def test_retry_after_forms() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("-1") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    import datetime as dt

    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", now) == 30.0
