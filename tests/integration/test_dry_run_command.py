"""`ledgerbridge dry-run` against both sandboxes over HTTP: it shows the plan, writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.sandbox.qbo.config import DEFAULT_REALM
from ledgerbridge.store import Store, TokenCipher, generate_key
from tests.integration.conftest import configured_sandboxes, contacts_rule, products_rule


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    rules = [contacts_rule(), products_rule()]
    with configured_sandboxes(tmp_path, monkeypatch, rules) as (url, hs_url, qbo_url):
        yield url, hs_url, qbo_url


def _seed(hs_url: str, qbo_url: str) -> None:
    with httpx.Client(timeout=10) as http:
        http.post(
            f"{hs_url}/_sandbox/objects/contacts",
            json={"properties": {"email": "ann@x.io", "firstname": "Ann"}},
        ).raise_for_status()
        http.post(
            f"{qbo_url}/v3/company/{DEFAULT_REALM}/customer",
            headers={"Authorization": "Bearer sandbox", "Accept": "application/json"},
            json={"DisplayName": "Bo", "PrimaryEmailAddr": {"Address": "bo@x.io"}},
        ).raise_for_status()


def _state(url: str, hs_url: str, qbo_url: str) -> tuple[int, int, int]:
    store = Store.open(url, TokenCipher(generate_key().encode()), run_migrations=False)
    with store.begin() as tx:
        links = len(tx.list_links(1)) + len(tx.list_records(1)) + len(tx.list_activity(1))
    store.close()
    with httpx.Client(timeout=10) as http:
        contacts = http.get(
            f"{hs_url}/crm/v3/objects/contacts", headers={"Authorization": "Bearer sandbox"}
        ).json()["results"]
        customers = http.get(
            f"{qbo_url}/v3/company/{DEFAULT_REALM}/query",
            params={"query": "SELECT * FROM Customer"},
            headers={"Authorization": "Bearer sandbox", "Accept": "application/json"},
        ).json()["QueryResponse"]["Customer"]
    return links, len(contacts), len(customers)


def test_R_BEY_3_dry_run_command_json(configured: tuple[str, str, str]) -> None:
    url, hs_url, qbo_url = configured
    _seed(hs_url, qbo_url)

    result = CliRunner().invoke(app, ["dry-run", "--rule", "contacts_customers", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["dry_run"] is True
    (pair,) = report["pairs"]
    assert pair["object_type"] == "contacts_customers" and pair["created"] == 2
    directions = sorted(a["direction"] for a in pair["actions"] if a["action"] == "create")
    assert directions == ["hubspot_to_qbo", "qbo_to_hubspot"]
    assert _state(url, hs_url, qbo_url) == (0, 1, 1)


def test_R_BEY_3_dry_run_command_table(configured: tuple[str, str, str]) -> None:
    url, hs_url, qbo_url = configured
    _seed(hs_url, qbo_url)

    result = CliRunner().invoke(app, ["dry-run"])

    assert result.exit_code == 0, result.output
    assert "nothing was written" in result.output
    assert "ann@x.io" in result.output and "create" in result.output
    assert _state(url, hs_url, qbo_url) == (0, 1, 1)


def test_R_BEY_3_dry_run_table_gives_totals_first_and_lists_fifty_a_rule(
    configured: tuple[str, str, str],
) -> None:
    _, hs_url, _ = configured
    with httpx.Client(timeout=10) as http:
        for n in range(53):
            http.post(
                f"{hs_url}/_sandbox/objects/contacts",
                json={"properties": {"email": f"c{n:02d}@x.io", "firstname": f"C{n}"}},
            ).raise_for_status()

    wide = {"COLUMNS": "200"}
    short = CliRunner().invoke(app, ["dry-run", "--rule", "contacts_customers"], env=wide)
    every = CliRunner().invoke(app, ["dry-run", "--rule", "contacts_customers", "--all"], env=wide)

    assert short.exit_code == 0 and every.exit_code == 0, short.output + every.output
    head = short.output.index("It would be: created 53")
    assert head < short.output.index("c00@x.io")
    listed = [n for n in range(53) if f"c{n:02d}@x.io" in short.output]
    assert len(listed) == 50
    assert "3 more" in short.output and "--all or --json lists every one" in short.output
    assert all(f"c{n:02d}@x.io" in every.output for n in range(53))
    assert "more" not in every.output
