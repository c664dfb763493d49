"""What every dashboard page shares: the context (store, settings, runtime hooks), the
templates, people's names for object pairs, the connection being looked at, the audit."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ledgerbridge import __version__
from ledgerbridge.settings import Settings
from ledgerbridge.store import ConnectionRow, Store
from ledgerbridge.store.accounts import record_audit
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.web.auth import WebSecurity, principal_of
from ledgerbridge.web.pass_health import PassHealth, problem_of

T = TypeVar("T")

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))


def money(value: object) -> str:
    """An amount as people write money: "1,234.50" (more decimals only when it has
    them: "0.125"); "—" for none; anything that is not a number as it is."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    places = max(2, -amount.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"{amount:,.{places}f}"


TEMPLATES.env.filters["money"] = money


def detail_lines(value: object) -> list[str]:
    """An audit detail as lines of text, the way people read it: a list one item a line,
    anything else one line; text as it is (no JSON quotes or escapes)."""
    items = value if isinstance(value, list | tuple) else [value]
    return [_detail_text(item) for item in items]


def _detail_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


TEMPLATES.env.filters["detail_lines"] = detail_lines

OBJECT_NAMES = {
    "contacts_customers": "Contacts ↔ Customers",
    "products_items": "Products ↔ Items",
    "invoices_invoices": "Invoices ↔ Invoices",
    "payments": "Payments ↔ Payments",
    "deals": "Deals (invoice totals)",
}
SIDE_NAMES = {"hubspot": "HubSpot", "quickbooks": "QuickBooks"}
STATUS_NAMES = {
    "synced": "Synced",
    "failed": "Failed",
    "excluded": "Excluded",
    "pending": "Syncing",
}
CONNECTION_STATES = {
    "active": "Connected",
    "needs_reauth": "Reauthorization needed",
    "paused": "Disconnected",
}
HUBSPOT_TYPES = {
    "contacts_customers": "0-1",
    "products_items": "0-7",
    "invoices_invoices": "0-53",
    "payments": "0-101",
    "deals": "0-3",
}
QBO_PAGES = {
    "contacts_customers": "customerdetail?nameId=",
    "products_items": "items?itemId=",
    "invoices_invoices": "invoice?txnId=",
    "payments": "recvpayment?txnId=",
}

PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    303: {"description": "Go to another page (after a form, or to the sign-in)"},
    400: {"description": "A request this page cannot use (the page says why)"},
    401: {"description": "Not signed in"},
    403: {"description": "The form's CSRF token is missing or wrong"},
    404: {"description": "No such connection, record or rule"},
    429: {"description": "Too many failed sign-ins: wait"},
    502: {"description": "HubSpot or QuickBooks did not answer as needed"},
}
"""What the dashboard's pages answer besides 200 (their routers document it)."""

MAX_ID = 2**31 - 1
"""The largest connection id a form or a path may name (ids are 32-bit integers)."""

AccountsFor = Callable[[int], AbstractAsyncContextManager[Any]]
Wake = Callable[[int], None]
Reconcile = Callable[[int], Awaitable[Any]]


@dataclass
class DashboardContext:
    """What the pages work with. `wake(connection_id)` asks the runtime for a pass soon
    (call it on the event loop); `reconcile(connection_id)` runs a reconciliation now."""

    store: Store
    settings: Settings | None = None
    wake: Wake | None = None
    reconcile: Reconcile | None = None
    security: WebSecurity = field(default_factory=WebSecurity)
    passes: dict[int, PassHealth] = field(default_factory=dict)
    """connection id → its latest pass and whether passes fail right now: `on_pass`."""
    accounts_for: AccountsFor | None = None
    budget_use: Callable[[int], list[tuple[str, int, int, float]]] | None = None
    """Per rate window of a connection's clients: (whose, used, limit, seconds) —
    `EngineRunner.budget_use`."""
    oauth_states: dict[str, tuple[str, int | None, float]] = field(default_factory=dict)
    """OAuth flows started from the Connections page: state → (service, connection, until)."""
    """The live accounts of a connection for the rules wizard (field pickers, checks)."""
    config_file: Path | None = None
    """The settings file other `ledgerbridge` commands need (`--config`) to work on this
    store, when the defaults would not find it (the demo's): see `cli_command`."""

    def on_pass(
        self, connection_id: int, error: BaseException | None, report: object = None
    ) -> None:
        """The runtime's pass listener (`EmbeddedRuntime.add_listener`): `error` is what
        the pass raised; `report` (its `PassReport`) tells a pass that finished with a
        rule failed as a whole (`commands._compose` passes the runner's)."""
        now = dt.datetime.now(dt.UTC)
        problem = problem_of(error, report)
        health = self.passes.get(connection_id)
        self.passes[connection_id] = (
            PassHealth.first(now, problem) if health is None else health.after(now, problem)
        )


def context_of(request: Request) -> DashboardContext:
    ctx: DashboardContext = request.app.state.dashboard
    return ctx


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


def category_info(value: str | None) -> dict[str, str]:
    try:
        category = ErrorCategory(value or "unknown")
    except ValueError:
        category = ErrorCategory.UNKNOWN
    return {
        "id": category.value,
        "title": category.headline,
        "explanation": category.explanation,
        "fix": category.fix,
    }


def record_url(
    connection: ConnectionRow, object_type: str, side: str, record_id: str
) -> str | None:
    """The record in HubSpot's or QuickBooks' own app (None for a sandbox connection)."""
    if connection.options.get("sandbox"):
        return None
    if side == "hubspot" and connection.hubspot_portal_id and object_type in HUBSPOT_TYPES:
        kind = HUBSPOT_TYPES[object_type]
        return f"https://app.hubspot.com/contacts/{connection.hubspot_portal_id}/record/{kind}/{record_id}"
    if side == "quickbooks" and object_type in QBO_PAGES:
        return f"https://app.qbo.intuit.com/app/{QBO_PAGES[object_type]}{record_id}"
    return None


def pick_connection(request: Request) -> tuple[ConnectionRow | None, list[ConnectionRow]]:
    """The connection in `?connection=` (default: the first), and every connection."""
    store = context_of(request).store
    with store.begin() as tx:
        connections = tx.list_connections()
    wanted = request.query_params.get("connection")
    if wanted:
        for connection in connections:
            if str(connection.id) == wanted:
                return connection, connections
        raise HTTPException(status_code=404, detail=f"There is no connection {wanted}.")
    return (connections[0] if connections else None), connections


def actor(request: Request) -> str:
    principal = principal_of(request)
    return principal.name if principal else "anonymous"


def audit(
    request: Request,
    action: str,
    *,
    connection_id: int | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    with context_of(request).store.begin() as tx:
        record_audit(
            tx,
            actor(request),
            action,
            connection_id=connection_id,
            target=target,
            details=details,
        )


def when(value: dt.datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def link_builder(connection: ConnectionRow | None, several: bool) -> Callable[..., str]:
    """`link(path, **params)` in templates: a URL with its query (empty values left out),
    naming the connection when there are several."""

    def link(path: str, **params: Any) -> str:
        if several and connection is not None:
            params.setdefault("connection", connection.id)
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        return f"{path}?{query}" if query else path

    return link


def per(seconds: float) -> str:
    """A rate window's length as people say it (the windows carry a small safety margin)."""
    if seconds >= 86_000:
        return "day"
    if 59 <= seconds <= 70:
        return "minute"
    return f"{round(seconds):g} s" if seconds >= 2 else "second"


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    principal = principal_of(request)
    values.setdefault("connection", None)
    values.setdefault("connections", [])
    values.setdefault("link", link_builder(values["connection"], len(values["connections"]) > 1))
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "version": __version__,
            "principal": principal,
            "csrf": (principal.csrf or "") if principal else "",
            "objects": OBJECT_NAMES,
            "sides": SIDE_NAMES,
            "statuses": STATUS_NAMES,
            "states": CONNECTION_STATES,
            "categories": list(ErrorCategory),
            "category_info": category_info,
            "record_url": record_url,
            "when": when,
            "per": per,
            **values,
        },
        status_code=status_code,
    )
