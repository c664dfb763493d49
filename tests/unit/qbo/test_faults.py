from __future__ import annotations

import json

import pytest

from ledgerbridge.qbo import faults
from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    TerminalError,
    TransientError,
)


def fault(
    code: str,
    message: str = "",
    detail: str = "",
    fault_type: str = "ValidationFault",
    element: str = "",
) -> bytes:
    error = {"Message": message, "Detail": detail, "code": code}
    if element:
        error["element"] = element
    return json.dumps({"Fault": {"Error": [error], "type": fault_type}, "time": "x"}).encode()


XML_429 = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2026-01-01T00:00:00Z">'
    '<Fault type="SERVICE"><Error code="3001">'
    "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
    "<Detail>The request limit was reached.  Try again later</Detail>"
    "</Error></Fault></IntuitResponse>"
)

LOWERCASE_401 = json.dumps(
    {
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": "Token expired: abc",
                    "code": "3200",
                }
            ],
            "type": "AUTHENTICATION",
        },
        "requestId": None,
        "time": 1,
    }
).encode()


@pytest.mark.parametrize(
    ("status", "body", "transient", "category"),
    [
        (429, XML_429.encode(), True, ErrorCategory.RATE_LIMITED),
        (429, fault("3001", fault_type="SERVICE"), True, ErrorCategory.RATE_LIMITED),
        (429, b"", True, ErrorCategory.RATE_LIMITED),
        (500, fault("10000", fault_type="SystemFault"), True, ErrorCategory.SERVICE_UNAVAILABLE),
        (503, b"<html>down</html>", True, ErrorCategory.SERVICE_UNAVAILABLE),
        (502, b"", True, ErrorCategory.SERVICE_UNAVAILABLE),
        (400, fault("5010", "Stale Object Error"), True, ErrorCategory.STALE_OBJECT),
        (
            400,
            fault("6240", "Duplicate Name Exists Error"),
            False,
            ErrorCategory.DUPLICATE_DISPLAY_NAME,
        ),
        (
            400,
            fault("6210", "Duplicate Document Number Error"),
            False,
            ErrorCategory.DUPLICATE_DOCUMENT_NUMBER,
        ),
        (400, fault("610", "Object Not Found"), False, ErrorCategory.NOT_FOUND),
        (
            400,
            fault("2500", "Invalid Reference Id", element="Line.SalesItemLineDetail.ItemRef"),
            False,
            ErrorCategory.NOT_FOUND,
        ),
        (
            400,
            fault(
                "6000",
                "A business validation error has occurred",
                "Business Validation Error: Service Date is required on every sales line "
                "when revenue recognition is turned on.",
            ),
            False,
            ErrorCategory.REVENUE_RECOGNITION_SERVICE_DATE,
        ),
        (
            400,
            fault(
                "6000",
                "A business validation error has occurred",
                "Make sure all your transactions have a GST/HST rate before you save.",
                element="Line.SalesItemLineDetail.TaxCodeRef",
            ),
            False,
            ErrorCategory.TAX_REQUIRED,
        ),
        (
            400,
            fault(
                "6000",
                "A business validation error has occurred",
                "An email address is required to send.",
            ),
            False,
            ErrorCategory.VALIDATION,
        ),
        (400, fault("2020", "Required param missing"), False, ErrorCategory.VALIDATION),
        (
            400,
            fault("2010", "Request has invalid or unsupported property"),
            False,
            ErrorCategory.VALIDATION,
        ),
        (400, fault("4000", "Error parsing query"), False, ErrorCategory.VALIDATION),
        (
            403,
            fault("120", "Authorization Failure", fault_type="AuthorizationFault"),
            False,
            ErrorCategory.PERMISSION,
        ),
        (403, b"", False, ErrorCategory.PERMISSION),
        (400, fault("6190", "Invalid Company Status"), False, ErrorCategory.PERMISSION),
        (400, fault("99999", "Something new"), False, ErrorCategory.VALIDATION),
        (200, fault("99999", "Something new", fault_type="Weird"), False, ErrorCategory.UNKNOWN),
        (
            200,
            fault("6240", "Duplicate Name Exists Error"),
            False,
            ErrorCategory.DUPLICATE_DISPLAY_NAME,
        ),
        (418, b"teapot", False, ErrorCategory.UNKNOWN),
        (404, b"", False, ErrorCategory.NOT_FOUND),
    ],
)
def test_the_table(status: int, body: bytes, transient: bool, category: ErrorCategory) -> None:
    error = faults.classify(status, body)
    assert error is not None
    assert error.transient is transient
    assert isinstance(error, TransientError if transient else TerminalError)
    assert error.category is category
    assert error.status == status


@pytest.mark.parametrize("body", [LOWERCASE_401, b"", fault("100", fault_type="AUTHENTICATION")])
def test_401_shapes_are_authentication_errors(body: bytes) -> None:
    error = faults.classify(401, body)
    assert isinstance(error, AuthenticationError)
    assert error.category is ErrorCategory.AUTHENTICATION
    assert error.status == 401


def test_authentication_fault_inside_a_200() -> None:
    error = faults.classify(200, fault("3200", fault_type="AuthenticationFault"))
    assert isinstance(error, AuthenticationError)


def test_success_is_not_an_error() -> None:
    assert faults.classify(200, b'{"Invoice": {"Id": "1"}}') is None
    assert faults.classify(200, b"") is None
    assert faults.classify(200, b"not json") is None


def test_details_keep_the_code_message_and_element() -> None:
    error = faults.classify(
        400, fault("2500", "Invalid Reference Id", "Item 9 is gone", element="ItemRef")
    )
    assert error is not None
    assert error.code == "2500"
    assert "Invalid Reference Id" in error.detail
    assert "Item 9 is gone" in error.detail
    assert "ItemRef" in error.detail


def test_xml_fault_parsing() -> None:
    parsed = faults.parse_fault(XML_429, "application/xml")
    assert parsed is not None
    assert parsed.type == "SERVICE"
    assert parsed.errors[0].code == "3001"
    assert "ThrottleExceeded" in parsed.errors[0].message
    assert faults.parse_fault("<bad") is None
    assert faults.parse_fault("<IntuitResponse/>") is None
    assert faults.parse_fault("<Fault type='x'/>") == faults.Fault("x", ())


def test_codes_with_leading_zeros_are_normalized() -> None:
    parsed = faults.parse_fault(fault("003200"))
    assert parsed is not None
    assert parsed.errors[0].code == "3200"


def test_batch_item_fault() -> None:
    error = faults.error_from_fault(
        {"Error": [{"Message": "Stale Object Error", "code": "5010"}], "type": "ValidationFault"}
    )
    assert isinstance(error, TransientError)
    assert error.category is ErrorCategory.STALE_OBJECT
    empty = faults.error_from_fault({})
    assert empty.category is ErrorCategory.UNKNOWN
