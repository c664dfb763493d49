"""Both sandboxes, a store and an engine, wired like a real connection.

Time is virtual and shared: both sandboxes' clocks, the clients' rate budgets and
retry pauses, the QBO change reader and the store read one `VirtualTime`, so a
rate-limit pause costs no real time. User actions move time forward by a second.

`open_lab("http")` serves both sandboxes on real sockets (`serve_in_thread`);
`open_lab("asgi")` runs them in-process (the state machine uses it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from ledgerbridge.domain import System
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.objects import HubSpotRecord
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.runtime.connection import engine_for_clients
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.hubspot.config import HubSpotSandboxConfig
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.sandbox.qbo.config import DEFAULT_REALM, QboSandboxConfig
from ledgerbridge.store import (
    LinkRow,
    RecordStatus,
    Store,
    SyncRecordRow,
    TokenCipher,
    generate_key,
)
from ledgerbridge.store.state import save_rule
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.ports import SidePort, StatePort
from ledgerbridge.sync.rules import ObjectPair, SyncRule
from ledgerbridge.transport.oauth import StaticToken
from ledgerbridge.transport.retry import RetryPolicy
from tests.support.servers import serve_in_thread

START = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)
Mode = Literal["http", "asgi"]
Obj = dict[str, Any]
_H, _Q = System.HUBSPOT, System.QUICKBOOKS


class VirtualTime:
    """One clock for everything: `clock()` (Unix seconds), `now()` (aware datetime)."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.seconds = start.timestamp()

    def clock(self) -> float:
        return self.seconds

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.seconds, tz=dt.UTC)

    def advance(self, seconds: float) -> None:
        self.seconds += max(seconds, 0.0)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)


@dataclass
class Lab:
    mode: Mode
    time: VirtualTime
    http: httpx.AsyncClient
    hubspot_url: str
    qbo_url: str
    hubspot_sandbox: Any
    qbo_sandbox: Any
    store: Store
    connection_id: int
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- clients and engines ----

    def hubspot_client(self) -> HubSpotClient:
        return HubSpotClient(
            self.http,
            StaticToken("sandbox"),
            base_url=self.hubspot_url,
            retry=RetryPolicy(max_attempts=4, rng=random.Random(1)),
            clock=self.time.clock,
            sleep=self.time.sleep,
        )

    def qbo_client(self) -> QboClient:
        return QboClient(
            self.http,
            realm_id=DEFAULT_REALM,
            tokens=StaticToken("sandbox"),
            base_url=self.qbo_url,
            retry=RetryPolicy(max_attempts=4, rng=random.Random(1)),
            sleep=self.time.sleep,
            clock=self.time.clock,
        )

    def engine(self) -> SyncEngine:
        """A fresh engine (fresh clients): what a restarted process would build."""
        return engine_for_clients(
            self.store,
            self.connection_id,
            hubspot=self.hubspot_client(),
            qbo=self.qbo_client(),
            clock=self.time.now,
        )

    def engine_with(
        self,
        *,
        hubspot: SidePort | None = None,
        qbo: SidePort | None = None,
        state: StatePort | None = None,
    ) -> SyncEngine:
        """An engine with some ports replaced (crash injection)."""
        base = self.engine()
        return SyncEngine(
            hubspot=hubspot or base.sides[_H],
            qbo=qbo or base.sides[_Q],
            state=state or base.state,
            clock=self.time.now,
        )

    def save_rule(self, rule: SyncRule) -> None:
        with self.store.begin() as tx:
            save_rule(tx, self.connection_id, rule)

    # ---- acting as users of the two services ----

    async def hs_create(self, obj: str, **props: str) -> str:
        self.time.advance(1)
        response = await self.http.post(
            f"{self.hubspot_url}/_sandbox/objects/{obj}", json={"properties": props}
        )
        response.raise_for_status()
        return str(response.json()["id"])

    async def hs_update(self, obj: str, record_id: str, **props: str) -> None:
        self.time.advance(1)
        response = await self.http.patch(
            f"{self.hubspot_url}/_sandbox/objects/{obj}/{record_id}", json={"properties": props}
        )
        response.raise_for_status()

    async def hs_all(self, obj: str, *props: str) -> list[HubSpotRecord]:
        return [r async for r in self.hubspot_client().list_all(obj, props)]

    async def qbo_create(self, entity: str, body: Obj) -> Obj:
        self.time.advance(1)
        return await self.qbo_client().create(entity, body, request_id=f"user-{next(self.ids)}")

    async def qbo_update(self, entity: str, record_id: str, fields: Obj) -> Obj:
        self.time.advance(1)
        client = self.qbo_client()
        current = await client.get(entity, record_id)
        body = {**fields, "Id": record_id, "SyncToken": current["SyncToken"]}
        return await client.update(entity, body, request_id=f"user-{next(self.ids)}")

    async def qbo_all(self, entity: str) -> list[Obj]:
        where = " WHERE Active IN (true, false)" if entity in ("Customer", "Item") else ""
        return await self.qbo_client().query_all(f"SELECT * FROM {entity}{where}")

    async def qbo_emails(self) -> list[str]:
        """The email of every QBO customer, sorted."""
        customers = await self.qbo_all("Customer")
        return sorted(c["PrimaryEmailAddr"]["Address"].lower() for c in customers)

    async def income_account(self) -> str:
        rows = await self.qbo_client().query_all(
            "SELECT * FROM Account WHERE AccountType = 'Income'"
        )
        return str(rows[0]["Id"])

    # ---- the store ----

    @contextlib.contextmanager
    def hooked(self, hook: Callable[[httpx.Request], Awaitable[None]]) -> Iterator[None]:
        """`hook` sees every request the engine sends meanwhile, before it goes."""
        before = self.http.event_hooks
        self.http.event_hooks = {**before, "request": [*before.get("request", []), hook]}
        try:
            yield
        finally:
            self.http.event_hooks = before

    @contextlib.contextmanager
    def recorded(self) -> Iterator[list[httpx.Request]]:
        """Every request the engine sends meanwhile, in order."""
        seen: list[httpx.Request] = []

        async def hook(request: httpx.Request) -> None:
            seen.append(request)

        with self.hooked(hook):
            yield seen

    def links(self, pair: ObjectPair) -> list[LinkRow]:
        with self.store.begin() as tx:
            return tx.list_links(self.connection_id, pair.value)

    def records(
        self, pair: ObjectPair | None = None, status: RecordStatus | None = None
    ) -> list[SyncRecordRow]:
        with self.store.begin() as tx:
            return tx.list_records(
                self.connection_id,
                object_type=pair.value if pair else None,
                status=status,
                limit=1000,
            )


@contextlib.asynccontextmanager
async def open_lab(mode: Mode, database_url: str = "sqlite://") -> AsyncIterator[Lab]:
    time = VirtualTime()
    hs_app = hubspot_app(HubSpotSandboxConfig(clock=time.clock, random_seed=7))
    qb_app = qbo_app(QboSandboxConfig(clock=time))
    store = Store.open(database_url, TokenCipher(generate_key().encode()), clock=time.now)
    with contextlib.ExitStack() as stack:
        if mode == "http":
            hubspot_url = stack.enter_context(serve_in_thread(hs_app))
            qbo_url = stack.enter_context(serve_in_thread(qb_app))
            transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport()
        else:
            hubspot_url, qbo_url = "http://hubspot.sandbox", "http://qbo.sandbox"
            transport = _Router({hubspot_url: hs_app, qbo_url: qb_app})
        async with httpx.AsyncClient(transport=transport, timeout=30.0) as http:
            with store.begin() as tx:
                connection_id = tx.create_connection(
                    name="lab",
                    hubspot_base_url=hubspot_url,
                    qbo_base_url=qbo_url,
                    hubspot_portal_id="1",
                    qbo_realm_id=DEFAULT_REALM,
                )
            try:
                yield Lab(
                    mode,
                    time,
                    http,
                    hubspot_url,
                    qbo_url,
                    hs_app.state.sandbox,
                    qb_app.state.sandbox,
                    store,
                    connection_id,
                )
            finally:
                store.close()


class _Router(httpx.AsyncBaseTransport):
    """In-process: one ASGI transport per sandbox, chosen by the request's host."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.transports = {
            httpx.URL(url).host: httpx.ASGITransport(app=app) for url, app in apps.items()
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transports[request.url.host].handle_async_request(request)
