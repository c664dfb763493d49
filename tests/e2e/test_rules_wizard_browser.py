"""The rules wizard in a real browser over real HTTP: the web app on a socket, a real store
with one connection and no rules yet; the rules service checks what needs no account
(the accounts' own checks are covered by the rules service's tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ledgerbridge.domain import System
from ledgerbridge.operations.rules import RulesService
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.store.accounts import list_audit, set_password_hash
from ledgerbridge.sync.rules import ConflictPolicy, Direction, FilterOperator, ObjectPair
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.auth import hash_password
from tests.e2e.browser import chromium, needs_chromium, shot, sign_in
from tests.support.servers import serve_in_thread

PASSWORD = "wizard test password"
CONTACTS = ObjectPair.CONTACTS_CUSTOMERS

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        tx.create_connection(name="Acme", hubspot_base_url="http://h", qbo_base_url="http://q")
        set_password_hash(tx, hash_password(PASSWORD))
    yield store
    store.close()


@pytest.fixture
def page(store: Store) -> Iterator[Page]:
    with serve_in_thread(create_web_app(store)) as url, chromium() as browser:
        yield _page(browser, url)


def _page(browser: Browser, url: str) -> Page:
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    opened = context.new_page()
    sign_in(opened, PASSWORD)
    expect(opened.get_by_role("heading", name="Sync overview")).to_be_visible()
    return opened


def test_create_then_edit_a_rule_in_the_wizard(page: Page, store: Store) -> None:
    page.goto("/rules")
    page.click("tr[data-rule='contacts_customers'] a:has-text('Set up')")
    expect(page.get_by_role("heading", name="Set up: Contacts ↔ Customers")).to_be_visible()
    page.check("input[name=direction][value=hubspot_to_qbo]")
    page.check("input[name=conflict_policy][value=qbo_wins]")
    shot(page, "rule-wizard")
    page.click("button:has-text('Save the rule')")
    expect(page.get_by_role("status")).to_contain_text("Saved the Contacts ↔ Customers rule")
    row = page.locator("#rules tr[data-rule='contacts_customers']")
    expect(row).to_contain_text("HubSpot → QuickBooks")
    expect(row).to_contain_text("Use QuickBooks data")
    expect(row).to_contain_text("On")
    shot(page, "rules")

    # Edit with the same steps: a default mapping off, a custom mapping, a filter.
    row.locator("a:has-text('Edit')").click()
    expect(page.get_by_role("heading", name="Edit: Contacts ↔ Customers")).to_be_visible()
    page.uncheck("tr[data-mapping='phone'] input[name=map_on]")
    page.fill("input[name=new_map_name]", "job_title")
    page.select_option("select[name=new_map_hubspot]", "jobtitle")
    page.select_option("select[name=new_map_qbo]", "Notes")
    page.select_option("select[name=new_filter_flow]", "hubspot_to_qbo")
    page.fill("input[name=new_filter_property]", "createdate")
    page.select_option("select[name=new_filter_operator]", "after")
    page.fill("input[name=new_filter_value]", "31/02/2025")
    page.click("button:has-text('Save changes')")
    # Refused: the form comes back as it was sent, so fixing the date is all it takes.
    expect(page.get_by_role("alert")).to_contain_text("'31/02/2025' is not a date")
    expect(page.locator("tr[data-mapping='phone'] input[name=map_on]")).not_to_be_checked()
    expect(page.locator("tr[data-mapping='email'] input[name=map_on]")).to_be_checked()
    expect(page.locator("input[name=new_map_name]")).to_have_value("job_title")
    expect(page.locator("select[name=new_map_qbo]")).to_have_value("Notes")
    expect(page.locator("input[name=new_filter_property]")).to_have_value("createdate")
    expect(page.locator("select[name=new_filter_operator]")).to_have_value("after")
    expect(page.locator("input[name=new_filter_value]")).to_have_value("31/02/2025")
    shot(page, "rule-wizard-refused")
    page.fill("input[name=new_filter_value]", "2025-02-28")
    page.click("button:has-text('Save changes')")
    expect(page.get_by_role("status")).to_contain_text("Saved")

    rule = RulesService(store, 1).rule(CONTACTS)
    assert rule.direction is Direction.HUBSPOT_TO_QBO
    assert rule.conflict_policy is ConflictPolicy.QBO_WINS
    phone = rule.mapping("phone")
    assert phone is not None and not phone.enabled
    custom = rule.mapping("job_title")
    assert custom is not None and (custom.hubspot, custom.qbo) == ("jobtitle", "Notes")
    (flt,) = rule.filters
    assert (flt.source, flt.property, flt.operator, flt.value) == (
        System.HUBSPOT,
        "createdate",
        FilterOperator.AFTER,
        "2025-02-28",
    )
    history = page.locator("#rule-history")
    expect(history).to_contain_text("dashboard")

    # Off and on again; every change is in the audit log.
    page.locator("#rules tr[data-rule='contacts_customers'] button:has-text('Turn off')").click()
    expect(page.locator("#rules tr[data-rule='contacts_customers']")).to_contain_text("Off")
    assert not RulesService(store, 1).rule(CONTACTS).enabled
    page.locator("#rules tr[data-rule='contacts_customers'] button:has-text('Turn on')").click()
    expect(page.locator("#rules tr[data-rule='contacts_customers']")).to_contain_text("On")
    with store.begin() as tx:
        changes = [e for e in list_audit(tx) if e.action == "rule_change"]
    assert len(changes) == 4
    page.goto("/audit")
    entry = page.locator("#audit tr", has_text="mapping phone: off")
    expect(entry.locator("li")).to_have_text(  # one change a line, no JSON escapes
        [
            "mapping phone: off",
            "mapping added: job_title (HubSpot jobtitle ↔ QuickBooks Notes)",
            "filter added (hubspot_to_qbo): createdate after '2025-02-28'",
        ]
    )
    shot(page, "audit-rule-changes")


def test_the_wizard_refuses_what_the_service_refuses_and_locks_fixed_filters(
    page: Page, store: Store
) -> None:
    page.goto("/rules/invoices_invoices")
    expect(page.get_by_role("heading", name="Set up: Invoices ↔ Invoices")).to_be_visible()
    fixed = page.locator("#filters tr", has_text="Invoice source is HubSpot")
    expect(fixed).to_contain_text("fixed")
    expect(fixed.locator("input[name=filter_remove]")).to_have_count(0)
    page.click("button:has-text('Save the rule')")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Nothing was saved")
    expect(alert).to_contain_text("contact")  # contacts and products come first (R-CON-3)
    assert RulesService(store, 1).rules() == []
    # A custom mapping with half its fields is refused with what to do.
    page.goto("/rules/contacts_customers")
    page.fill("input[name=new_map_name]", "half")
    page.click("button:has-text('Save the rule')")
    expect(page.get_by_role("alert")).to_contain_text("needs a name, a HubSpot field")
    assert RulesService(store, 1).rules() == []
