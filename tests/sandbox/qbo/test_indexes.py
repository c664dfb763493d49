"""The QBO sandbox's derived look-ups (`sandbox.qbo.indexes`) answer as a scan of the
tables would, whatever sequence of inserts, replacements and removals came before, and
also for a company loaded from its saved form (indexes are never saved)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerbridge.sandbox.qbo.config import CompanySettings
from ledgerbridge.sandbox.qbo.state import RealmState

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ENTITIES = ("Invoice", "Payment", "Customer")

op = st.tuples(
    st.sampled_from(["insert", "replace", "remove"]),
    st.sampled_from(ENTITIES),
    st.integers(0, 6),  # which existing object (replace / remove)
    st.sampled_from(["1", "2", "3", ""]),  # CustomerRef value
    st.sampled_from(["1001", "1005", "998", "A-7", ""]),  # DocNumber
    st.sampled_from(["Ann", " ann ", "Bo", "BO"]),  # DisplayName
)


def scan_customer(realm: RealmState, entity: str, customer: str) -> set[str]:
    return {
        i
        for i, o in realm.table(entity).items()
        if (o.get("CustomerRef") or {}).get("value") == customer
    }


def scan_highest(realm: RealmState, entity: str) -> int:
    numbers = [
        int(str(o.get("DocNumber", "")))
        for o in realm.table(entity).values()
        if str(o.get("DocNumber", "")).isdigit()
    ]
    return max([1000, *numbers])


def scan_named(realm: RealmState, entity: str, name: str) -> set[str]:
    wanted = name.strip().casefold()
    return {
        i
        for i, o in realm.table(entity).items()
        if str(o.get("DisplayName", "")).strip().casefold() == wanted
    }


def check(realm: RealmState) -> None:
    for entity in ENTITIES:
        table = realm.table(entity)
        for customer in ("1", "2", "3"):
            got = {
                i
                for i in realm.indexes.customer_ids(table, entity, customer)
                if (table.get(i) or {}).get("CustomerRef", {}).get("value") == customer
            }
            assert got == scan_customer(realm, entity, customer)
        assert realm.indexes.highest_number(table, entity, 1000) == scan_highest(realm, entity)
        for name in ("Ann", "bo"):
            got = {
                i
                for i in realm.indexes.named(table, entity, "DisplayName", name)
                if str(table[i].get("DisplayName", "")).strip().casefold() == name.casefold()
            }
            assert got == scan_named(realm, entity, name)


@settings(max_examples=150, deadline=None)
@given(st.lists(op, max_size=40), st.integers(0, 40))
def test_the_indexes_agree_with_a_scan(ops: list[tuple[Any, ...]], check_at: int) -> None:
    realm = RealmState("r", CompanySettings())
    for n, (kind, entity, which, customer, number, name) in enumerate(ops):
        if n == check_at:
            check(realm)  # builds the indexes part-way: later writes must keep them
        body: dict[str, Any] = {"DisplayName": name, "DocNumber": number}
        if customer:
            body["CustomerRef"] = {"value": customer}
        existing = sorted(realm.table(entity))
        if kind == "insert" or not existing:
            realm.insert(entity, body, NOW)
        elif kind == "replace":
            old = realm.table(entity)[existing[which % len(existing)]]
            realm.replace(entity, old, body, NOW)
        else:
            realm.remove(entity, existing[which % len(existing)], NOW)
    check(realm)
    check(RealmState.from_dict(realm.to_dict()))
