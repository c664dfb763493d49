"""Errors as people and programs read them: the dashboard's pages answer the error page
(`error.html`: the status, a sentence of what went wrong, a link back); the API, webhooks,
workflow actions, metrics and the health check keep FastAPI's JSON.

A page route answers JSON only to a client that asks for JSON and not for HTML (a script's
`Accept: application/json`). A visitor who is not signed in never gets here for a page: the
sign-in redirect (`web.auth`) comes first, so the error page never shows customer data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ledgerbridge.web.pages.common import render

MACHINE_PREFIXES = (
    "/api/",
    "/openapi.json",
    "/redoc",
    "/docs",
    "/metrics",
    "/healthz",
    "/webhooks/",
    "/actions/",
)
"""Paths that programs call: their errors stay JSON."""

TITLES = {
    400: "The request cannot be used",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    405: "Not available this way",
    429: "Too many tries",
    502: "HubSpot or QuickBooks did not answer as needed",
}

VALIDATION_STATUS = 400
"""A page's link or form that does not fit (documented as 400 in `PAGE_RESPONSES`); the API
keeps FastAPI's 422."""

WHERE = {"query": "link", "path": "link", "body": "form", "header": "request", "cookie": "request"}


def wants_page(request: Request) -> bool:
    """The error should be the dashboard's error page (not JSON)."""
    if request.url.path.startswith(MACHINE_PREFIXES):
        return False
    accept = request.headers.get("accept", "").lower()
    return "text/html" in accept or "application/json" not in accept


def _names(names: Sequence[str]) -> str:
    quoted = [f"“{n}”" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def validation_message(errors: Sequence[Any]) -> str:
    """A sentence for FastAPI's validation errors: which parts of the link or form are
    missing, and which are not valid."""
    missing: dict[str, list[str]] = {}
    invalid: dict[str, list[str]] = {}
    choices: list[str] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        where = WHERE.get(loc[0], "request") if loc else "request"
        name = loc[-1] if len(loc) > 1 else "value"
        if error.get("type") in ("literal_error", "enum"):
            expected = (error.get("ctx") or {}).get("expected", "")
            choices.append(f"The {where}’s “{name}” is not one of {expected}.")
            continue
        bucket = missing if error.get("type") == "missing" else invalid
        if name not in bucket.setdefault(where, []):
            bucket[where].append(name)
    parts = [f"The {where} is missing {_names(names)}." for where, names in missing.items()]
    parts += choices
    for where, names in invalid.items():
        verb = "is" if len(names) == 1 else "are"
        parts.append(f"The {where}’s {_names(names)} {verb} not valid.")
    return " ".join(parts) or "The request is not valid."


def error_page(request: Request, status_code: int, message: str) -> Response:
    return render(
        request,
        "error.html",
        status_code=status_code,
        status=status_code,
        title=TITLES.get(status_code, "Something went wrong"),
        message=message,
    )


def _http_message(request: Request, exc: StarletteHTTPException) -> str:
    """The exception's own sentence, or one for Starlette's bare reasons."""
    if exc.status_code == 404 and exc.detail == "Not Found":
        return f"There is no page at {request.url.path}."
    if exc.status_code == 405 and exc.detail == "Method Not Allowed":
        return f"{request.url.path} does not answer a {request.method} request."
    return str(exc.detail)


def install_error_pages(app: FastAPI) -> None:
    """Answer errors of page routes with the error page (see the module's docstring)."""

    @app.exception_handler(StarletteHTTPException)
    async def http_errors(request: Request, exc: StarletteHTTPException) -> Response:
        if not wants_page(request):
            return await http_exception_handler(request, exc)
        response = error_page(request, exc.status_code, _http_message(request, exc))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_errors(request: Request, exc: RequestValidationError) -> Response:
        if not wants_page(request):
            return await request_validation_exception_handler(request, exc)
        return error_page(request, VALIDATION_STATUS, validation_message(exc.errors()))
