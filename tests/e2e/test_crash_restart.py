"""SIGKILL `ledgerbridge run` in the middle of an initial sync, restart it, and find every
record exactly once on both sides (idempotent writes + links recorded with the cursors)."""

from __future__ import annotations

import collections
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerbridge.commands._demo_stack import DEMO_REALM, ensure_demo_connection
from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.store import Store, TokenCipher, generate_key
from tests.e2e.processes import TOKEN, healthy, ledgerbridge, wait_for
from tests.support.servers import free_port, serve_in_thread

pytestmark = pytest.mark.slow
APP_SECRET, VERIFIER = "e2e-app-secret", "e2e-verifier"


def hubspot_all(base: str, obj: str, prop: str) -> list[str | None]:
    values: list[str | None] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, "properties": prop}
        if after:
            params["after"] = after
        response = httpx.get(f"{base}/crm/v3/objects/{obj}", params=params, headers=TOKEN)
        response.raise_for_status()
        body = response.json()
        values += [r["properties"].get(prop) for r in body["results"]]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            return values


def qbo_all(base: str, entity: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base}/v3/company/{DEMO_REALM}/query",
        params={"query": f"select * from {entity} maxresults 1000"},
        headers={**TOKEN, "Accept": "application/json"},
    )
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()["QueryResponse"].get(entity, [])
    return rows


def snapshot(hubspot: str, qbo: str) -> dict[str, collections.Counter[str]]:
    """Per side and kind, how many records carry each email / SKU."""
    customers = qbo_all(qbo, "Customer")
    items = qbo_all(qbo, "Item")
    return {
        "contacts": collections.Counter(
            e.lower() for e in hubspot_all(hubspot, "contacts", "email") if e
        ),
        "customers": collections.Counter(
            c["PrimaryEmailAddr"]["Address"].lower()
            for c in customers
            if c.get("PrimaryEmailAddr", {}).get("Address")
        ),
        "products": collections.Counter(s for s in hubspot_all(hubspot, "products", "hs_sku") if s),
        "items": collections.Counter(i["Sku"] for i in items if i.get("Sku")),
    }


def linked_at_kill(db: Path, key: str) -> int:
    """How many contact and product links the killed run had committed."""
    store = Store.open(f"sqlite:///{db}", TokenCipher(key.encode()), run_migrations=False)
    try:
        with store.begin() as tx:
            links = tx.list_links(1)
    finally:
        store.close()
    return sum(1 for x in links if x.object_type in ("contacts_customers", "products_items"))


@pytest.fixture
def sandboxes() -> Iterator[tuple[str, str, int]]:
    engine_port, hubspot_port = free_port(), free_port()
    engine = f"http://127.0.0.1:{engine_port}"
    hubspot_config = hubspot_cli.build_config(
        port=hubspot_port,
        seed=7,
        latency_ms=40,
        rate_limit_burst=0,
        rate_limit_daily=0,
        webhook_url=f"{engine}/webhooks/hubspot",
    )
    hubspot_config.search_rate_per_second = 0
    hubspot_config.app_client_secret = APP_SECRET
    qbo_config = qbo_cli.build_config(
        seed=7,
        latency=0.04,
        requests_per_minute=0,
        batch_per_minute=0,
        webhook_url=f"{engine}/webhooks/qbo",
        webhook_verifier=VERIFIER,
    )
    with (
        serve_in_thread(hubspot_app(hubspot_config), hubspot_port) as hubspot,
        serve_in_thread(qbo_app(qbo_config)) as qbo,
    ):
        yield hubspot, qbo, engine_port


def test_sigkill_during_the_initial_sync_then_restart_syncs_every_record_once(
    tmp_path: Path, sandboxes: tuple[str, str, int]
) -> None:
    hubspot, qbo, port = sandboxes
    key = generate_key()
    db = tmp_path / "state.db"
    store = Store.open(f"sqlite:///{db}", TokenCipher(key.encode()))
    try:
        ensure_demo_connection(store, hubspot, qbo, "62515")
    finally:
        store.close()
    env = {
        "LEDGERBRIDGE_DATABASE_URL": f"sqlite:///{db}",
        "LEDGERBRIDGE_SECRET_KEY": key,
        "LEDGERBRIDGE_PORT": str(port),
        "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": "1",
        "LEDGERBRIDGE_HUBSPOT__CLIENT_SECRET": APP_SECRET,
        "LEDGERBRIDGE_QBO__WEBHOOK_VERIFIER_TOKEN": VERIFIER,
    }
    before = snapshot(hubspot, qbo)
    assert before["customers"] and before["contacts"] and before["items"]

    def writes_started() -> bool:
        now = snapshot(hubspot, qbo)
        return now["contacts"] != before["contacts"] or now["customers"] != before["customers"]

    with ledgerbridge(["run"], tmp_path / "run-1.log", env) as first:
        wait_for(writes_started, what="the first writes", process=first, timeout=60)
        first.popen.send_signal(signal.SIGKILL)
        first.popen.wait(timeout=30)
    at_kill = snapshot(hubspot, qbo)
    assert at_kill != before
    expected_emails = set(before["contacts"]) | set(before["customers"])
    expected_skus = set(before["items"])

    def complete(now: dict[str, collections.Counter[str]]) -> bool:
        return (
            set(now["contacts"]) >= expected_emails
            and set(now["customers"]) >= expected_emails
            and set(now["products"]) >= expected_skus
        )

    # The kill landed mid-work: the first run had written, but not everything yet (a run
    # that finished before the kill would prove nothing about restarting).
    assert not complete(at_kill), "the first run finished before the SIGKILL"
    assert linked_at_kill(db, key) < len(expected_emails) + len(expected_skus)

    with ledgerbridge(["run"], tmp_path / "run-2.log", env) as second:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: healthy(f"{url}/healthz"), what="the restart", process=second)

        def converged() -> dict[str, collections.Counter[str]] | None:
            log = second.output()
            assert "sync pass failed" not in log, log[-6000:]  # fail fast, with the cause
            now = snapshot(hubspot, qbo)
            return now if complete(now) else None

        after = wait_for(converged, what="every record on both sides", process=second, timeout=120)

    # Exactly once: nothing that existed was duplicated, and each synced record exists once.
    for kind in ("contacts", "customers", "products", "items"):
        for value, count in after[kind].items():
            assert count == max(before[kind].get(value, 0), 1), (kind, value, count)
