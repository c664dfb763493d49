"""`ledgerbridge demo --no-seed` as a subprocess, driven only through the sandboxes' HTTP APIs.

The demo polls only once an hour here, so everything below is synced because the
sandboxes' webhooks woke the engine up (wired both ways by the demo).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import TOKEN, Process, healthy, interrupt, ledgerbridge, wait_for
from tests.support.servers import free_port

REALM = "1000000001"
pytestmark = pytest.mark.slow


@dataclass
class Demo:
    process: Process
    engine: str
    hubspot: str
    qbo: str

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
        (connection,) = httpx.get(f"{self.engine}/api/status", timeout=5).json()["connections"]
        result: dict[str, Any] = connection
        return result


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    ports = [free_port() for _ in range(3)]
    args = ["demo", "--no-seed", "--poll-interval", "3600"]
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
        # Both sandboxes hold their webhooks 2 s, so records created together in this test
        # are both there before the engine's pass reads them.
        httpx.patch(
            f"{demo.hubspot}/_sandbox/config", json={"webhook_delivery_delay": 2}, timeout=5
        ).raise_for_status()
        httpx.patch(
            f"{demo.qbo}/_sandbox/config", json={"webhook": {"delay_seconds": 2}}, timeout=5
        ).raise_for_status()
        yield demo
        assert interrupt(process) == 0, process.output()[-4000:]
        assert "Stopped." in process.output()


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


@pytest.mark.skip(
    reason="invoice and payment sync is issue 7; the engine does not sync invoices yet"
)
def test_demo_syncs_an_invoice_and_its_payment(demo: Demo) -> None:
    raise NotImplementedError
