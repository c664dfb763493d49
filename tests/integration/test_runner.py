"""The runtime's `EngineRunner` over both sandboxes (real HTTP): scoped passes and the
daily reconciliation hook (R-BEY-2)."""

from __future__ import annotations

import logging

import pytest

from ledgerbridge.runtime.runner import LAST_RECONCILE, EngineRunner
from ledgerbridge.settings import Settings
from ledgerbridge.sync.rules import ObjectPair
from tests.integration.conftest import contacts_rule, products_rule
from tests.integration.harness import Lab

CONTACTS, PRODUCTS = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS


def _runner(lab: Lab) -> EngineRunner:
    with lab.store.begin() as tx:
        row = tx.get_connection(lab.connection_id)
        assert row is not None
        options = {**row.options, "sandbox": True, "static_token": "sandbox"}
        tx.update_connection(lab.connection_id, options=options)
    return EngineRunner(lab.store, Settings())


async def test_a_scoped_pass_syncs_only_its_rules_and_the_engine_is_kept(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    lab.save_rule(products_rule())
    await lab.hs_create("contacts", email="a@x.io", firstname="Ann")
    account = await lab.income_account()
    item = {"Name": "Plan", "Sku": "P-1", "Type": "Service", "IncomeAccountRef": {"value": account}}
    await lab.qbo_create("Item", item)
    runner = _runner(lab)
    try:
        report = await runner(lab.connection_id, only={CONTACTS})
        assert set(report.pairs) == {CONTACTS}
        assert len(lab.links(CONTACTS)) == 1 and lab.links(PRODUCTS) == []
        engine = await runner._engine(lab.connection_id)
        report = await runner(lab.connection_id)
        assert len(lab.links(PRODUCTS)) == 1
        assert await runner._engine(lab.connection_id) is engine  # kept across passes
    finally:
        await runner.aclose()


async def test_the_daily_reconciliation_records_drift_and_writes_nothing(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    lab.save_rule(contacts_rule())
    await lab.hs_create("contacts", email="a@x.io", firstname="Ann")
    runner = _runner(lab)
    try:
        await runner(lab.connection_id)
        clean = await runner.reconcile(lab.connection_id)
        assert clean.drift == 0
        await lab.hs_create("contacts", email="b@x.io", firstname="Bo")  # not synced yet
        with caplog.at_level(logging.WARNING):
            drifted = await runner.reconcile(lab.connection_id)
        assert drifted.drift == 1
        assert "the daily reconciliation found 1 contacts ↔ customers differ" in caplog.text
        assert "{" not in caplog.text  # said in words, not a dict
        assert len(await lab.qbo_all("Customer")) == 1  # reconciliation wrote nothing
        with lab.store.begin() as tx:
            row = tx.get_connection(lab.connection_id)
        assert row is not None
        assert row.options[LAST_RECONCILE]["drift"] == {CONTACTS.value: 1}
    finally:
        await runner.aclose()


async def test_the_api_budget_used_per_window_is_read_after_a_pass(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    await lab.hs_create("contacts", email="a@x.io", firstname="Ann")
    runner = _runner(lab)
    try:
        assert runner.budget_use(lab.connection_id) == []  # no client yet
        await runner(lab.connection_id)
        use = runner.budget_use(lab.connection_id)
    finally:
        await runner.aclose()
    ((used, limit, seconds),) = [(u, n, s) for who, u, n, s in use if who == "QuickBooks"]
    assert 0 < used <= limit == 500 and seconds >= 60  # the pass read and wrote QuickBooks
    assert any(who == "HubSpot" and u > 0 for who, u, _, _ in use)
