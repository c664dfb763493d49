"""What a rule change means for records already seen, through the rules service and the
real engine over both sandboxes (each change takes effect at the next pass):

* a record excluded by a filter that is removed gets synced;
* a record a new filter excludes is left alone on the other side and shows as excluded,
  naming the filter;
* a direction change never deletes anything.
"""

from __future__ import annotations

from ledgerbridge.domain import System
from ledgerbridge.operations.rules import ChangeSource, RulesService
from ledgerbridge.operations.rules.fields import LiveAccounts
from ledgerbridge.store import RecordStatus
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import Direction, Filter, FilterOperator, ObjectPair
from tests.integration.harness import Lab

PAIR = ObjectPair.CONTACTS_CUSTOMERS
CLI = ChangeSource.CLI
NOT_HIDDEN = Filter(
    flow=Direction.HUBSPOT_TO_QBO,
    property="company",
    operator=FilterOperator.NOT_EQUALS,
    value="Hidden",
)


def service(lab: Lab) -> RulesService:
    accounts = LiveAccounts(lab.hubspot_client(), lab.qbo_client())
    return RulesService(lab.store, lab.connection_id, accounts=accounts, clock=lab.time.now)


async def customers_by_email(lab: Lab) -> dict[str, dict[str, object]]:
    return {
        str((c.get("PrimaryEmailAddr") or {}).get("Address")): c
        for c in await lab.qbo_all("Customer")
    }


async def test_a_removed_filter_lets_the_records_it_excluded_sync(lab: Lab) -> None:
    rules = service(lab)
    await rules.save([wizard_defaults(PAIR)], CLI)
    await rules.add_filter(PAIR, NOT_HIDDEN, CLI)
    hidden = await lab.hs_create("contacts", email="hid@example.com", company="Hidden")
    await lab.engine().run_pass()
    (record,) = lab.records(PAIR, RecordStatus.EXCLUDED)
    assert (record.record_id, record.excluded_by) == (hidden, "company not equals 'Hidden'")
    assert "hid@example.com" not in await customers_by_email(lab)

    await rules.remove_filter(PAIR, System.HUBSPOT, "company", CLI)
    await lab.engine().run_pass()  # the contact itself did not change

    assert "hid@example.com" in await customers_by_email(lab)
    assert [x.hubspot_id for x in lab.links(PAIR)] == [hidden]
    assert lab.records(PAIR, RecordStatus.EXCLUDED) == []


async def test_a_new_filter_leaves_the_other_side_alone_and_names_itself(lab: Lab) -> None:
    rules = service(lab)
    await rules.save([wizard_defaults(PAIR)], CLI)
    contact = await lab.hs_create("contacts", email="ann@example.com", company="Acme")
    await lab.engine().run_pass()
    (link,) = lab.links(PAIR)

    await rules.add_filter(PAIR, NOT_HIDDEN, CLI)
    await lab.hs_update("contacts", contact, company="Hidden", firstname="Ann")
    await lab.engine().run_pass()

    customer = (await customers_by_email(lab))["ann@example.com"]
    assert customer["CompanyName"] == "Acme"  # left as it was, not deleted
    assert "GivenName" not in customer or customer["GivenName"] != "Ann"
    excluded = lab.records(PAIR, RecordStatus.EXCLUDED)
    assert [(r.record_id, r.excluded_by) for r in excluded] == [
        (contact, "company not equals 'Hidden'")
    ]
    assert lab.links(PAIR) == [link]


async def test_a_direction_change_deletes_nothing(lab: Lab) -> None:
    rules = service(lab)
    await rules.save([wizard_defaults(PAIR)], CLI)
    contact = await lab.hs_create("contacts", email="bo@example.com", firstname="Bo")
    await lab.engine().run_pass()
    customer_id = str((await customers_by_email(lab))["bo@example.com"]["Id"])

    await rules.update(PAIR, CLI, direction=Direction.QBO_TO_HUBSPOT)
    await lab.hs_update("contacts", contact, firstname="Robert")
    await lab.engine().run_pass()
    customer = (await customers_by_email(lab))["bo@example.com"]
    assert (customer["Id"], customer["GivenName"]) == (customer_id, "Bo")  # not propagated
    assert [(x.hubspot_id, x.qbo_id) for x in lab.links(PAIR)] == [(contact, customer_id)]

    await lab.qbo_update("Customer", customer_id, {"GivenName": "Bobby", "sparse": True})
    await lab.engine().run_pass()
    (record,) = [r for r in await lab.hs_all("contacts", "firstname") if r.id == contact]
    assert record.get("firstname") == "Bobby"  # the other way still flows
