"""The rules wizard's pages over the real store (in-process ASGI), read as a user reads them:
a refused save shows what was submitted, and the messages speak of the dashboard."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from ledgerbridge.domain import System
from ledgerbridge.operations.rules import ChangeSource, RulesService
from ledgerbridge.operations.rules.fields import Accounts
from ledgerbridge.operations.rules.wizard import propose
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.sync.rules import ConflictPolicy, FilterOperator, ObjectPair
from tests.support.dashboard import dashboard_client
from tests.support.signin import sign_in
from tests.unit.operations.rules.conftest import FakeAccounts

CONTACTS = ObjectPair.CONTACTS_CUSTOMERS
HTML = {"accept": "text/html"}


class FormState(HTMLParser):
    """What a browser would submit from a page's form: each field's value, checkboxes and
    radios only when checked, a select's selected option."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._select: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            ticked = a.get("type") in ("checkbox", "radio")
            if ticked and "checked" not in a:
                return
            self.values.setdefault(name, []).append(a.get("value") or ("on" if ticked else ""))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.values.setdefault(self._select, []).append(a.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None

    def one(self, name: str) -> str | None:
        found = self.values.get(name, [])
        assert len(found) <= 1, (name, found)
        return found[0] if found else None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        tx.create_connection(name="Acme", hubspot_base_url="http://h", qbo_base_url="http://q")
    yield store
    store.close()


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    @asynccontextmanager
    async def accounts_for(connection_id: int) -> AsyncIterator[Accounts | None]:
        yield FakeAccounts()

    async with dashboard_client(store, accounts_for=accounts_for) as client:
        yield client


async def _set_up(store: Store) -> None:
    service = RulesService(store, 1, accounts=FakeAccounts())
    proposal = await propose(service, today=dt.date(2026, 12, 4))
    await service.save(proposal.rules, ChangeSource.CLI)


async def test_a_refused_save_shows_the_form_as_submitted(
    client: httpx.AsyncClient, store: Store
) -> None:
    csrf = await sign_in(client, store)
    await _set_up(store)
    before = RulesService(store, 1).rule(CONTACTS)
    shown = FormState((await client.get("/rules/contacts_customers")).text)
    ticked = shown.values["map_on"]
    assert "phone" in ticked
    assert shown.one("conflict_policy") == before.conflict_policy.value
    other_policy = next(p for p in ConflictPolicy if p is not before.conflict_policy)
    submitted = {
        **{k: v for k, v in shown.values.items() if k != "csrf_token"},
        "csrf_token": csrf,
        "conflict_policy": other_policy.value,
        "map_on": [m for m in ticked if m != "phone"],
        "new_map_name": "lifecycle_notes",
        "new_map_hubspot": "lifecyclestage",
        "new_map_qbo": "Notes",
        "new_map_type": "text",
        "new_filter_flow": "hubspot_to_qbo",
        "new_filter_scope": "primary",
        "new_filter_property": "createdate",
        "new_filter_operator": "after",
        "new_filter_value": "31/02/2025",
    }
    refused = await client.post("/rules/contacts_customers", data=submitted)
    assert refused.status_code == 422
    assert "Nothing was saved" in refused.text
    assert "&#39;31/02/2025&#39; is not a date" in refused.text
    again = FormState(refused.text)
    for name in ("map_on", "direction", "enabled", "display_name_policy"):
        assert again.values.get(name) == submitted.get(name), name
    assert again.one("conflict_policy") == other_policy.value
    assert "phone" not in again.values["map_on"]
    for name in (
        "new_map_name",
        "new_map_hubspot",
        "new_map_qbo",
        "new_map_type",
        "new_filter_flow",
        "new_filter_property",
        "new_filter_operator",
        "new_filter_value",
    ):
        assert again.one(name) == submitted[name], name
    assert RulesService(store, 1).rule(CONTACTS) == before  # nothing was saved

    # Fixing the one field and saving again does what was meant.
    fixed = {**again.values, "csrf_token": csrf, "new_filter_value": "2025-02-28"}
    assert (await client.post("/rules/contacts_customers", data=fixed)).status_code == 303
    rule = RulesService(store, 1).rule(CONTACTS)
    assert rule.conflict_policy is other_policy
    phone = rule.mapping("phone")
    assert phone is not None and not phone.enabled
    custom = rule.mapping("lifecycle_notes")
    assert custom is not None and (custom.hubspot, custom.qbo) == ("lifecyclestage", "Notes")
    added = [f for f in rule.filters if f.property == "createdate"]
    assert [(f.operator, f.value) for f in added] == [(FilterOperator.AFTER, "2025-02-28")]


async def test_a_read_only_custom_mapping_is_refused_in_the_dashboards_terms_then_one_way(
    client: httpx.AsyncClient, store: Store
) -> None:
    csrf = await sign_in(client, store)
    await _set_up(store)
    shown = FormState((await client.get("/rules/contacts_customers")).text)
    assert shown.one("direction") == "two_way"
    form = {
        **shown.values,
        "csrf_token": csrf,
        "new_map_name": "created",
        "new_map_hubspot": "createdate",
        "new_map_qbo": "MetaData.CreateTime",
        "new_map_type": "date",
    }
    refused = await client.post("/rules/contacts_customers", data=form)
    assert refused.status_code == 422
    text = refused.text
    assert "&#39;MetaData.CreateTime&#39; is read-only" in text
    assert "choose &#39;QuickBooks → HubSpot only&#39; for this mapping" in text
    assert "--direction" not in text and "`" not in text
    assert FormState(text).one("new_map_direction") == ""

    one_way = {**form, "new_map_direction": "qbo_to_hubspot"}
    assert (await client.post("/rules/contacts_customers", data=one_way)).status_code == 303
    created = RulesService(store, 1).rule(CONTACTS).mapping("created")
    assert created is not None and created.read_only_on is System.QUICKBOOKS
    page = (await client.get("/rules/contacts_customers")).text
    assert "QuickBooks → HubSpot only" in page


async def test_turning_contacts_off_under_invoices_says_what_to_do_on_the_rules_page(
    client: httpx.AsyncClient, store: Store
) -> None:
    csrf = await sign_in(client, store)
    await _set_up(store)
    answer = await client.post(
        "/rules/contacts_customers/disable", data={"csrf_token": csrf}, headers=HTML
    )
    assert answer.status_code == 422
    text = answer.text
    assert "Turn off the Invoices rule first" in text
    assert "`" not in text and "ledgerbridge rules" not in text
    assert "Back to the overview" not in text
    assert 'id="rules"' in text  # the Rules page itself, with the message on it
    assert RulesService(store, 1).rule(CONTACTS).enabled
