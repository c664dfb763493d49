"""REST face of the rules service: the same validation and messages as the CLI, changes
recorded as coming from `api`, and the endpoints described in the OpenAPI schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from ledgerbridge.operations.rules import ChangeSource, RulesService
from ledgerbridge.operations.rules.fields import Accounts
from ledgerbridge.operations.rules.wizard import propose
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.web.api_rules import rules_router
from ledgerbridge.web.app import create_web_app
from tests.unit.operations.rules.conftest import FakeAccounts

BASE = "/api/connections/1"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Store]]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        tx.create_connection(name="t", hubspot_base_url="http://h", qbo_base_url="http://q")

    @asynccontextmanager
    async def accounts_for(connection_id: int) -> AsyncIterator[Accounts | None]:
        yield FakeAccounts()

    app = create_web_app(store, routers=[rules_router(store, accounts_for)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http, store
    store.close()


async def _set_up(store: Store) -> None:
    service = RulesService(store, 1, accounts=FakeAccounts())
    proposal = await propose(service, today=dt.date(2026, 12, 4))
    await service.save(proposal.rules, ChangeSource.CLI)


async def test_list_get_enable_disable(client: tuple[httpx.AsyncClient, Store]) -> None:
    http, store = client
    assert (await http.get(f"{BASE}/rules")).json() == {"rules": []}
    assert (await http.get(f"{BASE}/rules/contacts_customers")).status_code == 404
    await _set_up(store)
    rules = (await http.get(f"{BASE}/rules")).json()["rules"]
    assert [r["object_pair"] for r in rules] == [
        "contacts_customers",
        "products_items",
        "invoices_invoices",
    ]
    answer = await http.post(f"{BASE}/rules/invoices_invoices/disable")
    assert answer.status_code == 200
    assert answer.json()["changes"] == [
        {"object_pair": "invoices_invoices", "changes": ["enabled: on → off"]}
    ]
    assert (await http.get(f"{BASE}/rules/invoices_invoices")).json()["enabled"] is False
    assert (await http.post(f"{BASE}/rules/invoices_invoices/enable")).status_code == 200
    assert RulesService(store, 1).history(limit=1)[0].source == "api"


async def test_put_validates_like_the_cli_and_saves_nothing_on_error(
    client: tuple[httpx.AsyncClient, Store],
) -> None:
    http, store = client
    await _set_up(store)
    rule = (await http.get(f"{BASE}/rules/contacts_customers")).json()
    before = RulesService(store, 1).rules()
    bad = {
        **rule,
        "mappings": [
            *RulesService(store, 1)
            .rule(RulesService(store, 1).rules()[0].object_pair)
            .model_dump(mode="json")["mappings"],
            {"name": "x", "hubspot": "no_such_prop", "qbo": "Notes"},
        ],
    }
    answer = await http.put(f"{BASE}/rules/contacts_customers", json=bad)
    assert answer.status_code == 422
    (message,) = answer.json()["detail"]["errors"]
    assert "the HubSpot contact has no field 'no_such_prop'" in message
    assert RulesService(store, 1).rules() == before

    good = {**bad, "direction": "qbo_to_hubspot", "mappings": bad["mappings"][:-1]}
    answer = await http.put(f"{BASE}/rules/contacts_customers", json=good)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rule"]["direction"] == "qbo_to_hubspot"
    assert (await http.put(f"{BASE}/rules/products_items", json=good)).status_code == 422
    # What GET answers can be PUT back as it is (the fixed filters come back locked).
    invoices = (await http.get(f"{BASE}/rules/invoices_invoices")).json()
    assert sum(1 for f in invoices["filters"] if f.get("locked")) == 3
    answer = await http.put(f"{BASE}/rules/invoices_invoices", json=invoices)
    assert answer.status_code == 200, answer.text
    assert answer.json()["changes"] == []
    unlocked = {**invoices, "filters": [f for f in invoices["filters"] if not f.get("locked")]}
    answer = await http.put(f"{BASE}/rules/invoices_invoices", json=unlocked)
    assert answer.status_code == 422
    assert "is fixed and cannot be removed" in answer.json()["detail"]["errors"][0]
    answer = await http.put(f"{BASE}/rules/invoices_invoices", json={"direction": "up"})
    assert answer.status_code == 422 and "direction" in answer.json()["detail"]["errors"][0]


async def test_fields_and_the_openapi_schema(client: tuple[httpx.AsyncClient, Store]) -> None:
    http, _ = client
    fields = (await http.get(f"{BASE}/fields/invoices_invoices/qbo")).json()["fields"]
    assert {
        "name": "CustomField:PO number",
        "label": "PO number",
        "type": "text",
        "read_only": False,
        "custom": True,
    } in fields
    hubspot = (await http.get(f"{BASE}/fields/invoices_invoices/hubspot")).json()["fields"]
    link = next(f for f in hubspot if f["name"] == "hs_invoice_link")
    assert link["read_only"] is True
    assert (await http.get("/api/connections/9/rules")).status_code == 404
    paths = (await http.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/connections/{connection_id}/rules",
        "/api/connections/{connection_id}/rules/{pair}",
        "/api/connections/{connection_id}/rules/{pair}/enable",
        "/api/connections/{connection_id}/rules/{pair}/disable",
        "/api/connections/{connection_id}/fields/{pair}/{side}",
    ):
        assert path in paths
    assert "put" in paths["/api/connections/{connection_id}/rules/{pair}"]
