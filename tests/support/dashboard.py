"""A test client over the dashboard's app, and a page's text as a person reads it."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from ledgerbridge.store import Store
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.pages.common import DashboardContext
from tests.support.signin import BASE_URL


@asynccontextmanager
async def dashboard_client(store: Store, **context: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the web app of `store`; `context`: `DashboardContext`'s options."""
    app = create_web_app(store, dashboard=DashboardContext(store, **context))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


def shown(page: str) -> str:
    """The page's main text as a person reads it."""
    main = re.search(r"<main>(.*)</main>", page, re.S)
    assert main, page[:500]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main.group(1)))
    return html.unescape(re.sub(r" ([.,:;])", r"\1", text)).strip()
