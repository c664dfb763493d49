"""The rules service's writes: history with where each change came from, what a change
means for records already seen (cursor reset on a removed filter, filters on a direction
change), the sync start kept across edits, and options."""

from __future__ import annotations

import datetime as dt

import pytest

from ledgerbridge.domain import System
from ledgerbridge.operations.rules import ChangeSource, RulesError, RulesService
from ledgerbridge.operations.rules.service import NoRuleError, require_rules
from ledgerbridge.operations.rules.wizard import NON_US_INVOICES, propose
from ledgerbridge.store import Store
from ledgerbridge.sync.rules import Direction, Filter, FilterOperator, ObjectPair
from tests.unit.operations.rules.conftest import T0, FakeAccounts

CONTACTS = ObjectPair.CONTACTS_CUSTOMERS
PRODUCTS = ObjectPair.PRODUCTS_ITEMS
INVOICES = ObjectPair.INVOICES_INVOICES


async def set_up(service: RulesService) -> None:
    proposal = await propose(service, today=dt.date(2026, 12, 4))
    await service.save(proposal.rules, ChangeSource.CLI)


async def test_setup_saves_hubspots_defaults_in_order(service: RulesService) -> None:
    await set_up(service)
    rules = service.rules()
    assert [(r.object_pair, r.direction, r.enabled) for r in rules] == [
        (CONTACTS, Direction.TWO_WAY, True),
        (PRODUCTS, Direction.QBO_TO_HUBSPOT, True),
        (INVOICES, Direction.TWO_WAY, True),
    ]
    assert rules[2].invoice is not None
    assert rules[2].invoice.custom_line_item_income_account == "Sales of Product Income"
    assert rules[2].payments_enabled
    assert [h.object_pair for h in service.history()] == [
        "invoices_invoices",
        "products_items",
        "contacts_customers",
    ]


async def test_setup_for_a_company_outside_the_us_proposes_inbound_invoices(
    service: RulesService, accounts: FakeAccounts
) -> None:
    accounts.outside_us = True
    proposal = await propose(service, today=dt.date(2026, 12, 4))
    assert proposal.notes == [NON_US_INVOICES]
    assert proposal.rules[2].direction is Direction.QBO_TO_HUBSPOT
    assert await service.save(proposal.rules, ChangeSource.CLI)


async def test_every_change_names_where_it_came_from(service: RulesService) -> None:
    await set_up(service)
    await service.disable(INVOICES, ChangeSource.API)
    await service.enable(INVOICES, ChangeSource.DASHBOARD)
    latest = service.history(limit=2)
    assert [(h.source, h.summary) for h in latest] == [
        ("dashboard", "enabled: off → on"),
        ("api", "enabled: on → off"),
    ]
    assert latest[1].before is not None and latest[1].before["enabled"] is True


async def test_a_change_that_changes_nothing_is_not_recorded(service: RulesService) -> None:
    await set_up(service)
    count = len(service.history())
    change = await service.enable(CONTACTS, ChangeSource.CLI)
    assert change.lines == ()
    assert len(service.history()) == count


async def test_removing_a_filter_rereads_its_side_adding_one_does_not(
    service: RulesService, store: Store
) -> None:
    await set_up(service)
    with store.begin() as tx:
        for side in System:
            tx.set_cursor(1, side, PRODUCTS.value, "2026-12-04T10:00:00+00:00")
    active = Filter(
        flow=Direction.QBO_TO_HUBSPOT, property="Active", operator=FilterOperator.IS_KNOWN
    )
    await service.add_filter(PRODUCTS, active, ChangeSource.CLI)
    with store.begin() as tx:
        assert tx.get_cursor(1, System.QUICKBOOKS, PRODUCTS.value) is not None
    await service.remove_filter(PRODUCTS, System.QUICKBOOKS, "Sku", ChangeSource.CLI)
    with store.begin() as tx:
        # The records the SKU filter held back are read again at the next pass.
        assert tx.get_cursor(1, System.QUICKBOOKS, PRODUCTS.value) is None
        assert tx.get_cursor(1, System.HUBSPOT, PRODUCTS.value) is not None


async def test_a_direction_change_keeps_links_and_fixes_the_filters(
    service: RulesService, store: Store
) -> None:
    await set_up(service)
    await service.update(INVOICES, ChangeSource.CLI, direction=Direction.QBO_TO_HUBSPOT)
    inbound = service.rule(INVOICES)
    assert [f.flow for f in inbound.filters] == [Direction.QBO_TO_HUBSPOT]
    change = await service.update(INVOICES, ChangeSource.CLI, direction=Direction.TWO_WAY)
    assert "direction: qbo_to_hubspot → two_way" in change.lines
    rule = service.rule(INVOICES)
    assert sum(f.fixed for f in rule.filters) == 3  # R-INV-2 filters back
    # Outbound starts now: the fixed "after the sync started" filter counts from here.
    assert rule.sync_started_at == T0


async def test_the_sync_start_is_kept_across_edits(store: Store, accounts: FakeAccounts) -> None:
    first = RulesService(store, 1, accounts=accounts, clock=lambda: T0)
    await set_up(first)
    later = RulesService(store, 1, accounts=accounts, clock=lambda: T0 + dt.timedelta(days=3))
    await later.disable(INVOICES, ChangeSource.CLI)
    await later.enable(INVOICES, ChangeSource.CLI)
    await later.update(CONTACTS, ChangeSource.CLI, direction=Direction.QBO_TO_HUBSPOT)
    assert {r.sync_started_at for r in later.rules()} == {T0}


async def test_options(service: RulesService) -> None:
    await set_up(service)
    await service.update(
        INVOICES,
        ChangeSource.CLI,
        options={"service_date": "issue_date", "propagate_refunds": "true"},
    )
    settings = service.rule(INVOICES).invoice
    assert settings is not None
    assert (settings.service_date.value, settings.propagate_refunds) == ("issue_date", True)
    with pytest.raises(RulesError, match="Unknown option 'colour'"):
        await service.update(INVOICES, ChangeSource.CLI, options={"colour": "blue"})
    with pytest.raises(RulesError, match="only applies to invoice sync"):
        await service.update(CONTACTS, ChangeSource.CLI, options={"service_date": "none"})


async def test_default_mappings_turn_off_not_away(service: RulesService) -> None:
    await set_up(service)
    with pytest.raises(RulesError, match="turn it off instead"):
        await service.remove_mapping(CONTACTS, "phone", ChangeSource.CLI)
    await service.set_mapping_enabled(CONTACTS, "phone", False, ChangeSource.CLI)
    phone = service.rule(CONTACTS).mapping("phone")
    assert phone is not None and not phone.enabled
    with pytest.raises(RulesError, match="cannot be turned off: records are matched on it"):
        await service.set_mapping_enabled(CONTACTS, "email", False, ChangeSource.CLI)


async def test_no_rule_messages_name_the_command(service: RulesService, store: Store) -> None:
    with pytest.raises(NoRuleError) as caught:
        require_rules(store, 1)
    assert caught.value.render() == (
        "error: no sync rule is turned on for connection 1, so there is nothing to sync — "
        "run `ledgerbridge rules setup` to choose what syncs (or `ledgerbridge rules enable "
        "PAIR`)"
    )
    with pytest.raises(RulesError) as missing:
        service.rule(CONTACTS)
    assert missing.value.render() == (
        "error: there is no contact sync rule on connection 1 — run `ledgerbridge rules setup`"
    )
    await set_up(service)
    require_rules(store, 1)
    await service.disable(INVOICES, ChangeSource.CLI)
    with pytest.raises(NoRuleError, match="turned off") as off:
        require_rules(store, 1, INVOICES)
    assert off.value.fix == "run `ledgerbridge rules enable invoices_invoices`"
    require_rules(store, 1, INVOICES, must_be_on=False)
