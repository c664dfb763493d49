"""The rules file: export → apply is a no-op; fixed filters are marked locked; a broken
file lists its problems and saves nothing; `--dry-run` shows without saving."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from ledgerbridge.operations.rules import ChangeSource, RulesError, RulesService
from ledgerbridge.operations.rules.document import (
    DocumentError,
    export_document,
    parse_document,
)
from ledgerbridge.operations.rules.wizard import propose
from ledgerbridge.sync.rules import FieldMapping, ObjectPair

FILE = ChangeSource.FILE


async def set_up(service: RulesService) -> None:
    proposal = await propose(service, today=dt.date(2026, 12, 4))
    await service.save(proposal.rules, ChangeSource.CLI)


async def test_export_then_apply_of_the_same_file_is_a_no_op(service: RulesService) -> None:
    await set_up(service)
    po = FieldMapping(name="po", hubspot="po_number", qbo="CustomField:PO number")
    await service.add_mapping(ObjectPair.INVOICES_INVOICES, po, ChangeSource.CLI)
    text = export_document(service.rules())
    history = len(service.history())
    assert await service.save(parse_document(text), FILE) == []
    assert export_document(service.rules()) == text
    assert len(service.history()) == history


async def test_the_fixed_filters_are_exported_locked(service: RulesService) -> None:
    await set_up(service)
    data = tomllib.loads(export_document(service.rules()))
    invoices = next(r for r in data["rules"] if r["object_pair"] == "invoices_invoices")
    locked = [f["label"] for f in invoices["filters"] if f.get("locked")]
    assert locked == [
        "Invoice source is HubSpot",
        "Invoice is not a draft",
        "Created or modified after the sync started",
    ]
    inbound = [f for f in invoices["filters"] if f["flow"] == "qbo_to_hubspot"]
    assert inbound == [
        {
            "flow": "qbo_to_hubspot",
            "scope": "primary",
            "property": "MetaData.CreateTime",
            "operator": "after",
            "value": "2026-12-04",
            "label": "Invoice created after 2026-12-04",
        }
    ]


async def test_apply_changes_the_rules_the_file_changes_and_dry_run_saves_nothing(
    service: RulesService,
) -> None:
    await set_up(service)
    text = export_document(service.rules())
    edited = text.replace('direction = "two_way"', 'direction = "qbo_to_hubspot"', 1)
    rules = parse_document(edited)
    preview = await service.save(rules, FILE, dry_run=True)
    assert [(c.pair, c.lines) for c in preview] == [
        (
            ObjectPair.CONTACTS_CUSTOMERS,
            ("direction: two_way → qbo_to_hubspot",),
        )
    ]
    assert export_document(service.rules()) == text
    await service.save(rules, FILE)
    assert service.rule(ObjectPair.CONTACTS_CUSTOMERS).direction.value == "qbo_to_hubspot"
    latest = service.history()[0]
    assert (latest.source, latest.summary) == ("file", "direction: two_way → qbo_to_hubspot")


def test_a_broken_file_lists_every_problem() -> None:
    text = """
version = 1
[[rules]]
object_pair = "contacts_customers"
direction = "sideways"
[[rules]]
object_pair = "gadgets"
direction = "two_way"
"""
    with pytest.raises(DocumentError) as caught:
        parse_document(text)
    messages = caught.value.messages
    assert len(messages) == 2
    assert messages[0].startswith("rule 1 (contacts_customers): direction:")
    assert "rule 2 (gadgets)" in messages[1]


def test_not_toml_and_no_rules_are_refused() -> None:
    with pytest.raises(DocumentError, match="not TOML"):
        parse_document("rules = [")
    with pytest.raises(DocumentError, match=r"no \[\[rules\]\]"):
        parse_document("version = 1\n")


async def test_a_default_mapping_edited_in_the_file_is_refused(service: RulesService) -> None:
    await set_up(service)
    text = export_document(service.rules())
    edited = text.replace('qbo = "GivenName"', 'qbo = "MiddleName"', 1)
    with pytest.raises(RulesError) as caught:
        await service.save(parse_document(edited), FILE)
    assert "The default mapping 'First name' can only be turned on or off" in str(caught.value)
    assert export_document(service.rules()) == text


def test_a_new_rule_is_described_in_words_that_count() -> None:
    from ledgerbridge.operations.rules.document import describe_changes
    from ledgerbridge.sync.defaults import wizard_defaults

    rule = wizard_defaults(ObjectPair.PRODUCTS_ITEMS)
    one = rule.model_copy(update={"filters": rule.filters[:1], "mappings": rule.mappings[:1]})
    (line,) = describe_changes(None, one)
    assert ", 1 mapping, 1 filter, " in line, line
    (line,) = describe_changes(None, rule.model_copy(update={"filters": ()}))
    assert f", {len(rule.mappings)} mappings, 0 filters, " in line, line
