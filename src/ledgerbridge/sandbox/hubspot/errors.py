"""HubSpot-shaped error bodies (status / message / correlationId / category)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import JSONResponse


def correlation_id() -> str:
    return str(uuid.uuid4())


class HubSpotError(Exception):
    """An API error rendered as HubSpot's `Error` body."""

    def __init__(
        self,
        status_code: int,
        category: str,
        message: str,
        *,
        sub_category: str | None = None,
        context: dict[str, list[str]] | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.category = category
        self.message = message
        self.sub_category = sub_category
        self.context = context
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id(),
            "category": self.category,
        }
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.context:
            body["context"] = self.context
        if self.errors:
            body["errors"] = self.errors
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers)

    def standard_error(self, object_id: str | None = None) -> dict[str, Any]:
        """The `StandardError` item used inside 207 batch responses."""
        item: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": self.context or {},
            "errors": self.errors or [],
            "links": {},
        }
        if self.sub_category:
            item["subCategory"] = self.sub_category
        if object_id is not None:
            item["id"] = object_id
        return item


def validation(message: str, **kwargs: Any) -> HubSpotError:
    return HubSpotError(400, "VALIDATION_ERROR", message, **kwargs)


def not_found(message: str = "resource not found", **kwargs: Any) -> HubSpotError:
    return HubSpotError(404, "OBJECT_NOT_FOUND", message, **kwargs)


def conflict(message: str, **kwargs: Any) -> HubSpotError:
    return HubSpotError(409, "CONFLICT", message, **kwargs)


def unauthorized() -> HubSpotError:
    return HubSpotError(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication "
        "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )


def rate_limited(policy: str, message: str, headers: dict[str, str]) -> JSONResponse:
    cid = correlation_id()
    body = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": cid,
        "policyName": policy,
        "requestId": cid,
        "category": "RATE_LIMITS",
    }
    return JSONResponse(body, status_code=429, headers=headers)
