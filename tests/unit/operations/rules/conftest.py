"""A store with one connection, a fake of the live accounts, and a rules service on them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ledgerbridge.domain import System
from ledgerbridge.operations.rules import RulesService
from ledgerbridge.operations.rules.fields import hubspot_field, qbo_fields
from ledgerbridge.sandbox.qbo.state import custom_field_prefs
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.sync.catalogue import SideFields
from ledgerbridge.sync.rules import ObjectPair

T0 = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)

HUBSPOT_PROPERTIES: dict[ObjectPair, list[dict[str, object]]] = {
    ObjectPair.CONTACTS_CUSTOMERS: [
        {"name": n, "label": n, "type": "string", "hubspotDefined": True}
        for n in ("email", "firstname", "lastname", "company", "phone", "address", "city")
    ]
    + [
        {"name": n, "label": n, "type": "string", "hubspotDefined": True}
        for n in ("state", "zip", "country", "jobtitle", "website")
    ]
    + [
        {"name": "createdate", "label": "Create date", "type": "datetime", "hubspotDefined": True},
        {"name": "lifecyclestage", "label": "Stage", "type": "enumeration"},
        {"name": "num_employees", "label": "Employees", "type": "number"},
    ],
    ObjectPair.PRODUCTS_ITEMS: [
        {"name": n, "label": n, "type": t, "hubspotDefined": True}
        for n, t in (("name", "string"), ("hs_sku", "string"), ("price", "number"))
    ]
    + [{"name": "description", "label": "Description", "type": "string"}],
    ObjectPair.INVOICES_INVOICES: [
        {"name": n, "label": n, "type": "string", "hubspotDefined": True}
        for n in ("hs_number", "hs_currency", "hs_comments", "hs_invoice_status")
    ]
    + [
        {"name": "hs_invoice_date", "label": "Invoice date", "type": "date"},
        {"name": "hs_due_date", "label": "Due date", "type": "date"},
        {"name": "po_number", "label": "PO number", "type": "string"},
        {"name": "delivery_date", "label": "Delivery", "type": "date"},
        {
            "name": "hs_invoice_link",
            "label": "Invoice link",
            "type": "string",
            "hubspotDefined": True,
            "modificationMetadata": {"readOnlyValue": True},
        },
        {
            "name": "hs_balance_due",
            "label": "Balance due",
            "type": "number",
            "hubspotDefined": True,
            "modificationMetadata": {"readOnlyValue": True},
        },
    ],
}


@dataclass
class FakeAccounts:
    """The live accounts as the service sees them: field lists, the company's country."""

    outside_us: bool = False
    income: list[str] = field(default_factory=lambda: ["Sales of Product Income", "Services"])
    warnings: list[str] = field(default_factory=list)
    custom_fields: list[str] = field(default_factory=lambda: ["PO number"])

    async def fields(self, pair: ObjectPair, system: System) -> SideFields:
        if system is System.HUBSPOT:
            infos = [hubspot_field(dict(p)) for p in HUBSPOT_PROPERTIES[pair]]
            return SideFields(system, pair, {f.name: f for f in infos})
        prefs = {"SalesFormsPrefs": {"CustomField": custom_field_prefs(self.custom_fields)}}
        return qbo_fields(pair, prefs)

    async def requires_tax(self) -> bool:
        return self.outside_us

    async def setup_warnings(self) -> list[str]:
        return list(self.warnings)

    async def income_accounts(self) -> list[str]:
        return list(self.income)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        tx.create_connection(name="test", hubspot_base_url="http://h", qbo_base_url="http://q")
    yield store
    store.close()


@pytest.fixture
def accounts() -> FakeAccounts:
    return FakeAccounts()


@pytest.fixture
def service(store: Store, accounts: FakeAccounts) -> RulesService:
    return RulesService(store, 1, accounts=accounts, clock=lambda: T0)
