"""QBO Fault bodies: the exception the sandbox raises and the HTTP answers the real API gives."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse, Response

from ledgerbridge.sandbox.qbo.util import qbo_time


class QboFault(Exception):
    """One QBO error. `status` is the HTTP status the real API uses for it."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str = "",
        element: str = "",
        *,
        fault_type: str = "ValidationFault",
        status: int = 400,
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.fault_type = fault_type
        self.status = status

    def fault(self) -> dict[str, Any]:
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element:
            error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}


def fault_body(fault: QboFault, now: datetime) -> dict[str, Any]:
    return {"Fault": fault.fault(), "time": qbo_time(now)}


# ---- the catalogue of faults the sandbox raises -------------------------------------------


def not_found(entity: str, entity_id: str) -> QboFault:
    return QboFault(
        "610",
        "Object Not Found",
        "Object Not Found : Something you're trying to use has been made inactive. "
        "Check the fields with accounts, customers, items, vendors or employees.",
        element=f"{entity}.Id={entity_id}" if entity else "",
    )


def invalid_reference(element: str, entity: str, ref_id: str) -> QboFault:
    return QboFault(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {entity} assigned to this transaction has been deleted "
        f"or does not exist (Id={ref_id}).",
        element=element,
    )


def stale_object(entity: str) -> QboFault:
    return QboFault(
        "5010",
        "Stale Object Error",
        f"Stale Object Error : You and sandbox were working on this {entity} at the same "
        "time. sandbox finished before you did, so your work was not saved.",
    )


def duplicate_name(name: str) -> QboFault:
    return QboFault(
        "6240",
        "Duplicate Name Exists Error",
        "The name supplied already exists. : Another customer, vendor or employee is already "
        f"using this name ({name}). Please use a different name.",
    )


def duplicate_doc_number(doc_number: str, txn_type: str, txn_id: str) -> QboFault:
    return QboFault(
        "6210",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number "
        f"has already been used. DocNumber={doc_number} is assigned to TxnType={txn_type} "
        f"with TxnId={txn_id}",
    )


def business_error(detail: str, element: str = "") -> QboFault:
    return QboFault(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element=element,
    )


def required_missing(element: str) -> QboFault:
    return QboFault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element=element,
    )


def invalid_request(detail: str, element: str = "") -> QboFault:
    return QboFault("2010", "Request has invalid or unsupported property", detail, element)


def query_error(detail: str) -> QboFault:
    return QboFault("4000", "Error parsing query", f"QueryParserError: {detail}")


def unsupported_operation(operation: str, entity: str) -> QboFault:
    return QboFault(
        "500",
        "Unsupported Operation",
        f"Operation {operation} is not supported for {entity}.",
    )


def system_failure() -> QboFault:
    return QboFault(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your data.",
        fault_type="SystemFault",
        status=500,
    )


def unknown_realm(realm_id: str) -> QboFault:
    return QboFault(
        "120",
        "Authorization Failure",
        f"AuthorizationFailure: The token is not authorized for company {realm_id}.",
        fault_type="AuthorizationFault",
        status=403,
    )


# ---- answers that are not the usual Fault JSON --------------------------------------------


def unauthorized_response(detail: str, now: datetime) -> JSONResponse:
    """The 401 body: lowercase keys, type AUTHENTICATION, as the real API sends it."""
    body = {
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                }
            ],
            "type": "AUTHENTICATION",
        },
        "requestId": uuid.uuid4().hex,
        "time": int(now.timestamp() * 1000),
    }
    return JSONResponse(
        body,
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'},
    )


THROTTLE_MESSAGE = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
THROTTLE_DETAIL = "The request limit was reached.  Try again later"


def throttled_response(now: datetime, *, as_json: bool) -> Response:
    """429 as the real API answers it: XML even when JSON was asked (JSON when configured)."""
    if as_json:
        body = {
            "Fault": {
                "Error": [{"Message": THROTTLE_MESSAGE, "Detail": THROTTLE_DETAIL, "code": "3001"}],
                "type": "SERVICE",
            },
            "time": qbo_time(now),
        }
        return JSONResponse(body, status_code=429)
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{qbo_time(now)}">'
        '<Fault type="SERVICE"><Error code="3001">'
        f"<Message>{THROTTLE_MESSAGE}</Message><Detail>{THROTTLE_DETAIL}</Detail>"
        "</Error></Fault></IntuitResponse>"
    )
    return Response(xml, status_code=429, media_type="application/xml")
