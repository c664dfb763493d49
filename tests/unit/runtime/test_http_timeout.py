"""`Settings.http_timeout_seconds` (env LEDGERBRIDGE_HTTP_TIMEOUT_SECONDS): how long the
engine waits for HubSpot or QBO before it gives up on a call (and retries it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ledgerbridge.runtime.clients import build_clients, sandbox_options
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store, TokenCipher, generate_key


async def test_the_clients_wait_as_long_as_the_settings_say(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        cid = tx.create_connection(
            name="c",
            hubspot_base_url="http://h.test",
            qbo_base_url="http://q.test",
            hubspot_portal_id="1",
            qbo_realm_id="2",
            options=sandbox_options("sandbox"),
        )
        row = tx.get_connection(cid)
    assert row is not None
    try:
        for settings, expected in ((Settings(), 30.0), (Settings(http_timeout_seconds=2.5), 2.5)):
            clients = build_clients(row, settings=settings, store=store)
            try:
                assert clients.http.timeout.read == expected
                assert clients.http.timeout.connect == expected
            finally:
                await clients.aclose()
    finally:
        store.close()


def test_the_timeout_comes_from_the_environment_and_must_be_positive(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no ledgerbridge.toml here
    monkeypatch.setenv("LEDGERBRIDGE_HTTP_TIMEOUT_SECONDS", "4")
    assert Settings().http_timeout_seconds == 4.0
    monkeypatch.setenv("LEDGERBRIDGE_HTTP_TIMEOUT_SECONDS", "0")
    with pytest.raises(ValidationError):
        Settings()
