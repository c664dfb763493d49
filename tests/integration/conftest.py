"""Fixtures: both sandboxes over real HTTP, a store, and the default rules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ledgerbridge.runtime.clients import sandbox_options
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.hubspot.config import HubSpotSandboxConfig
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.sandbox.qbo.config import DEFAULT_REALM, QboSandboxConfig
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.store.state import save_rule
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import Direction, ObjectPair, SyncRule
from tests.integration.harness import Lab, open_lab
from tests.support.servers import serve_in_thread


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    async with open_lab("http", f"sqlite:///{tmp_path / 'state.db'}") as running:
        yield running


def contacts_rule(**changes: Any) -> SyncRule:
    return wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS).model_copy(update=changes)


def products_rule(**changes: Any) -> SyncRule:
    rule = wizard_defaults(ObjectPair.PRODUCTS_ITEMS)
    if changes.get("direction") is not None and "filters" not in changes:
        changes["filters"] = ()
    return rule.model_copy(update=changes)


@contextmanager
def configured_sandboxes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rules: Sequence[SyncRule]
) -> Iterator[tuple[str, str, str]]:
    """Both sandboxes on sockets, and settings (environment) + a store where connection 1
    uses them with `rules`: what a user's `ledgerbridge <command>` finds. Yields
    (database url, HubSpot url, QBO url)."""
    key = generate_key()
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("LEDGERBRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("LEDGERBRIDGE_SECRET_KEY", key)
    monkeypatch.setenv("LEDGERBRIDGE_CONFIG", "")
    monkeypatch.chdir(tmp_path)
    with (
        serve_in_thread(hubspot_app(HubSpotSandboxConfig())) as hs_url,
        serve_in_thread(qbo_app(QboSandboxConfig())) as qbo_url,
    ):
        store = Store.open(url, TokenCipher(key.encode()))
        with store.begin() as tx:
            connection_id = tx.create_connection(
                name="sandboxes",
                hubspot_base_url=hs_url,
                qbo_base_url=qbo_url,
                qbo_realm_id=DEFAULT_REALM,
                hubspot_portal_id=str(HubSpotSandboxConfig().portal_id),
                options=sandbox_options("sandbox"),
            )
            for rule in rules:
                save_rule(tx, connection_id, rule)
        store.close()
        yield url, hs_url, qbo_url


__all__ = ["Direction", "configured_sandboxes", "contacts_rule", "products_rule"]
