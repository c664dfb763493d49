"""Look-ups a company answers on every write, kept up to date instead of scanned.

Without them each invoice written scans every invoice of the company twice (its next
DocNumber, its customer's balance) and each name written scans its list for a clash:
seeding or syncing 100,000 invoices took hours. The indexes are derived state: built from
the tables on first use (so a company loaded from disk or copied needs nothing else) and
kept by `RealmState.insert/replace/remove`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledgerbridge.sandbox.qbo.util import parse_datetime

Obj = dict[str, Any]
Created = tuple[datetime, int, str]
"""A row's place in creation order: (CreateTime, numeric Id or 0, Id)."""

BY_CUSTOMER = ("Invoice", "Payment", "CreditMemo")
"""Entities whose ids are indexed by their `CustomerRef` (for Customer.Balance)."""


def _customer(obj: Obj) -> str | None:
    ref = obj.get("CustomerRef")
    if isinstance(ref, dict):
        raw = ref.get("value")
        return None if raw is None or raw == "" else str(raw)
    return None


def _folded(obj: Obj, key: str) -> str:
    return str(obj.get(key, "")).strip().casefold()


def _number(obj: Obj) -> int | None:
    text = str(obj.get("DocNumber", ""))
    return int(text) if text.isdigit() else None


@dataclass
class RealmIndexes:
    by_customer: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    """entity → customer id → ids (only for entities built so far)."""
    highest: dict[str, int] = field(default_factory=dict)
    """entity → the highest all-digit DocNumber (absent: not known, scan on next use)."""
    names: dict[tuple[str, str], dict[str, set[str]]] = field(default_factory=dict)
    """(entity, name key) → the name as compared (stripped, casefolded) → ids."""
    created: dict[str, list[Created]] = field(default_factory=dict)
    """entity → its rows in creation order (for `MetaData.CreateTime` ranges; the
    backfill's window queries), for entities built so far."""

    def _created_key(self, obj: Obj) -> Created:
        obj_id = str(obj["Id"])
        stamp = parse_datetime(str(obj["MetaData"]["CreateTime"]))  # as the query compares
        return (stamp, int(obj_id) if obj_id.isdigit() else 0, obj_id)

    def in_creation_order(self, table: dict[str, Obj], entity: str) -> list[Created]:
        index = self.created.get(entity)
        if index is None or len(index) != len(table):  # built now, or the table was set
            index = self.created[entity] = sorted(map(self._created_key, table.values()))
        return index

    def named(self, table: dict[str, Obj], entity: str, key: str, name: str) -> set[str]:
        """Ids of `entity` whose `key` is `name` (compared stripped and casefolded)."""
        index = self.names.get((entity, key))
        if index is None:
            index = self.names[(entity, key)] = {}
            for obj_id, obj in table.items():
                index.setdefault(_folded(obj, key), set()).add(obj_id)
        return index.get(name.strip().casefold(), set())

    def customer_ids(self, table: dict[str, Obj], entity: str, customer_id: str) -> set[str]:
        index = self.by_customer.get(entity)
        if index is None:
            index = self.by_customer[entity] = {}
            for obj_id, obj in table.items():
                customer = _customer(obj)
                if customer is not None:
                    index.setdefault(customer, set()).add(obj_id)
        return index.get(customer_id, set())

    def highest_number(self, table: dict[str, Obj], entity: str, floor: int) -> int:
        if entity not in self.highest:
            numbers = (n for n in map(_number, table.values()) if n is not None)
            self.highest[entity] = max(numbers, default=0)
        return max(floor, self.highest[entity])

    def added(self, entity: str, obj: Obj) -> None:
        index = self.by_customer.get(entity)
        customer = _customer(obj)
        if index is not None and customer is not None:
            index.setdefault(customer, set()).add(str(obj["Id"]))
        for (named, key), by_name in self.names.items():
            if named == entity:
                by_name.setdefault(_folded(obj, key), set()).add(str(obj["Id"]))
        number = _number(obj)
        if number is not None and entity in self.highest:
            self.highest[entity] = max(self.highest[entity], number)
        order = self.created.get(entity)
        if order is not None:
            bisect.insort(order, self._created_key(obj))

    def removed(self, entity: str, obj: Obj) -> None:
        index = self.by_customer.get(entity)
        customer = _customer(obj)
        if index is not None and customer is not None:
            index.get(customer, set()).discard(str(obj["Id"]))
        for (named, key), by_name in self.names.items():
            if named == entity:
                by_name.get(_folded(obj, key), set()).discard(str(obj["Id"]))
        number = _number(obj)
        if number is not None and number == self.highest.get(entity):
            del self.highest[entity]  # the highest may have gone: scan on next use
        order = self.created.get(entity)
        if order is not None:
            place = self._created_key(obj)
            at = bisect.bisect_left(order, place)
            if at < len(order) and order[at] == place:
                del order[at]
