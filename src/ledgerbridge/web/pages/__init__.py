"""The dashboard's pages (server-rendered: FastAPI + Jinja2 + htmx), one router per area."""

from __future__ import annotations

from fastapi import APIRouter

from ledgerbridge.web.pages import (
    connect,
    failures,
    invoices,
    login,
    overview,
    records,
    reports,
    rules,
)

__all__ = ["page_routers"]


def page_routers() -> list[APIRouter]:
    return [
        login.router,
        overview.router,
        connect.router,
        records.router,
        failures.router,
        invoices.router,
        reports.router,
        rules.router,
    ]
