"""The fields a mapping or a filter can name, read live from each side (R-CON-6, R-INV-14).

* HubSpot: `GET /crm/v3/properties/{object}`: every property with its type, custom ones
  included (custom invoice properties, R-INV-14); a property whose value HubSpot computes
  (`modificationMetadata.readOnlyValue`, `calculated`) is read-only.
* QuickBooks has no properties API: an entity's fields are the ones the default tables
  and `sync.validation.KNOWN_TYPES` name (plus the few below), and on invoices the
  sales-form custom fields defined in the company's Preferences
  (`SalesFormsPrefs.CustomField`, API-NOTES C8: only String fields, at most three),
  named `CustomField:<name>`.

`LiveAccounts` also answers the other questions set-up asks the accounts: whether the
QBO company requires tax (R-INV-8), its settings warnings (R-INV-12) and its income
accounts (R-PRD-3). `Accounts` is the protocol the rules service takes (tests pass a
fake; a service without accounts checks only what needs no account).
"""

from __future__ import annotations

from typing import Any, Protocol

from ledgerbridge.domain import System
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.side.kinds import OBJECTS
from ledgerbridge.operations.invoices import invoice_setup_warnings, requires_tax
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.side.invoices import custom_field_ids
from ledgerbridge.sync.catalogue import FieldInfo, SideFields, static_fields
from ledgerbridge.sync.mapping import CUSTOM_FIELD_PREFIX
from ledgerbridge.sync.rules import FieldType, ObjectPair

T = FieldType

HUBSPOT_TYPES: dict[str, FieldType] = {
    "string": T.TEXT,
    "phone_number": T.TEXT,
    "number": T.NUMBER,
    "date": T.DATE,
    "datetime": T.DATE,
    "enumeration": T.ENUMERATION,
    "bool": T.ENUMERATION,
}

QBO_EXTRA: dict[ObjectPair, dict[str, FieldType]] = {
    ObjectPair.CONTACTS_CUSTOMERS: {
        "DisplayName": T.TEXT,
        "Active": T.ENUMERATION,
        "Taxable": T.ENUMERATION,
        "Title": T.TEXT,
        "Suffix": T.TEXT,
        "MiddleName": T.TEXT,
        "Fax.FreeFormNumber": T.TEXT,
        "ShipAddr.City": T.TEXT,
        "MetaData.LastUpdatedTime": T.DATE,
    },
    ObjectPair.PRODUCTS_ITEMS: {"Active": T.ENUMERATION, "MetaData.CreateTime": T.DATE},
    ObjectPair.INVOICES_INVOICES: {
        "MetaData.CreateTime": T.DATE,
        "MetaData.LastUpdatedTime": T.DATE,
        "EmailStatus": T.ENUMERATION,
    },
}


class Accounts(Protocol):
    """What the rules service asks the connected accounts."""

    async def fields(self, pair: ObjectPair, system: System) -> SideFields: ...

    async def requires_tax(self) -> bool: ...

    async def setup_warnings(self) -> list[str]: ...

    async def income_accounts(self) -> list[str]: ...


def hubspot_field(prop: dict[str, Any]) -> FieldInfo:
    meta = prop.get("modificationMetadata") or {}
    read_only = bool(meta.get("readOnlyValue")) or bool(prop.get("calculated"))
    name = str(prop["name"])
    return FieldInfo(
        name=name,
        label=str(prop.get("label") or name),
        type=HUBSPOT_TYPES.get(str(prop.get("type"))),
        read_only=read_only,
        custom=not prop.get("hubspotDefined", False),
    )


def qbo_fields(pair: ObjectPair, preferences: dict[str, Any]) -> SideFields:
    """The QBO fields of `pair`'s entity; on invoices, the custom fields of `preferences`."""
    base = static_fields(System.QUICKBOOKS, pair)
    found = dict(base.fields)
    for path, type_ in QBO_EXTRA[pair].items():
        read_only = path.startswith("MetaData.")
        found.setdefault(path, FieldInfo(path, path, type_, read_only=read_only))
    if pair is ObjectPair.INVOICES_INVOICES:
        for name in custom_field_ids(preferences):
            path = CUSTOM_FIELD_PREFIX + name
            found[path] = FieldInfo(path, name, T.TEXT, custom=True)
    return SideFields(System.QUICKBOOKS, pair, found)


class LiveAccounts:
    """`Accounts` over a connection's two clients (answers are cached for its lifetime)."""

    def __init__(self, hubspot: HubSpotClient, qbo: QboClient) -> None:
        self.hubspot = hubspot
        self.qbo = qbo
        self._fields: dict[tuple[ObjectPair, System], SideFields] = {}
        self._preferences: dict[str, Any] | None = None
        self._requires_tax: bool | None = None

    async def _prefs(self) -> dict[str, Any]:
        if self._preferences is None:
            self._preferences = dict(await self.qbo.preferences())
        return self._preferences

    async def fields(self, pair: ObjectPair, system: System) -> SideFields:
        key = (pair, system)
        if key not in self._fields:
            if system is System.HUBSPOT:
                props = await self.hubspot.list_properties(OBJECTS[pair])
                infos = (hubspot_field(p) for p in props if p.get("name"))
                self._fields[key] = SideFields(system, pair, {f.name: f for f in infos})
            else:
                self._fields[key] = qbo_fields(pair, await self._prefs())
        return self._fields[key]

    async def requires_tax(self) -> bool:
        if self._requires_tax is None:
            self._requires_tax = requires_tax(await self.qbo.company_info())
        return self._requires_tax

    async def setup_warnings(self) -> list[str]:
        return await invoice_setup_warnings(self.qbo)

    async def income_accounts(self) -> list[str]:
        rows = await self.qbo.query_all(
            "SELECT * FROM Account WHERE AccountType = 'Income'", page_size=100
        )
        return sorted(str(r["Name"]) for r in rows if r.get("Name"))


def field_entries(fields: SideFields) -> list[dict[str, Any]]:
    """The fields as JSON (the CLI's `--json` and the REST API)."""
    return [
        {
            "name": f.name,
            "label": f.label,
            "type": f.type.value if f.type else None,
            "read_only": f.read_only,
            "custom": f.custom,
        }
        for f in fields.fields.values()
    ]
