"""Fixtures of the distributed-runtime tests: a real PostgreSQL database (the session's
server, a fresh database per test), N connections each with its own HubSpot portal (N
HubSpot sandboxes mounted under /p<i> of one server) and its own QBO company (one QBO
sandbox with N realms), all over real HTTP, and the settings every worker uses."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.routing import Mount

from ledgerbridge.runtime.clients import sandbox_options
from ledgerbridge.runtime.distributed.worker import run_worker
from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.settings import DistributedSettings, Settings
from ledgerbridge.store import Store, generate_key
from ledgerbridge.store.configured import open_store
from ledgerbridge.store.locks import PassState, pass_state
from ledgerbridge.store.state import save_rule
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import ObjectPair
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.postgres

TOKEN = {"Authorization": "Bearer sandbox"}
PassRunner = Callable[..., Awaitable[object]]


class InFlight:
    """ASGI wrapper counting the QBO batch requests received and not yet answered."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.batches = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        batch = scope["type"] == "http" and scope["path"].endswith("/batch")
        self.batches += batch
        try:
            await self.app(scope, receive, send)
        finally:
            self.batches -= batch


@dataclass
class Fleet:
    settings: Settings
    store: Store
    hubspot: dict[int, str]  # connection id → its portal's base URL
    qbo: str
    realms: dict[int, str]  # connection id → its QBO company
    qbo_sandbox: Any  # the QBO sandbox's live state (this process serves it)
    qbo_in_flight: InFlight

    def customers_stored(self, cid: int) -> int:
        """Customers in the connection's QBO company right now, read from the sandbox's
        memory (no API call, so no injected latency)."""
        return len(self.qbo_sandbox.realms[self.realms[cid]].table("Customer"))

    @property
    def ids(self) -> list[int]:
        return sorted(self.hubspot)

    def env(self) -> dict[str, str]:
        """The settings as the environment of a `ledgerbridge worker` subprocess."""
        s = self.settings
        assert s.secret_key is not None
        return {
            "LEDGERBRIDGE_CONFIG": "",
            "LEDGERBRIDGE_DATABASE_URL": s.database_url,
            "LEDGERBRIDGE_SECRET_KEY": s.secret_key.get_secret_value(),
            "LEDGERBRIDGE_RUNTIME": "distributed",
            "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": str(s.poll_interval_seconds),
            "LEDGERBRIDGE_DISTRIBUTED__STALLED_AFTER_SECONDS": str(
                s.distributed.stalled_after_seconds
            ),
            "LEDGERBRIDGE_DISTRIBUTED__POLL": str(s.distributed.poll).lower(),
        }

    def state(self, connection_id: int) -> PassState | None:
        with self.store.begin() as tx:
            return pass_state(tx, connection_id)

    def settled_one(self, cid: int) -> bool:
        state = self.state(cid)
        return state is not None and state.requested > 0 and not state.pending

    def jobs_waiting(self) -> int:
        """Jobs of the queue not finished yet (waiting or running)."""
        with self.store.begin() as tx:
            query = text(
                "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
            )
            return int(tx.connection.execute(query).scalar_one())

    def settled(self) -> bool:
        """Every connection asked at least once, and no ask is left without its pass."""
        states = [self.state(cid) for cid in self.ids]
        return all(s is not None and s.requested > 0 and not s.pending for s in states)

    # -- the services -----------------------------------------------------------------

    def create_contact(self, cid: int, email: str) -> None:
        response = httpx.post(
            f"{self.hubspot[cid]}/crm/v3/objects/contacts",
            json={"properties": {"email": email, "firstname": "F", "lastname": email[:8]}},
            headers=TOKEN,
            timeout=30,
        )
        assert response.status_code == 201, response.text

    def qbo_latency(self, seconds: float) -> None:
        """Every QBO API request waits `seconds` before it is served."""
        httpx.patch(
            f"{self.qbo}/_sandbox/config", json={"faults": {"latency_seconds": seconds}}, timeout=10
        ).raise_for_status()

    def create_contacts(self, cid: int, emails: list[str]) -> None:
        for start in range(0, len(emails), 100):
            inputs = [
                {"properties": {"email": e, "firstname": "F", "lastname": e[:8]}}
                for e in emails[start : start + 100]
            ]
            response = httpx.post(
                f"{self.hubspot[cid]}/crm/v3/objects/contacts/batch/create",
                json={"inputs": inputs},
                headers=TOKEN,
                timeout=30,
            )
            assert response.status_code in (200, 201), response.text

    def create_customer(self, cid: int, email: str) -> None:
        response = httpx.post(
            f"{self.qbo}/v3/company/{self.realms[cid]}/customer",
            json={"DisplayName": f"C {email}", "PrimaryEmailAddr": {"Address": email}},
            headers={**TOKEN, "Accept": "application/json"},
            timeout=30,
        )
        assert response.status_code == 200, response.text

    def customer_emails(self, cid: int) -> list[str]:
        response = httpx.get(
            f"{self.qbo}/v3/company/{self.realms[cid]}/query",
            params={"query": "select * from Customer maxresults 1000"},
            headers={**TOKEN, "Accept": "application/json"},
            timeout=30,
        )
        response.raise_for_status()
        found = response.json()["QueryResponse"].get("Customer", [])
        return [c["PrimaryEmailAddr"]["Address"] for c in found if c.get("PrimaryEmailAddr")]

    def contact_emails(self, cid: int) -> list[str]:
        emails: list[str] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "properties": "email"}
            if after:
                params["after"] = after
            response = httpx.get(
                f"{self.hubspot[cid]}/crm/v3/objects/contacts",
                params=params,
                headers=TOKEN,
                timeout=30,
            )
            response.raise_for_status()
            body = response.json()
            emails += [r["properties"].get("email") for r in body["results"]]
            after = body.get("paging", {}).get("next", {}).get("after")
            if not after:
                return [e for e in emails if e]


@contextmanager
def fleet_of(
    database_url: str,
    count: int,
    *,
    poll_interval: float | None = None,
    hubspot_latency_ms: float = 0.0,
    stalled_after: float = 2.0,
) -> Iterator[Fleet]:
    portals = {
        i: hubspot_cli.build_config(seed=None, latency_ms=hubspot_latency_ms) for i in range(count)
    }
    for i, config in portals.items():
        config.portal_id = 70000 + i
    realms = [str(4620816365000000 + i) for i in range(count)]
    mounts = Starlette(routes=[Mount(f"/p{i}", app=hubspot_app(c)) for i, c in portals.items()])
    qbo_config = qbo_cli.build_config(realms=realms, seed=None)
    settings = Settings(
        database_url=database_url,
        secret_key=SecretStr(generate_key()),
        runtime="distributed",
        poll_interval_seconds=poll_interval or 3600.0,
        # No periodic poll unless a test asks for one: its passes would blur the counts.
        distributed=DistributedSettings(
            stalled_after_seconds=stalled_after, poll=poll_interval is not None
        ),
    )
    qbo = qbo_app(qbo_config)
    in_flight = InFlight(qbo)
    with serve_in_thread(mounts) as hs_url, serve_in_thread(in_flight) as qbo_url:
        store = open_store(settings)
        hubspot: dict[int, str] = {}
        realm_of: dict[int, str] = {}
        with store.begin() as tx:
            for i in range(count):
                cid = tx.create_connection(
                    name=f"client {i}",
                    hubspot_base_url=f"{hs_url}/p{i}",
                    qbo_base_url=qbo_url,
                    hubspot_portal_id=str(portals[i].portal_id),
                    qbo_realm_id=realms[i],
                    options=sandbox_options("sandbox"),
                )
                save_rule(tx, cid, wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS))
                hubspot[cid], realm_of[cid] = f"{hs_url}/p{i}", realms[i]
        try:
            yield Fleet(settings, store, hubspot, qbo_url, realm_of, qbo.state.sandbox, in_flight)
        finally:
            store.close()


@dataclass
class OverlapDetector:
    """Wraps every worker's pass runner: counts passes per connection and records any
    moment two passes of one connection run at once (the workers share this process)."""

    running: Counter[int] = field(default_factory=Counter)
    passes: Counter[int] = field(default_factory=Counter)
    overlaps: list[int] = field(default_factory=list)

    def wrap(self, runner: PassRunner) -> PassRunner:
        async def observed(connection_id: int, **kwargs: Any) -> object:
            self.running[connection_id] += 1
            if self.running[connection_id] > 1:
                self.overlaps.append(connection_id)
            try:
                return await runner(connection_id, **kwargs)
            finally:
                self.running[connection_id] -= 1
                self.passes[connection_id] += 1

        return observed


@asynccontextmanager
async def workers(
    settings: Settings, count: int, detector: OverlapDetector, concurrency: int = 3
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """`count` workers in this process (each its own pool, lock session and runner)."""
    tasks = [
        asyncio.create_task(
            run_worker(
                settings,
                concurrency=concurrency,
                name=f"worker-{i}",
                wrap_runner=detector.wrap,
                install_signal_handlers=False,
                delete_jobs="never",
            )
        )
        for i in range(count)
    ]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(e, asyncio.CancelledError) for e in errors), errors


async def eventually(probe: Callable[[], bool], what: str, within: float = 120.0) -> None:
    """Poll `probe` (in a thread: it may block) until true; fail after `within` s."""
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(probe):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
