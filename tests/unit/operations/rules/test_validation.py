"""One test per validation rule of the rules service: each invalid change is refused with
its message, and nothing is saved (the export and the history are unchanged)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import pytest

from ledgerbridge.domain import System
from ledgerbridge.operations.rules import ChangeSource, RulesError, RulesService
from ledgerbridge.operations.rules.document import export_document
from ledgerbridge.operations.rules.wizard import propose
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import (
    Direction,
    FieldMapping,
    FieldType,
    Filter,
    FilterOperator,
    ObjectPair,
)
from tests.unit.operations.rules.conftest import FakeAccounts

CLI = ChangeSource.CLI
INVOICES = ObjectPair.INVOICES_INVOICES
CONTACTS = ObjectPair.CONTACTS_CUSTOMERS


async def set_up(service: RulesService) -> None:
    proposal = await propose(service, today=dt.date(2026, 12, 4))
    await service.save(proposal.rules, CLI)


async def refused(service: RulesService, change: Callable[[], Awaitable[object]]) -> str:
    """Run `change`, expecting a refusal; check nothing was saved; return the message."""
    before = export_document(service.rules())
    history = len(service.history())
    with pytest.raises(RulesError) as caught:
        await change()
    assert export_document(service.rules()) == before
    assert len(service.history()) == history
    return str(caught.value)


async def test_unknown_hubspot_field_is_refused(service: RulesService) -> None:
    await set_up(service)
    mapping = FieldMapping(name="po", hubspot="no_such_property", qbo="CustomField:PO number")
    message = await refused(service, lambda: service.add_mapping(INVOICES, mapping, CLI))
    assert "the HubSpot invoice has no field 'no_such_property'" in message
    assert "ledgerbridge rules fields invoices_invoices --side hubspot" in message


async def test_unknown_qbo_custom_field_is_refused(service: RulesService) -> None:
    await set_up(service)
    mapping = FieldMapping(name="po", hubspot="po_number", qbo="CustomField:Crew number")
    message = await refused(service, lambda: service.add_mapping(INVOICES, mapping, CLI))
    assert "the QuickBooks invoice has no custom field 'CustomField:Crew number'" in message


async def test_incompatible_custom_mapping_types_are_refused(service: RulesService) -> None:
    await set_up(service)
    # A HubSpot date property onto a QBO text custom field, mapped as a date.
    mapping = FieldMapping(
        name="delivery", hubspot="delivery_date", qbo="CustomField:PO number", type=FieldType.DATE
    )
    message = await refused(service, lambda: service.add_mapping(INVOICES, mapping, CLI))
    assert "the quickbooks field 'CustomField:PO number' is text" in message
    assert "cannot be mapped as date" in message


async def test_mapping_onto_a_read_only_field_is_refused(service: RulesService) -> None:
    await set_up(service)
    mapping = FieldMapping(name="link", hubspot="hs_invoice_link", qbo="PrivateNote")
    message = await refused(service, lambda: service.add_mapping(INVOICES, mapping, CLI))
    assert "the HubSpot invoice field 'hs_invoice_link' is read-only" in message
    assert "--direction hubspot_to_qbo" in message
    # One way, never written to HubSpot: accepted.
    one_way = mapping.model_copy(update={"read_only_on": System.HUBSPOT})
    change = await service.add_mapping(INVOICES, one_way, CLI)
    assert change.lines == (
        "mapping added: link (HubSpot hs_invoice_link ↔ QuickBooks PrivateNote)",
    )


async def test_invoices_without_contacts_and_products_are_refused(service: RulesService) -> None:
    invoices = (await propose(service, today=dt.date(2026, 12, 4))).rules[2]
    message = await refused(service, lambda: service.save([invoices], CLI))
    assert "Set up contact sync before invoice sync" in message
    assert "Set up product sync before invoice sync" in message


async def test_turning_contacts_off_under_invoices_is_refused(service: RulesService) -> None:
    await set_up(service)
    message = await refused(service, lambda: service.disable(CONTACTS, CLI))
    assert "Invoice sync is on and needs contact sync on" in message
    assert "ledgerbridge rules disable invoices_invoices" in message
    await service.disable(INVOICES, CLI)
    await service.disable(CONTACTS, CLI)  # allowed once invoices are off
    assert not service.rule(CONTACTS).enabled


async def test_outbound_invoices_for_a_company_outside_the_us_are_refused(
    service: RulesService, accounts: FakeAccounts
) -> None:
    await set_up(service)
    await service.update(INVOICES, CLI, direction=Direction.QBO_TO_HUBSPOT)
    accounts.outside_us = True
    message = await refused(
        service, lambda: service.update(INVOICES, CLI, direction=Direction.TWO_WAY)
    )
    assert "requires tax on invoices" in message
    assert "sync invoices from QuickBooks to HubSpot only" in message


async def test_filter_operator_not_fitting_the_property_type_is_refused(
    service: RulesService,
) -> None:
    await set_up(service)
    contains_on_date = Filter(
        flow=Direction.HUBSPOT_TO_QBO,
        property="createdate",
        operator=FilterOperator.CONTAINS,
        value="2026",
    )
    message = await refused(service, lambda: service.add_filter(CONTACTS, contains_on_date, CLI))
    assert "'contains' does not fit 'createdate', a date field" in message
    assert "after, before, is_known, is_unknown" in message


async def test_filter_on_an_unknown_property_is_refused(service: RulesService) -> None:
    await set_up(service)
    unknown = Filter(
        flow=Direction.QBO_TO_HUBSPOT, property="Nickname", operator=FilterOperator.IS_KNOWN
    )
    message = await refused(service, lambda: service.add_filter(CONTACTS, unknown, CLI))
    assert "the QuickBooks customer has no field 'Nickname'" in message


async def test_removing_a_fixed_outbound_filter_is_refused(service: RulesService) -> None:
    await set_up(service)
    message = await refused(
        service, lambda: service.remove_filter(INVOICES, System.HUBSPOT, "@status", CLI)
    )
    assert "'Invoice is not a draft' is fixed and cannot be removed" in message
    # The same through a whole rule (the rules file, REST): refused as well.
    rule = service.rule(INVOICES)
    stripped = rule.model_copy(update={"filters": tuple(f for f in rule.filters if not f.fixed)})
    message = await refused(service, lambda: service.save([stripped], ChangeSource.FILE))
    assert "is fixed and cannot be removed" in message


async def test_unknown_income_account_is_refused(service: RulesService) -> None:
    await set_up(service)
    message = await refused(
        service,
        lambda: service.update(
            INVOICES, CLI, options={"custom_line_item_income_account": "Nowhere"}
        ),
    )
    assert "QuickBooks has no income account 'Nowhere'" in message


async def test_every_problem_of_a_set_is_listed(service: RulesService) -> None:
    contacts = wizard_defaults(CONTACTS)
    bad = contacts.model_copy(
        update={
            "mappings": (
                *contacts.mappings,
                FieldMapping(name="a", hubspot="nope", qbo="Notes"),
                FieldMapping(name="b", hubspot="jobtitle", qbo="Nope"),
            )
        }
    )
    with pytest.raises(RulesError) as caught:
        await service.save([bad], CLI)
    assert len(caught.value.messages) == 2
    assert service.rules() == []
