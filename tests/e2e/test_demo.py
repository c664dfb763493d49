"""`ledgerbridge demo --no-seed` as a subprocess, driven only through the sandboxes' HTTP APIs.

The demo polls only once an hour here, so everything below is synced because the
sandboxes' webhooks woke the engine up (wired both ways by the demo).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import TOKEN, Process, healthy, interrupt, ledgerbridge, wait_for
from tests.support.postgres import postgres_bindir
from tests.support.servers import free_port

REALM = "1000000001"
pytestmark = pytest.mark.slow


@dataclass
class Demo:
    process: Process
    engine: str
    hubspot: str
    qbo: str
    session: httpx.Client = field(default_factory=httpx.Client)

    # -- HubSpot ---------------------------------------------------------------------------

    def hubspot_list(self, obj: str, properties: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.hubspot}/crm/v3/objects/{obj}",
            params={"limit": 100, "properties": properties},
            headers=TOKEN,
            timeout=10,
        )
        response.raise_for_status()
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    def hubspot_create(self, obj: str, properties: dict[str, str]) -> str:
        response = httpx.post(
            f"{self.hubspot}/crm/v3/objects/{obj}",
            json={"properties": properties},
            headers=TOKEN,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    # -- QBO -------------------------------------------------------------------------------

    def qbo_query(self, statement: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.qbo}/v3/company/{REALM}/query",
            params={"query": statement},
            headers={**TOKEN, "Accept": "application/json"},
            timeout=10,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()["QueryResponse"]
        return result

    def qbo_create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.qbo}/v3/company/{REALM}/{entity.lower()}",
            json=body,
            headers={**TOKEN, "Accept": "application/json"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        created: dict[str, Any] = response.json()[entity]
        return created

    def status(self) -> dict[str, Any]:
        (connection,) = self.session.get("/api/status", timeout=5).json()["connections"]
        result: dict[str, Any] = connection
        return result


@pytest.fixture(params=["embedded", pytest.param("distributed", marks=pytest.mark.postgres)])
def demo(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Demo]:
    ports = [free_port() for _ in range(3)]
    args = ["demo", "--no-seed", "--poll-interval", "3600"]
    if request.param == "distributed":  # PostgreSQL and two `ledgerbridge worker` processes
        if postgres_bindir() is None:
            pytest.skip("PostgreSQL server binaries are not installed")
        args += ["--distributed", "--workers", "2"]
    args += ["--port", str(ports[0]), "--hubspot-port", str(ports[1]), "--qbo-port", str(ports[2])]
    with ledgerbridge(args, tmp_path / "demo.log") as process:
        demo = Demo(process, *(f"http://127.0.0.1:{port}" for port in ports))
        for url in (
            f"{demo.engine}/healthz",
            f"{demo.hubspot}/_sandbox/config",
            f"{demo.qbo}/_sandbox/config",
        ):
            wait_for(lambda u=url: healthy(u), what=url, process=process, timeout=60)
        wait_for(
            lambda: "Syncing live" in process.output(),
            what="the initial sync",
            process=process,
        )
        # The demo prints a one-time sign-in link; it signs this client in (the API needs it).
        link = re.search(r"Sign in \(one-time link\): (\S+)", process.output())
        assert link, process.output()
        demo.session = httpx.Client(base_url=demo.engine)
        assert demo.session.get(link.group(1)).status_code == 303
        # Both sandboxes hold their webhooks 2 s, so records created together in this test
        # are both there before the engine's pass reads them.
        httpx.patch(
            f"{demo.hubspot}/_sandbox/config", json={"webhook_delivery_delay": 2}, timeout=5
        ).raise_for_status()
        httpx.patch(
            f"{demo.qbo}/_sandbox/config", json={"webhook": {"delay_seconds": 2}}, timeout=5
        ).raise_for_status()
        yield demo
        demo.session.close()
        assert interrupt(process) == 0, process.output()[-4000:]
        assert "Stopped." in process.output()


def test_a_signed_out_user_gets_back_in_with_the_command_the_demo_prints(
    demo: Demo, tmp_path: Path
) -> None:
    """Other commands, run from another folder with no settings, reach the running demo
    through the `--config` it prints; its sign-in page names the same command."""
    found = re.search(r"ledgerbridge admin signin-link --config (\S+)", demo.process.output())
    assert found, demo.process.output()
    config = found.group(1)
    with httpx.Client(base_url=demo.engine) as signed_out:
        assert f"ledgerbridge admin signin-link --config {config}" in signed_out.get("/login").text
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "ledgerbridge.cli", *args, "--config", config],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    link = re.search(r"(http://\S+/signin/\S+)", cli("admin", "signin-link"))
    assert link and link.group(1).startswith(f"{demo.engine}/signin/")
    with httpx.Client(base_url=demo.engine) as browser:
        assert browser.get(link.group(1)).status_code == 303
        assert browser.get("/api/status").status_code == 200
    assert "contacts_customers" in cli("rules", "list")
    assert list(elsewhere.iterdir()) == []


def test_demo_links_a_customer_and_a_contact_with_the_same_email_and_publishes_items(
    demo: Demo,
) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.test"
    customer = demo.qbo_create(
        "Customer",
        {
            "DisplayName": "Ada Lovelace",
            "GivenName": "Ada",
            "FamilyName": "Lovelace",
            "PrimaryEmailAddr": {"Address": email},
        },
    )
    contact_id = demo.hubspot_create(
        "contacts", {"email": email, "firstname": "Ada", "lastname": "Lovelace"}
    )

    (income,) = demo.qbo_query("select * from Account where Name = 'Sales of Product Income'")[
        "Account"
    ]
    sku = f"SKU-{uuid.uuid4().hex[:6].upper()}"
    demo.qbo_create(
        "Item",
        {
            "Name": "Analytical Engine",
            "Sku": sku,
            "Type": "Service",
            "UnitPrice": 1234.5,
            "IncomeAccountRef": {"value": income["Id"]},
        },
    )

    def products_with_sku() -> list[dict[str, Any]]:
        return [
            p
            for p in demo.hubspot_list("products", "name,hs_sku,price")
            if p["properties"].get("hs_sku") == sku
        ]

    (product,) = wait_for(products_with_sku, what="the item in HubSpot", process=demo.process)
    assert product["properties"]["name"] == "Analytical Engine"

    def contacts_linked() -> bool:
        counts = demo.status()["objects"].get("contacts_customers", {})
        return bool(counts.get("synced", 0) >= 1)

    wait_for(contacts_linked, what="the contact and the customer synced", process=demo.process)
    contacts = [
        c
        for c in demo.hubspot_list("contacts", "email,firstname,lastname")
        if c["properties"].get("email") == email
    ]
    customers = [
        c
        for c in demo.qbo_query("select * from Customer").get("Customer", [])
        if c.get("PrimaryEmailAddr", {}).get("Address") == email
    ]
    assert [c["id"] for c in contacts] == [contact_id]  # linked, not duplicated
    assert [c["Id"] for c in customers] == [customer["Id"]]
    status = demo.status()
    assert status["status"] == "active" and status["failures"] == []


def _admin(demo: Demo, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Act in the HubSpot sandbox as a HubSpot user would (the admin API)."""
    response = httpx.request(method, f"{demo.hubspot}/_sandbox{path}", json=body, timeout=10)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def test_demo_syncs_invoices_both_ways_and_a_qbo_payment_marks_hubspot_paid(
    demo: Demo,
) -> None:
    # A customer and an item made in QuickBooks reach HubSpot first (R-CON-3 order).
    email = "ada.invoices@example.com"
    customer = demo.qbo_create(
        "Customer",
        {
            "DisplayName": "Ada Invoices",
            "GivenName": "Ada",
            "FamilyName": "Invoices",
            "PrimaryEmailAddr": {"Address": email},
        },
    )
    (income,) = demo.qbo_query("select * from Account where AccountType = 'Income'")["Account"][:1]
    item = demo.qbo_create(
        "Item",
        {
            "Name": "Consulting hour",
            "Sku": "CONS-1",
            "Type": "Service",
            "UnitPrice": 100,
            "IncomeAccountRef": {"value": income["Id"]},
        },
    )

    def contact_id() -> str | None:
        for c in demo.hubspot_list("contacts", "email"):
            if c["properties"].get("email") == email:
                return str(c["id"])
        return None

    hubspot_contact = wait_for(contact_id, what="the customer in HubSpot", process=demo.process)

    # 1. A QBO-made invoice appears in HubSpot with its amount.
    qbo_invoice = demo.qbo_create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "Amount": 200,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item["Id"]},
                        "Qty": 2,
                        "UnitPrice": 100,
                    },
                }
            ],
        },
    )
    props = "ledgerbridge_qbo_id,hs_invoice_status,hs_amount_billed,hs_balance_due"

    def hubspot_invoice() -> dict[str, Any] | None:
        for invoice in demo.hubspot_list("invoices", props):
            if invoice["properties"].get("ledgerbridge_qbo_id") == str(qbo_invoice["Id"]):
                return invoice
        return None

    def billed() -> dict[str, Any] | None:
        # The engine creates the invoice, then its line items (HubSpot computes the billed
        # amount from them): wait for both, not only for the invoice to exist.
        invoice = hubspot_invoice()
        amount = invoice["properties"].get("hs_amount_billed") if invoice else None
        return invoice if amount and Decimal(amount) == Decimal("200") else None

    synced = wait_for(billed, what="the QBO invoice in HubSpot, billed 200", process=demo.process)
    assert Decimal(synced["properties"]["hs_amount_billed"]) == Decimal("200")

    # 2. A payment recorded in QBO marks the HubSpot invoice paid.
    demo.qbo_create(
        "Payment",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": 200,
            "Line": [
                {
                    "Amount": 200,
                    "LinkedTxn": [{"TxnId": str(qbo_invoice["Id"]), "TxnType": "Invoice"}],
                }
            ],
        },
    )

    def paid() -> dict[str, Any] | None:
        invoice = hubspot_invoice()
        status = invoice["properties"].get("hs_invoice_status") if invoice else None
        return invoice if status == "paid" else None

    paid_invoice = wait_for(paid, what="the HubSpot invoice paid", process=demo.process)
    assert Decimal(paid_invoice["properties"]["hs_balance_due"]) == Decimal("0")

    # 3. A HubSpot invoice, once finalized, appears in QBO with the customer, lines, amounts.
    invoice = _admin(demo, "POST", "/objects/invoices", {"properties": {"hs_currency": "USD"}})
    line = _admin(
        demo,
        "POST",
        "/objects/line_items",
        {"properties": {"name": "Workshop day", "quantity": "3", "price": "50"}},
    )
    _admin(demo, "PUT", f"/associations/invoices/{invoice['id']}/line_items/{line['id']}/409")
    _admin(demo, "PUT", f"/associations/invoices/{invoice['id']}/contacts/{hubspot_contact}/177")
    existing = {i["Id"] for i in demo.qbo_query("select * from Invoice").get("Invoice", [])}
    _admin(demo, "POST", f"/invoices/{invoice['id']}/finalize")

    def new_qbo_invoice() -> dict[str, Any] | None:
        invoices = demo.qbo_query("select * from Invoice").get("Invoice", [])
        fresh = [i for i in invoices if i["Id"] not in existing]
        return fresh[0] if len(fresh) == 1 else None

    created = wait_for(new_qbo_invoice, what="the HubSpot invoice in QBO", process=demo.process)
    assert created["CustomerRef"]["value"] == customer["Id"]
    assert Decimal(str(created["TotalAmt"])) == Decimal("150")
    (sales_line,) = [x for x in created["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert Decimal(str(sales_line["SalesItemLineDetail"]["Qty"])) == 3
    assert Decimal(str(sales_line["SalesItemLineDetail"]["UnitPrice"])) == 50
    assert sales_line["Description"] == "Workshop day"
    assert demo.status()["failures"] == []
    # R-INV-12: the QBO company's settings that work against invoice sync are shown.
    assert any("close the books" in w for w in demo.status()["warnings"])


def test_demo_workflow_turns_a_deal_with_a_payment_link_into_a_qbo_invoice(demo: Demo) -> None:
    """R-WF-1/R-WF-5: the demo registered the actions and its example flows; a deal that gets
    a payment link runs "Create QuickBooks invoice" (signed call, BLOCK, callback)."""
    flows = _admin(demo, "GET", "/flows")["results"]
    assert len(flows) == 6
    contact = demo.hubspot_create(
        "contacts", {"email": "grace.wf@example.com", "firstname": "Grace", "lastname": "Wf"}
    )
    deal = demo.hubspot_create("deals", {"dealname": "Workflow deal", "amount": "30"})
    line = demo.hubspot_create(
        "line_items", {"name": "Consulting hour", "hs_sku": "WF-HOUR", "price": "30"}
    )
    _admin(demo, "PUT", f"/associations/deals/{deal}/contacts/{contact}/3")
    _admin(demo, "PUT", f"/associations/deals/{deal}/line_items/{line}/19")
    _admin(demo, "PATCH", f"/objects/deals/{deal}", {"properties": {"hs_payment_link": "x"}})

    def workflow_invoices() -> list[dict[str, Any]]:
        rows = demo.qbo_query("select * from Invoice").get("Invoice", [])
        return [r for r in rows if "workflow action" in str(r.get("PrivateNote", ""))]

    (invoice,) = wait_for(workflow_invoices, what="the workflow's invoice", process=demo.process)
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("30")

    def completed() -> dict[str, Any] | None:
        executions = _admin(demo, "GET", "/flows/executions")["results"]
        done = [e for e in executions if e["objectId"] == deal and e["status"] == "COMPLETED"]
        return done[0] if done else None

    execution = wait_for(completed, what="the flow to complete", process=demo.process)
    assert execution["actions"][0]["outputFields"]["qbo_id"] == invoice["Id"]
