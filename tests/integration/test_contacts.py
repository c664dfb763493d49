"""Contacts ↔ customers over both sandboxes (R-CUS, R-CON)."""

from __future__ import annotations

import pytest

from ledgerbridge.store import RecordStatus
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.rules import (
    ConflictPolicy,
    Direction,
    DisplayNamePolicy,
    FieldMapping,
    Filter,
    FilterOperator,
    ObjectPair,
)
from tests.integration.conftest import contacts_rule
from tests.integration.harness import Lab

PAIR = ObjectPair.CONTACTS_CUSTOMERS


async def test_R_CUS_1_matches_contact_and_customer_by_email(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    hs_id = await lab.hs_create(
        "contacts", email="Jane@Example.com", firstname="Jane", lastname="Doe"
    )
    customer = await lab.qbo_create(
        "Customer",
        {"DisplayName": "Jane Doe", "PrimaryEmailAddr": {"Address": "jane@example.com"}},
    )
    only_hs = await lab.hs_create("contacts", email="bob@example.com", firstname="Bob")

    report = await lab.engine().run_pass()

    counts = report.pairs[PAIR]
    assert (counts.linked, counts.created, counts.failed) == (1, 1, 0), report.as_dict()
    links = {(x.hubspot_id, x.qbo_id) for x in lab.links(PAIR)}
    assert (hs_id, str(customer["Id"])) in links
    customers = await lab.qbo_all("Customer")
    emails = sorted(c["PrimaryEmailAddr"]["Address"].lower() for c in customers)
    assert emails == ["bob@example.com", "jane@example.com"]
    # Jane's first and last name flowed to the matched customer (two-way, HubSpot wins).
    jane = next(c for c in customers if c["Id"] == customer["Id"])
    assert (jane.get("GivenName"), jane.get("FamilyName")) == ("Jane", "Doe")
    assert any(x.hubspot_id == only_hs for x in lab.links(PAIR))
    assert {r.status for r in lab.records(PAIR)} == {RecordStatus.SYNCED}

    again = await lab.engine().run_pass()
    assert again.writes == 0, again.as_dict()


async def test_R_CUS_3_disambiguates_display_name(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    await lab.hs_create(
        "contacts", email="ann@acme.io", firstname="Ann", lastname="Lee", company="Acme"
    )
    await lab.hs_create(
        "contacts", email="bob@acme.io", firstname="Bob", lastname="Ray", company="Acme"
    )

    report = await lab.engine().run_pass()

    assert report.pairs[PAIR].created == 2, report.as_dict()
    names = sorted(c["DisplayName"] for c in await lab.qbo_all("Customer"))
    assert names == ["Acme", "Acme (Bob Ray)"]


async def test_R_CUS_3_strict_policy_fails_with_duplicate_display_name(lab: Lab) -> None:
    lab.save_rule(contacts_rule(display_name_policy=DisplayNamePolicy.STRICT))
    await lab.hs_create("contacts", email="ann@acme.io", firstname="Ann", company="Acme")
    bob = await lab.hs_create("contacts", email="bob@acme.io", firstname="Bob", company="Acme")

    report = await lab.engine().run_pass()

    assert (report.pairs[PAIR].created, report.pairs[PAIR].failed) == (1, 1)
    assert [c["DisplayName"] for c in await lab.qbo_all("Customer")] == ["Acme"]
    (failed,) = lab.records(PAIR, RecordStatus.FAILED)
    assert (failed.side, failed.record_id) == ("hubspot", bob)
    category = ErrorCategory(failed.error_category)
    assert category is ErrorCategory.DUPLICATE_DISPLAY_NAME
    assert category.headline == "Display name is a duplicate"
    assert "Acme" in (failed.detail or "")
    # Nothing was written for the failed contact, and a second pass does not retry it.
    assert (await lab.engine().run_pass()).writes == 0


async def test_R_CUS_4_qbo_customers_become_contacts(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    customer = await lab.qbo_create(
        "Customer",
        {
            "DisplayName": "Zed Corp",
            "GivenName": "Zed",
            "CompanyName": "Zed Corp",
            "PrimaryEmailAddr": {"Address": "zed@corp.io"},
        },
    )

    report = await lab.engine().run_pass()

    assert report.pairs[PAIR].created == 1
    (contact,) = await lab.hs_all(
        "contacts", "email", "firstname", "company", "ledgerbridge_qbo_id"
    )
    assert contact.get("email") == "zed@corp.io"
    assert (contact.get("firstname"), contact.get("company")) == ("Zed", "Zed Corp")
    assert contact.get("ledgerbridge_qbo_id") == str(customer["Id"])


@pytest.mark.parametrize("direction", list(Direction))
async def test_R_CON_2_directions(lab: Lab, direction: Direction) -> None:
    lab.save_rule(contacts_rule(direction=direction))
    hs_id = await lab.hs_create("contacts", email="from-hs@x.io", firstname="Hal")
    await lab.qbo_create(
        "Customer", {"DisplayName": "Quinn", "PrimaryEmailAddr": {"Address": "from-qbo@x.io"}}
    )

    await lab.engine().run_pass()

    hs_emails = {c.get("email") for c in await lab.hs_all("contacts", "email")}
    qbo_emails = {c["PrimaryEmailAddr"]["Address"] for c in await lab.qbo_all("Customer")}
    to_qbo = direction in (Direction.HUBSPOT_TO_QBO, Direction.TWO_WAY)
    to_hs = direction in (Direction.QBO_TO_HUBSPOT, Direction.TWO_WAY)
    assert ("from-hs@x.io" in qbo_emails) is to_qbo
    assert ("from-qbo@x.io" in hs_emails) is to_hs

    # An edit on the target side of a one-way rule is not propagated back.
    if to_qbo:
        await lab.hs_update("contacts", hs_id, firstname="Harold")
        await lab.engine().run_pass()
        qbo = {c["PrimaryEmailAddr"]["Address"]: c for c in await lab.qbo_all("Customer")}
        assert qbo["from-hs@x.io"].get("GivenName") == "Harold"
        if not to_hs:
            customer_id = str(qbo["from-hs@x.io"]["Id"])
            await lab.qbo_update("Customer", customer_id, {"GivenName": "Qbo edit"})
            await lab.engine().run_pass()
            contacts = {
                c.get("email"): c for c in await lab.hs_all("contacts", "email", "firstname")
            }
            assert contacts["from-hs@x.io"].get("firstname") == "Harold"


async def test_R_CON_4_rule_off_keeps_state(lab: Lab) -> None:
    lab.save_rule(contacts_rule())
    hs_id = await lab.hs_create("contacts", email="off@x.io", firstname="Olga")
    await lab.engine().run_pass()
    links_before = lab.links(PAIR)
    assert len(links_before) == 1

    lab.save_rule(contacts_rule(enabled=False))
    await lab.hs_update("contacts", hs_id, firstname="Olivia")
    await lab.hs_create("contacts", email="new@x.io", firstname="Nina")
    report = await lab.engine().run_pass()
    assert report.writes == 0 and PAIR not in report.pairs
    assert lab.links(PAIR) == links_before
    assert [c.get("GivenName") for c in await lab.qbo_all("Customer")] == ["Olga"]

    lab.save_rule(contacts_rule(enabled=True))
    report = await lab.engine().run_pass()
    assert (report.pairs[PAIR].updated, report.pairs[PAIR].created) == (1, 1)
    names = sorted(c.get("GivenName") for c in await lab.qbo_all("Customer"))
    assert names == ["Nina", "Olivia"]


@pytest.mark.parametrize("policy", list(ConflictPolicy))
async def test_R_CON_5_conflict_policy(lab: Lab, policy: ConflictPolicy) -> None:
    lab.save_rule(contacts_rule(conflict_policy=policy))
    hs_id = await lab.hs_create("contacts", email="c@x.io", firstname="Cat", phone="111")
    await lab.engine().run_pass()
    (link,) = lab.links(PAIR)

    await lab.hs_update("contacts", hs_id, firstname="Hub", phone="222")
    await lab.qbo_update("Customer", link.qbo_id, {"GivenName": "Qbo"})
    await lab.engine().run_pass()

    (contact,) = await lab.hs_all("contacts", "firstname", "phone")
    (customer,) = await lab.qbo_all("Customer")
    winner = "Hub" if policy is ConflictPolicy.HUBSPOT_WINS else "Qbo"
    assert contact.get("firstname") == customer.get("GivenName") == winner
    # A field changed on one side only is copied whatever the policy.
    assert contact.get("phone") == customer["PrimaryPhone"]["FreeFormNumber"] == "222"
    assert (await lab.engine().run_pass()).writes == 0


async def test_R_CON_6_custom_mapping(lab: Lab) -> None:
    rule = contacts_rule()
    custom = FieldMapping(name="job", hubspot="jobtitle", qbo="Notes")
    mappings = tuple(
        m.model_copy(update={"enabled": False}) if m.name == "phone" else m for m in rule.mappings
    )
    lab.save_rule(rule.model_copy(update={"mappings": (*mappings, custom)}))
    await lab.hubspot_client().ensure_property("contacts", "jobtitle", "Job title")
    hs_id = await lab.hs_create(
        "contacts", email="m@x.io", firstname="Max", jobtitle="CFO", phone="555"
    )
    await lab.engine().run_pass()
    (customer,) = await lab.qbo_all("Customer")
    assert customer.get("Notes") == "CFO"
    assert "PrimaryPhone" not in customer  # the phone mapping is toggled off

    await lab.qbo_update("Customer", str(customer["Id"]), {"Notes": "CEO"})
    await lab.engine().run_pass()
    contact = next(c for c in await lab.hs_all("contacts", "jobtitle") if c.id == hs_id)
    assert contact.get("jobtitle") == "CEO"


async def test_R_CON_7_filters_exclude(lab: Lab) -> None:
    only_customers = Filter(
        flow=Direction.HUBSPOT_TO_QBO,
        property="lifecyclestage",
        operator=FilterOperator.EQUALS,
        value="customer",
        label="Lifecycle stage is customer",
    )
    lab.save_rule(contacts_rule(filters=(only_customers,)))
    await lab.hs_create("contacts", email="in@x.io", firstname="In", lifecyclestage="customer")
    lead = await lab.hs_create("contacts", email="out@x.io", firstname="Out", lifecyclestage="lead")

    report = await lab.engine().run_pass()

    assert (report.pairs[PAIR].created, report.pairs[PAIR].excluded) == (1, 1)
    emails = [c["PrimaryEmailAddr"]["Address"] for c in await lab.qbo_all("Customer")]
    assert emails == ["in@x.io"]
    (excluded,) = lab.records(PAIR, RecordStatus.EXCLUDED)
    assert (excluded.record_id, excluded.excluded_by) == (lead, "Lifecycle stage is customer")

    # Once it meets the filter, it syncs.
    await lab.hs_update("contacts", lead, lifecyclestage="customer")
    assert (await lab.engine().run_pass()).pairs[PAIR].created == 1
