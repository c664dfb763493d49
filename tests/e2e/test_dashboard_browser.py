"""The dashboard in a real browser (Debian's chromium through Playwright) over real HTTP:
`ledgerbridge demo` as a subprocess (both sandboxes, the engine, the web app), changed only
through the sandboxes' APIs and the pages, as a user would.

Every main page is saved as a screenshot in `tests/e2e/screenshots/` (git-ignored).
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import chromium, needs_chromium, shot
from tests.e2e.browser import sign_in as browser_sign_in
from tests.e2e.processes import TOKEN, Process, healthy, interrupt, ledgerbridge, wait_for
from tests.support.servers import free_port

REALM = "1000000001"
PASSWORD = "a browser-test password"
WAIT_MS = 60_000

pytestmark = [pytest.mark.slow, needs_chromium]


@dataclass
class Stack:
    process: Process
    engine: str
    hubspot: str
    qbo: str
    signin_link: str

    def hubspot_create(self, obj: str, **properties: str) -> str:
        response = httpx.post(
            f"{self.hubspot}/crm/v3/objects/{obj}",
            json={"properties": properties},
            headers=TOKEN,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def hubspot_admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Act in HubSpot as a HubSpot user would (the sandbox's admin API)."""
        response = httpx.request(method, f"{self.hubspot}/_sandbox{path}", json=body, timeout=10)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def qbo_settings(self, **settings: Any) -> None:
        """A QuickBooks user changes the company's settings."""
        response = httpx.patch(
            f"{self.qbo}/_sandbox/realms/{REALM}/settings", json=settings, timeout=10
        )
        assert response.status_code < 300, response.text

    def qbo_write(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        """A QuickBooks user creates (or, with Id/SyncToken/sparse, changes) a record."""
        response = httpx.post(
            f"{self.qbo}/v3/company/{REALM}/{entity.lower()}",
            json=body,
            headers={**TOKEN, "Accept": "application/json"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        written: dict[str, Any] = response.json()[entity]
        return written

    def duplicate_customer(self, email: str, name: str) -> dict[str, Any]:
        """A second QuickBooks customer with the e-mail of a linked one: it cannot be
        synced (HubSpot has one contact per e-mail), and fails as an ambiguous match."""
        return self.qbo_write(
            "Customer", {"DisplayName": name, "PrimaryEmailAddr": {"Address": email}}
        )

    def give_own_email(self, customer: dict[str, Any]) -> None:
        """The fix: the duplicate customer gets its own e-mail address in QuickBooks."""
        email = f"own-{uuid.uuid4().hex[:6]}@example.test"
        self.qbo_write(
            "Customer",
            {
                "Id": customer["Id"],
                "SyncToken": customer["SyncToken"],
                "sparse": True,
                "PrimaryEmailAddr": {"Address": email},
            },
        )

    def qbo_customer_ids(self, email: str) -> list[str]:
        response = httpx.get(
            f"{self.qbo}/v3/company/{REALM}/query",
            params={"query": "select * from Customer"},
            headers={**TOKEN, "Accept": "application/json"},
            timeout=10,
        )
        response.raise_for_status()
        customers = response.json()["QueryResponse"].get("Customer", [])
        return [c["Id"] for c in customers if c.get("PrimaryEmailAddr", {}).get("Address") == email]

    def contact_in_qbo(self, name: str) -> tuple[str, str]:
        """A HubSpot contact, once its QuickBooks customer exists: (contact id, e-mail)."""
        email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.test"
        contact = self.hubspot_create("contacts", email=email, firstname=name, lastname="Tester")
        wait_for(
            lambda: self.qbo_customer_ids(email),
            what=f"{email} in QuickBooks",
            process=self.process,
        )
        return contact, email

    def hubspot_invoice(self, contact_id: str, price: str = "120") -> str:
        """A HubSpot user's open invoice for the contact: one custom line item."""
        made = self.hubspot_admin(
            "POST", "/objects/invoices", {"properties": {"hs_currency": "USD"}}
        )
        invoice = str(made["id"])
        line = self.hubspot_create("line_items", name="Workshop", quantity="1", price=price)
        self.hubspot_admin("PUT", f"/associations/invoices/{invoice}/line_items/{line}/409")
        self.hubspot_admin("PUT", f"/associations/invoices/{invoice}/contacts/{contact_id}/177")
        self.hubspot_admin("POST", f"/invoices/{invoice}/finalize")
        return invoice


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("dashboard")
    db = folder / "demo.db"
    env = {"LEDGERBRIDGE_DATABASE_URL": f"sqlite:///{db}", "LEDGERBRIDGE_CONFIG": ""}
    subprocess.run(
        [sys.executable, "-m", "ledgerbridge.cli", "admin", "set-password", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
    )
    ports = [free_port() for _ in range(3)]
    args = ["demo", "--db", str(db), "--poll-interval", "2"]
    args += ["--port", str(ports[0]), "--hubspot-port", str(ports[1]), "--qbo-port", str(ports[2])]
    with ledgerbridge(args, folder / "demo.log") as process:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        wait_for(lambda: healthy(f"{urls[0]}/healthz"), what="the engine", process=process)
        wait_for(lambda: "Syncing live" in process.output(), what="the first pass", process=process)
        link = re.search(r"Sign in \(one-time link\): (\S+)", process.output())
        assert link, process.output()
        yield Stack(process, *urls, signin_link=link.group(1))
        assert interrupt(process) == 0, process.output()[-4000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    context = browser.new_context(
        base_url=stack.engine, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Page, password: str = PASSWORD) -> None:
    browser_sign_in(page, password)


def until(page: Page, check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Reload the page until `check()` holds (the engine works in the background)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(500)
        page.reload()


def count(page: Page, object_type: str, status: str) -> int:
    cell = page.locator(f"tr[data-object='{object_type}'] a[data-count='{status}']")
    return int(cell.inner_text()) if cell.count() else 0


def test_sign_in_refuses_a_wrong_password_and_lets_the_right_one_in(
    page: Page, stack: Stack
) -> None:
    sign_in(page, "not the password at all")
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    expect(page.locator("header.top")).to_have_count(0)
    shot(page, "login")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(f"{stack.engine}/")
    expect(page.get_by_role("heading", name="Sync overview")).to_be_visible()
    page.goto("/audit")
    expect(page.locator("#audit")).to_contain_text("sign in refused")
    expect(page.locator("#audit")).to_contain_text("sign in")
    shot(page, "audit")


def test_the_demo_prints_a_one_time_sign_in_link(browser: Browser, stack: Stack) -> None:
    context = browser.new_context(base_url=stack.engine)
    first = context.new_page()
    first.goto(stack.signin_link)
    expect(first.get_by_role("heading", name="Sync overview")).to_be_visible()
    context.close()
    again = browser.new_context(base_url=stack.engine).new_page()
    again.goto(stack.signin_link)
    expect(again.get_by_role("alert")).to_contain_text("used already or has expired")
    again.context.close()


def test_counts_change_after_a_change_in_a_sandbox(page: Page, stack: Stack) -> None:
    sign_in(page)
    page.goto("/")
    before = count(page, "contacts_customers", "synced")
    assert before > 0  # the seeded demo's contacts, each pair counted once
    shot(page, "overview")
    email = f"grace-{uuid.uuid4().hex[:6]}@example.test"
    stack.hubspot_create("contacts", email=email, firstname="Grace")
    until(
        page,
        lambda: count(page, "contacts_customers", "synced") >= before + 1,
        "the new contact counted as synced",
    )
    # A count opens the list of those records in a side panel.
    page.click("tr[data-object='contacts_customers'] a[data-count='synced']")
    expect(page.locator("#records-panel")).to_contain_text(email)
    shot(page, "overview-panel")


def failure_row(page: Page, category: str, side: str, record_id: str) -> Any:
    group = page.locator(f"section[data-category='{category}']")
    return group.locator(f"tr[data-record='{side}:{record_id}']")


def test_a_failure_is_explained_then_fixed_in_the_sandbox_and_retried(
    page: Page, stack: Stack
) -> None:
    sign_in(page)
    _, email = stack.contact_in_qbo("Ines")
    twin = stack.duplicate_customer(email, f"Ines Twin {uuid.uuid4().hex[:4]}")
    page.goto("/failures")
    row = failure_row(page, "ambiguous_match", "quickbooks", twin["Id"])
    until(page, lambda: row.count() == 1, "the duplicate customer's failure")
    group = page.locator("section[data-category='ambiguous_match']")
    expect(group.locator(".explanation")).to_contain_text("same matching key")
    expect(group.locator(".fix")).to_contain_text("Make the key unique")
    title = group.locator("h2 abbr").get_attribute("title") or ""
    assert "never guesses" in title  # the plain explanation shows on hover too
    expect(row).to_contain_text("already belongs to a linked record")
    shot(page, "failures")

    stack.give_own_email(twin)  # the fix, made in QuickBooks
    row.locator("button:has-text('Retry')").click()
    expect(page.get_by_role("status")).to_contain_text("record(s) will be tried again")
    page.goto(f"/records?side=quickbooks&q={twin['Id']}&object=contacts_customers")
    record = page.locator(f"#records tr[data-record='quickbooks:{twin['Id']}']")
    until(page, lambda: "Synced" in record.inner_text(), "the retried customer synced")
    page.goto("/audit")
    expect(page.locator("#audit")).to_contain_text("retry")


def test_retry_all_of_a_category(page: Page, stack: Stack) -> None:
    sign_in(page)
    _, email = stack.contact_in_qbo("Jonas")
    twins = [
        stack.duplicate_customer(email, f"Jonas Twin {n} {uuid.uuid4().hex[:4]}") for n in (1, 2)
    ]
    page.goto("/failures?object=contacts_customers")
    rows = [failure_row(page, "ambiguous_match", "quickbooks", t["Id"]) for t in twins]
    until(page, lambda: all(r.count() == 1 for r in rows), "both duplicates failed")
    for twin in twins:
        stack.give_own_email(twin)
    page.locator("section[data-category='ambiguous_match'] button:has-text('Retry all')").click()
    expect(page.get_by_role("status")).to_contain_text("will be tried again")
    until(page, lambda: all(r.count() == 0 for r in rows), "the category's failures cleared")


def test_the_invoice_banner_appears_and_disappears(page: Page, stack: Stack) -> None:
    sign_in(page)
    contact, _ = stack.contact_in_qbo("Lena")
    stack.qbo_settings(revenue_recognition=True)
    invoice = stack.hubspot_invoice(contact)
    page.goto("/invoices")
    until(page, lambda: page.locator("#invoice-banner").count() > 0, "the invoice banner")
    shot(page, "invoices")
    page.click("#invoice-banner >> text=Sync failure details")
    expect(page).to_have_url(re.compile(r"/failures\?object=invoices_invoices"))
    group = page.locator("section[data-category='revenue_recognition_service_date']")
    expect(group.locator(".explanation")).to_contain_text("Revenue recognition is on")
    expect(group.locator(f"tr[data-record='hubspot:{invoice}']")).to_be_visible()
    page.goto(f"/invoices/hubspot/{invoice}")
    expect(page.locator("#sync-card")).to_contain_text("Failed")
    expect(page.locator("#sync-card")).to_contain_text("Service Date is required")
    # The fix: revenue recognition off in QuickBooks; the HubSpot user saves the invoice
    # again (QuickBooks answers a repeated request id with its first answer, so the
    # unchanged invoice would be refused again).
    stack.qbo_settings(revenue_recognition=False)
    stack.hubspot_admin(
        "PATCH", f"/objects/invoices/{invoice}", {"properties": {"hs_comments": "re-sent"}}
    )
    until(page, lambda: "Synced" in page.locator("#sync-card").inner_text(), "the invoice synced")
    page.goto("/invoices")
    until(page, lambda: page.locator("#invoice-banner").count() == 0, "the banner gone")


def test_an_invoice_page_downloads_its_pdf(page: Page, stack: Stack) -> None:
    sign_in(page)
    page.goto("/invoices?side=hubspot&status=synced")
    links = page.locator("#invoices tbody tr a").evaluate_all("(els) => els.map(e => e.href)")
    assert links
    for link in links:  # an invoice with a payment (the seeded demo has some)
        page.goto(link)
        if (
            page.locator("#payments tbody tr td").first.inner_text()
            != "No synced payment on this invoice."
        ):
            break
    else:
        raise AssertionError("no synced invoice with a payment on the first page")
    expect(page.locator("#sync-card")).to_contain_text("Synced")
    payment = page.locator("#payments tbody tr").first
    expect(payment).to_contain_text(re.compile("QuickBooks|HubSpot payments"))  # R-PAY-2 source
    expect(payment).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2}"))  # its date
    shot(page, "invoice")
    with page.expect_download() as info:
        page.click("#pdf-link")
    path = info.value.path()
    assert path is not None
    assert Path(path).read_bytes().startswith(b"%PDF")


def test_records_expand_their_activity_and_export_as_csv(page: Page, stack: Stack) -> None:
    sign_in(page)
    page.goto("/records?object=contacts_customers&status=synced")
    total = int(re.findall(r"(\d+) record\(s\)", page.locator("main").inner_text())[0])
    page.locator("#records tr.record").first.locator("button:has-text('Activity')").click()
    expect(page.locator("table.activity-log").first).to_be_visible()
    expect(page.locator("table.activity-log").first).to_contain_text("→")
    shot(page, "records")
    with page.expect_download() as info:
        page.click("text=Export CSV")
    path = info.value.path()
    assert path is not None
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text())))
    assert len(rows) >= total > 0  # every record the page counted (the engine may add some)
    assert {r["object"] for r in rows} == {"contacts_customers"}
    assert {r["status"] for r in rows} == {"synced"}


def test_reports_and_connections_pages(page: Page, stack: Stack) -> None:
    sign_in(page)
    page.goto("/reports")
    page.click("#dry-run button:has-text('Preview')")
    expect(page.locator("#dry-run-result")).to_be_visible()
    # The demo's voided, never-synced invoices are skipped, each with its reason.
    skips = page.locator("#dry-run-result tbody tr", has_text="skip")
    assert skips.count() > 0
    for row in skips.all():
        assert row.locator("td").nth(3).inner_text().strip(), row.inner_text()
    page.click("#reconciliation button:has-text('Run now')")
    expect(page.locator("#reconcile-result")).to_be_visible()
    # The demo's QuickBooks invoices with a percent discount are in HubSpot with its
    # amount: in sync, not a difference.
    expect(page.locator("#reconcile-result")).not_to_contain_text("order_discount")
    shot(page, "reports")
    page.goto("/connections")
    expect(page.locator("main")).to_contain_text("Connected")
    expect(page.locator("main")).to_contain_text("close the books")  # R-INV-12 warning
    expect(page.locator(".budget")).to_contain_text(
        re.compile(r"QuickBooks: \d+ of 500 per minute")
    )
    shot(page, "connections")


def test_the_rules_wizard_reads_both_sides_fields_live(page: Page, stack: Stack) -> None:
    sign_in(page)
    page.goto("/rules")
    for pair in ("contacts_customers", "products_items", "invoices_invoices"):
        expect(page.locator(f"#rules tr[data-rule='{pair}']")).to_contain_text("On")
    page.locator("#rules tr[data-rule='invoices_invoices'] a:has-text('Edit')").click()
    expect(page.get_by_role("heading", name="Edit: Invoices ↔ Invoices")).to_be_visible()
    # The pickers list what the HubSpot portal and the QuickBooks company say they have.
    hubspot = page.locator("select[name=new_map_hubspot] option").all_inner_texts()
    assert any("hs_number" in option for option in hubspot)
    income = page.locator("select[name=income_account] option").all_inner_texts()
    assert "Sales of Product Income" in income  # the QuickBooks company's income accounts
    expect(page.locator("#filters")).to_contain_text("fixed")
    shot(page, "rule-edit-invoices")


def test_the_api_docs_and_the_error_page_work_offline(page: Page, stack: Stack) -> None:
    """Swagger UI renders from this server's files alone (every other host is cut off, as
    on a server without internet), and a bad link shows the error page, not JSON."""
    engine = stack.engine.rstrip("/")
    outside: list[str] = []

    def only_the_engine(route: Any) -> None:
        if route.request.url.startswith(engine):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_engine)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page)
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(page.locator(".swagger-ui")).to_contain_text("/api/status")
    shot(page, "api-docs")
    assert not errors, errors
    assert not outside, outside
    page.goto("/invoices/hubspot/999999")
    expect(page.locator("main")).to_contain_text("Error 404")
    expect(page.locator("main h1")).to_have_text(
        "There is no HubSpot invoice 999999 in this connection."
    )
    page.click("text=Back to the overview")
    expect(page.locator("#object-counts")).to_be_visible()
