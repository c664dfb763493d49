"""The sandbox's data: one in-memory store per realm, persisted to a JSON file on request."""

from __future__ import annotations

import copy
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledgerbridge.sandbox.qbo.config import CompanySettings
from ledgerbridge.sandbox.qbo.indexes import RealmIndexes
from ledgerbridge.sandbox.qbo.util import dumps, loads, qbo_time

Obj = dict[str, Any]

DEFAULT_ACCOUNTS: list[tuple[str, str, str]] = [
    ("Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("Services", "Income", "ServiceFeeIncome"),
    ("Discounts given", "Income", "DiscountsRefundsGiven"),
    ("Checking", "Bank", "Checking"),
    ("Savings", "Bank", "Savings"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Inventory Asset", "Other Current Asset", "Inventory"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("Mastercard", "Credit Card", "CreditCard"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("Advertising", "Expense", "AdvertisingPromotional"),
    ("Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses"),
    ("Travel", "Expense", "Travel"),
]

ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset",
    "Accounts Receivable": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Other Income": "Revenue",
    "Expense": "Expense",
    "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
}

DEFAULT_TERMS = [("Due on receipt", 0), ("Net 15", 15), ("Net 30", 30), ("Net 60", 60)]
DEFAULT_PAYMENT_METHODS = [
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Visa", "CREDIT_CARD"),
    ("MasterCard", "CREDIT_CARD"),
    ("American Express", "CREDIT_CARD"),
]
# Non-US companies get rated tax codes; US companies use the automated-sales-tax pseudo codes.
STANDARD_RATES = {"CA": "5", "GB": "20", "UK": "20", "AU": "10", "IN": "18", "FR": "20"}
CURRENCY_NAMES = {
    "USD": "United States Dollar",
    "CAD": "Canadian Dollar",
    "GBP": "British Pound Sterling",
    "EUR": "Euro",
    "AUD": "Australian Dollar",
    "INR": "Indian Rupee",
}


@dataclass
class RealmState:
    """Everything one company holds. Objects are stored as QBO JSON dicts (amounts as Decimal)."""

    realm_id: str
    settings: CompanySettings
    objects: dict[str, dict[str, Obj]] = field(default_factory=dict)
    deleted: dict[str, dict[str, str]] = field(default_factory=dict)  # entity -> id -> time
    voided: set[str] = field(default_factory=set)  # "Entity:Id"
    counters: dict[str, int] = field(default_factory=dict)
    responses: dict[str, Obj] = field(default_factory=dict)  # requestid -> stored response
    indexes: RealmIndexes = field(default_factory=RealmIndexes, repr=False, compare=False)
    """Derived look-ups (`indexes`): never saved, built again from the tables."""

    # ---- storage primitives ---------------------------------------------------------------

    def table(self, entity: str) -> dict[str, Obj]:
        return self.objects.setdefault(entity, {})

    def get(self, entity: str, entity_id: str) -> Obj | None:
        return self.objects.get(entity, {}).get(str(entity_id))

    def next_id(self, entity: str) -> str:
        value = self.counters.get(entity, 0) + 1
        self.counters[entity] = value
        return str(value)

    def insert(self, entity: str, obj: Obj, now: datetime) -> Obj:
        """Store a new object: assign Id, SyncToken "0" and MetaData."""
        obj["Id"] = self.next_id(entity)
        obj["SyncToken"] = "0"
        stamp = qbo_time(now)
        obj["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
        obj["domain"] = "QBO"
        obj["sparse"] = False
        self.table(entity)[obj["Id"]] = obj
        self.indexes.added(entity, obj)
        return obj

    def replace(self, entity: str, old: Obj, new: Obj, now: datetime) -> Obj:
        """Store a new version of an existing object: bump SyncToken and LastUpdatedTime."""
        new["Id"] = old["Id"]
        new["SyncToken"] = str(int(old["SyncToken"]) + 1)
        new["MetaData"] = {
            "CreateTime": old["MetaData"]["CreateTime"],
            "LastUpdatedTime": qbo_time(now),
        }
        new["domain"] = "QBO"
        new["sparse"] = False
        self.indexes.removed(entity, old)
        self.table(entity)[old["Id"]] = new
        self.indexes.added(entity, new)
        return new

    def remove(self, entity: str, entity_id: str, now: datetime) -> None:
        gone = self.table(entity).pop(entity_id, None)
        if gone is not None:
            self.indexes.removed(entity, gone)
        self.deleted.setdefault(entity, {})[entity_id] = qbo_time(now)

    # ---- persistence ----------------------------------------------------------------------

    def to_dict(self) -> Obj:
        return {
            "realm_id": self.realm_id,
            "settings": self.settings.model_dump(mode="json"),
            "objects": self.objects,
            "deleted": self.deleted,
            "voided": sorted(self.voided),
            "counters": self.counters,
            "responses": self.responses,
        }

    @classmethod
    def from_dict(cls, data: Obj) -> RealmState:
        return cls(
            realm_id=data["realm_id"],
            settings=CompanySettings.model_validate(data["settings"]),
            objects=data["objects"],
            deleted=data["deleted"],
            voided=set(data["voided"]),
            counters={k: int(v) for k, v in data["counters"].items()},
            responses=data["responses"],
        )


def new_realm(realm_id: str, settings: CompanySettings, now: datetime) -> RealmState:
    """A fresh company with its default lists: chart of accounts, terms, payment methods..."""
    realm = RealmState(realm_id=realm_id, settings=settings.model_copy(deep=True))
    for name, acct_type, subtype in settings.accounts or DEFAULT_ACCOUNTS:
        realm.insert(
            "Account",
            {
                "Name": name,
                "FullyQualifiedName": name,
                "Active": True,
                "SubAccount": False,
                "AccountType": acct_type,
                "AccountSubType": subtype,
                "Classification": ACCOUNT_CLASSIFICATION.get(acct_type, "Expense"),
                "CurrentBalance": Decimal(0),
                "CurrentBalanceWithSubAccounts": Decimal(0),
                "CurrencyRef": currency_ref(settings.home_currency),
            },
            now,
        )
    for name, days in DEFAULT_TERMS:
        realm.insert(
            "Term", {"Name": name, "Active": True, "Type": "STANDARD", "DueDays": days}, now
        )
    for name, pm_type in DEFAULT_PAYMENT_METHODS:
        realm.insert("PaymentMethod", {"Name": name, "Active": True, "Type": pm_type}, now)
    seed_tax_codes(realm, now)
    _company_records(realm, now)
    return realm


def currency_ref(code: str) -> Obj:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def seed_tax_codes(realm: RealmState, now: datetime) -> None:
    table = realm.table("TaxCode")
    stamp = qbo_time(now)
    meta = {"CreateTime": stamp, "LastUpdatedTime": stamp}
    if realm.settings.country.upper() == "US":
        codes: list[tuple[str, str, str, bool]] = [
            ("TAX", "TAX", "0", True),
            ("NON", "NON", "0", False),
        ]
    else:
        rate = STANDARD_RATES.get(realm.settings.country.upper(), "10")
        codes = [("2", "Standard", rate, True), ("3", "Zero-rated", "0", True)]
        codes.append(("4", "Exempt", "0", False))
    for code_id, name, rate_text, taxable in codes:
        table[code_id] = {
            "Id": code_id,
            "Name": name,
            "Description": name,
            "Active": True,
            "Taxable": taxable,
            "TaxGroup": False,
            "RateValue": Decimal(rate_text),  # not in the real shape; the sandbox's tax rate
            "SyncToken": "0",
            "MetaData": dict(meta),
            "domain": "QBO",
            "sparse": False,
        }


def _company_records(realm: RealmState, now: datetime) -> None:
    settings = realm.settings
    stamp = qbo_time(now)
    meta = {"CreateTime": stamp, "LastUpdatedTime": stamp}
    realm.table("CompanyInfo")["1"] = {
        "Id": "1",
        "SyncToken": "0",
        "CompanyName": settings.company_name,
        "LegalName": settings.company_name,
        "Country": settings.country,
        "CompanyAddr": {"Id": "1", "Line1": "123 Sandbox Way", "Country": settings.country},
        "Email": {"Address": "owner@sandbox.example"},
        "CompanyStartDate": now.date().isoformat(),
        "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en",
        "MetaData": dict(meta),
        "domain": "QBO",
        "sparse": False,
    }
    realm.table("Preferences")["1"] = preferences_body(settings, "0", meta)


def custom_field_prefs(names: list[str]) -> list[Obj]:
    """QBO's shape of the sales-form custom field definitions: one group of the "use"
    flags, one of the names (`SalesFormsPrefs.SalesCustomName<n>`)."""
    flags = [
        {"Name": f"SalesFormsPrefs.UseSalesCustom{i}", "Type": "BooleanType", "BooleanValue": True}
        for i, _ in enumerate(names, 1)
    ]
    labels = [
        {"Name": f"SalesFormsPrefs.SalesCustomName{i}", "Type": "StringType", "StringValue": name}
        for i, name in enumerate(names, 1)
    ]
    return [{"CustomField": flags}, {"CustomField": labels}] if names else []


def preferences_body(settings: CompanySettings, sync_token: str, meta: Obj) -> Obj:
    return {
        "Id": "1",
        "SyncToken": sync_token,
        "SalesFormsPrefs": {
            "CustomTxnNumbers": settings.custom_txn_numbers,
            "AllowDeposit": True,
            "AllowDiscount": True,
            "DefaultDiscountAccount": "3",
            "CustomField": custom_field_prefs(settings.custom_fields),
        },
        "CurrencyPrefs": {
            "MultiCurrencyEnabled": settings.multi_currency,
            "HomeCurrency": {"value": settings.home_currency},
        },
        "ProductAndServicesPrefs": {
            "ForSales": True,
            "ForPurchase": True,
            "QuantityWithPriceAndRate": True,
            "QuantityOnHand": True,
            "RevenueRecognitionEnabled": settings.revenue_recognition,
        },
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": settings.country == "US"},
        "MetaData": dict(meta),
        "domain": "QBO",
        "sparse": False,
    }


def save_state(path: Path, realms: dict[str, RealmState], extra: Obj) -> None:
    """Write the whole state atomically (temp file + rename)."""
    data = {"realms": {rid: r.to_dict() for rid, r in realms.items()}, **extra}
    text = dumps(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(tmp).replace(path)


def load_state(path: Path) -> tuple[dict[str, RealmState], Obj]:
    data = loads(path.read_text(encoding="utf-8"))
    realms = {rid: RealmState.from_dict(r) for rid, r in data.pop("realms").items()}
    return realms, data


def deep_copy(obj: Obj) -> Obj:
    return copy.deepcopy(obj)
