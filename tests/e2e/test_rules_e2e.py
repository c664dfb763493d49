"""A new user's set-up, tried as they would, with processes and real HTTP only:

`ledgerbridge sandbox` (both) → `connect hubspot` and `connect qbo` through the sandboxes'
OAuth (the authorize page is "opened" by GETting the printed URL, which the sandboxes
approve at once) → `rules setup --defaults --yes` → `run`; then rule changes made with
the CLI while `run` keeps going, each taking effect at the engine's next pass.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
SECRET = "sandbox-client-secret"
pytestmark = pytest.mark.slow


@dataclass
class World:
    tmp: Path
    config: Path
    hubspot: str
    qbo: str
    engine: str

    # -- the CLI ---------------------------------------------------------------------------

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ledgerbridge.cli", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.tmp,
            env={**os.environ, "COLUMNS": "200"},
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self.cli(*args)
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def export(self) -> str:
        done = self.cli("rules", "export")
        assert done.returncode == 0, done.stderr
        return done.stdout

    # -- HubSpot ---------------------------------------------------------------------------

    def hs(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method, f"{self.hubspot}{path}", headers=TOKEN, timeout=10, **kwargs
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def hs_create(self, obj: str, **props: str) -> str:
        return str(self.hs("POST", f"/crm/v3/objects/{obj}", json={"properties": props})["id"])

    def hs_user_create(self, obj: str, **props: str) -> str:
        """A record made by a HubSpot user (in HubSpot's UI, not through an integration)."""
        created = self.hs("POST", f"/_sandbox/objects/{obj}", json={"properties": props})
        return str(created["id"])

    def hs_list(self, obj: str, props: str) -> list[dict[str, Any]]:
        params = {"limit": 100, "properties": props}
        results: list[dict[str, Any]] = self.hs("GET", f"/crm/v3/objects/{obj}", params=params)[
            "results"
        ]
        return results

    def hs_contact(self, email: str) -> dict[str, Any] | None:
        found = [
            c for c in self.hs_list("contacts", "email") if c["properties"].get("email") == email
        ]
        return found[0] if found else None

    # -- QBO -------------------------------------------------------------------------------

    def qbo_call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.qbo}/v3/company/{REALM}/{path}",
            headers={**TOKEN, "Accept": "application/json"},
            timeout=10,
            **kwargs,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def qbo_create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.qbo_call("POST", entity.lower(), json=body)[entity]
        return created

    def qbo_all(self, entity: str) -> list[dict[str, Any]]:
        response = self.qbo_call("GET", "query", params={"query": f"select * from {entity}"})
        rows: list[dict[str, Any]] = response["QueryResponse"].get(entity, [])
        return rows

    def qbo_customer(self, email: str) -> dict[str, Any] | None:
        found = [
            c
            for c in self.qbo_all("Customer")
            if (c.get("PrimaryEmailAddr") or {}).get("Address") == email
        ]
        return found[0] if found else None


def _settings(tmp: Path, hubspot: str, qbo: str, port: int) -> Path:
    config = tmp / "ledgerbridge.toml"
    config.write_text(
        f"""
database_url = "sqlite:///{tmp / "state.db"}"
key_file = "{tmp / "ledgerbridge.key"}"
port = {port}
poll_interval_seconds = 1

[hubspot]
base_url = "{hubspot}"
client_id = "sandbox-client-id"
client_secret = "{SECRET}"
redirect_uri = "http://127.0.0.1:{free_port()}/oauth/hubspot/callback"

[qbo]
base_url = "{qbo}"
token_url = "{qbo}/oauth2/v1/tokens/bearer"
authorize_url = "{qbo}/connect/oauth2"
client_id = "sandbox-client-id"
client_secret = "{SECRET}"
redirect_uri = "http://127.0.0.1:{free_port()}/oauth/qbo/callback"
""",
        encoding="utf-8",
    )
    return config


def _connect(world: World, service: str) -> str:
    """`ledgerbridge connect <service>`, approving in the sandbox as the user's browser would."""
    log = world.tmp / f"connect-{service}.log"
    args = ["connect", service, "--no-browser", "--timeout", "60", "--config", str(world.config)]
    with ledgerbridge(args, log) as process:
        url = wait_for(
            lambda: re.search(r"^(http\S+)$", process.output(), re.MULTILINE),
            what=f"the {service} authorize URL",
            process=process,
        ).group(1)
        page = httpx.get(url, follow_redirects=True, timeout=10)
        assert page.status_code == 200, page.text
        assert process.popen.wait(timeout=60) == 0, process.output()
        return process.output()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    hubspot_port, qbo_port, engine_port = free_port(), free_port(), free_port()
    args = ["sandbox", "--hubspot-port", str(hubspot_port), "--qbo-port", str(qbo_port)]
    with ledgerbridge(args, tmp_path / "sandbox.log") as sandboxes:
        hubspot, qbo = f"http://127.0.0.1:{hubspot_port}", f"http://127.0.0.1:{qbo_port}"
        for url in (f"{hubspot}/_sandbox/config", f"{qbo}/_sandbox/config"):
            wait_for(lambda u=url: healthy(u), what=url, process=sandboxes)
        # This test polls QBO often; its per-minute limit is tested elsewhere.
        httpx.patch(
            f"{qbo}/_sandbox/config", json={"rate_limits": {"requests_per_minute": 0}}, timeout=5
        ).raise_for_status()
        config = _settings(tmp_path, hubspot, qbo, engine_port)
        yield World(tmp_path, config, hubspot, qbo, f"http://127.0.0.1:{engine_port}")


@pytest.fixture
def running(world: World) -> Iterator[tuple[World, Process]]:
    """Connected, set up with `rules setup --defaults --yes`, and `run` going."""
    assert "Connected hubspot" in _connect(world, "hubspot")
    out = _connect(world, "qbo")
    assert "Next step: `ledgerbridge rules setup`" in out
    # Before set-up, the commands that sync say so and name the fix.
    done = world.cli("reconcile")
    assert done.returncode == 2 and "ledgerbridge rules setup" in done.stderr
    # The user defines a QBO invoice custom field and a custom HubSpot invoice property.
    httpx.patch(
        f"{world.qbo}/_sandbox/realms/{REALM}/settings",
        json={"custom_fields": ["PO number"]},
        timeout=10,
    ).raise_for_status()
    world.hs(
        "POST",
        "/crm/v3/properties/invoices",
        json={
            "name": "po_number",
            "label": "PO number",
            "type": "string",
            "fieldType": "text",
            "groupName": "invoiceinformation",
        },
    )
    out = world.ok("rules", "setup", "--defaults", "--yes")
    assert "Changed invoices_invoices" in out
    with ledgerbridge(["run", "--config", str(world.config)], world.tmp / "run.log") as run:
        wait_for(lambda: healthy(f"{world.engine}/healthz"), what="run", process=run)
        yield world, run
        assert interrupt(run) == 0, run.output()[-4000:]


def test_a_new_user_sets_up_and_changes_sync_with_the_cli(
    running: tuple[World, Process],
) -> None:
    world, run = running
    contacts_follow_the_direction(world, run)
    item_id, customer_id = invoices_turn_off_and_on(world, run)
    custom_mapping_from_a_file(world, run, customer_id)
    a_filter_excludes_and_says_which(world, run)
    rest_answers_like_the_cli(world)
    invalid_configurations_are_refused(world)
    assert item_id


def contacts_follow_the_direction(world: World, run: Process) -> None:
    email = f"qbo-{uuid.uuid4().hex[:8]}@example.test"
    world.qbo_create(
        "Customer", {"DisplayName": f"Q {email}", "PrimaryEmailAddr": {"Address": email}}
    )
    wait_for(lambda: world.hs_contact(email), what="the QBO customer in HubSpot", process=run)

    world.ok("rules", "set", "contacts_customers", "--direction", "qbo_to_hubspot")
    hs_email = f"hs-{uuid.uuid4().hex[:8]}@example.test"
    world.hs_user_create("contacts", email=hs_email, firstname="Hub")
    later = f"qbo2-{uuid.uuid4().hex[:8]}@example.test"
    world.qbo_create(
        "Customer", {"DisplayName": f"Q {later}", "PrimaryEmailAddr": {"Address": later}}
    )
    wait_for(lambda: world.hs_contact(later), what="a pass after the change", process=run)
    assert world.qbo_customer(hs_email) is None  # HubSpot → QBO no longer flows


def _qbo_invoice(world: World, customer_id: str, item_id: str, doc: str) -> dict[str, Any]:
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 40,
        "SalesItemLineDetail": {"ItemRef": {"value": item_id}, "Qty": 2, "UnitPrice": 20},
    }
    body = {"CustomerRef": {"value": customer_id}, "DocNumber": doc, "Line": [line]}
    return world.qbo_create("Invoice", body)


def _hs_invoices(world: World) -> list[str]:
    """The QBO ids of the HubSpot invoices synced from QuickBooks (one per QBO invoice)."""
    listed = world.hs_list("invoices", "ledgerbridge_qbo_id")
    return sorted(
        str(i["properties"]["ledgerbridge_qbo_id"])
        for i in listed
        if i["properties"].get("ledgerbridge_qbo_id")
    )


def invoices_turn_off_and_on(world: World, run: Process) -> tuple[str, str]:
    accounts = [a for a in world.qbo_all("Account") if a.get("AccountType") == "Income"]
    item = world.qbo_create(
        "Item",
        {
            "Name": "Widget",
            "Sku": "W-1",
            "Type": "Service",
            "UnitPrice": 20,
            "IncomeAccountRef": {"value": accounts[0]["Id"]},
        },
    )
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.test"
    customer = world.qbo_create(
        "Customer", {"DisplayName": f"Buyer {email}", "PrimaryEmailAddr": {"Address": email}}
    )
    wait_for(lambda: world.hs_contact(email), what="the buyer in HubSpot", process=run)
    wait_for(lambda: world.hs_list("products", "hs_sku"), what="the item in HubSpot", process=run)
    first = _qbo_invoice(world, customer["Id"], item["Id"], "E2E-1")["Id"]
    wait_for(lambda: first in _hs_invoices(world), what="invoice 1 in HubSpot", process=run)

    world.ok("rules", "disable", "invoices_invoices")
    second = _qbo_invoice(world, customer["Id"], item["Id"], "E2E-2")["Id"]
    probe = f"probe-{uuid.uuid4().hex[:8]}@example.test"
    world.qbo_create(
        "Customer", {"DisplayName": f"P {probe}", "PrimaryEmailAddr": {"Address": probe}}
    )
    wait_for(lambda: world.hs_contact(probe), what="a pass with invoices off", process=run)
    assert second not in _hs_invoices(world)

    world.ok("rules", "enable", "invoices_invoices")
    wait_for(lambda: second in _hs_invoices(world), what="invoice 2 after enable", process=run)
    assert _hs_invoices(world) == sorted([first, second])  # each once: no duplicate
    return str(item["Id"]), str(customer["Id"])


def _hs_invoice_with_po(world: World, contact_id: str, po: str) -> str:
    invoice_id = world.hs_user_create("invoices", hs_currency="USD", po_number=po)
    line_id = world.hs_user_create("line_items", name="Consulting", quantity="1", price="90")
    world.hs("PUT", f"/_sandbox/associations/invoices/{invoice_id}/line_items/{line_id}/409")
    world.hs("PUT", f"/_sandbox/associations/invoices/{invoice_id}/contacts/{contact_id}/177")
    world.hs("POST", f"/_sandbox/invoices/{invoice_id}/finalize")
    return invoice_id


def _qbo_po(invoice: dict[str, Any]) -> str | None:
    fields = [f for f in invoice.get("CustomField") or () if f.get("Name") == "PO number"]
    return str(fields[0].get("StringValue")) if fields else None


def custom_mapping_from_a_file(world: World, run: Process, customer_id: str) -> None:
    text = world.export()
    po = (
        '[[rules.mappings]]\nname = "po_number"\nhubspot = "po_number"\n'
        'qbo = "CustomField:PO number"\n'
    )
    # Append the mapping to the invoice rule (the last [[rules]] of the export).
    head, sep, tail = text.rpartition('[[rules.mappings]]\nname = "number"')
    rules_file = world.tmp / "rules.toml"
    rules_file.write_text(head + po + "\n" + sep + tail, encoding="utf-8")
    preview = world.ok("rules", "apply", str(rules_file), "--dry-run")
    assert "mapping added: po_number" in preview and world.export() == text
    world.ok("rules", "apply", str(rules_file))
    assert "Nothing to change" in world.ok("rules", "apply", str(rules_file))
    history = world.ok("rules", "history", "--json")
    assert '"source": "file"' in history

    contact = world.hs_contact(
        next(
            c["PrimaryEmailAddr"]["Address"]
            for c in world.qbo_all("Customer")
            if c["Id"] == customer_id
        )
    )
    assert contact is not None
    invoice_id = _hs_invoice_with_po(world, contact["id"], "PO-H1")

    def in_qbo() -> dict[str, Any] | None:
        return next((i for i in world.qbo_all("Invoice") if _qbo_po(i) == "PO-H1"), None)

    qbo_invoice = wait_for(in_qbo, what="the PO number in QuickBooks", process=run)
    body = {
        "Id": qbo_invoice["Id"],
        "SyncToken": qbo_invoice["SyncToken"],
        "sparse": True,
        "CustomField": [
            {"DefinitionId": "1", "Name": "PO number", "Type": "StringType", "StringValue": "PO-Q2"}
        ],
    }
    world.qbo_call("POST", "invoice", json=body)

    def in_hubspot() -> bool:
        props = world.hs(
            "GET", f"/crm/v3/objects/invoices/{invoice_id}", params={"properties": "po_number"}
        )["properties"]
        return props.get("po_number") == "PO-Q2"

    wait_for(in_hubspot, what="the PO number back in HubSpot", process=run)


def a_filter_excludes_and_says_which(world: World, run: Process) -> None:
    world.ok(
        "rules",
        "filter",
        "add",
        "contacts_customers",
        "--side",
        "qbo",
        "--property",
        "CompanyName",
        "--operator",
        "not_equals",
        "--value",
        "Blocked Co",
    )
    email = f"blocked-{uuid.uuid4().hex[:8]}@example.test"
    customer = world.qbo_create(
        "Customer",
        {
            "DisplayName": f"B {email}",
            "CompanyName": "Blocked Co",
            "PrimaryEmailAddr": {"Address": email},
        },
    )

    def excluded() -> list[dict[str, Any]]:
        (connection,) = httpx.get(f"{world.engine}/api/status", timeout=5).json()["connections"]
        return [e for e in connection["excluded"] if e["record_id"] == customer["Id"]]

    (entry,) = wait_for(excluded, what="the excluded customer in /api/status", process=run)
    assert entry["excluded_by"] == "CompanyName not equals 'Blocked Co'"
    assert world.hs_contact(email) is None
    listed = world.ok("rules", "excluded", "--json")
    assert "CompanyName not equals 'Blocked Co'" in listed


def rest_answers_like_the_cli(world: World) -> None:
    base = f"{world.engine}/api/connections/1"
    fields = httpx.get(f"{base}/fields/invoices_invoices/qbo", timeout=10).json()["fields"]
    assert "CustomField:PO number" in [f["name"] for f in fields]
    rule = httpx.get(f"{base}/rules/invoices_invoices", timeout=10).json()
    before = world.export()
    unlocked = {**rule, "filters": [f for f in rule["filters"] if not f.get("locked")]}
    answer = httpx.put(f"{base}/rules/invoices_invoices", json=unlocked, timeout=10)
    assert answer.status_code == 422
    assert "is fixed and cannot be removed" in answer.json()["detail"]["errors"][0]
    assert world.export() == before
    assert httpx.post(f"{base}/rules/products_items/disable", timeout=10).status_code == 422


REFUSED: list[tuple[list[str], str]] = [
    (
        [
            "mapping",
            "add",
            "invoices_invoices",
            "--hubspot",
            "no_such_prop",
            "--qbo",
            "PrivateNote",
        ],
        "the HubSpot invoice has no field 'no_such_prop'",
    ),
    (
        ["mapping", "add", "contacts_customers", "--hubspot", "createdate", "--qbo", "Notes"],
        "is text, which cannot be mapped as date",
    ),
    (
        ["mapping", "add", "invoices_invoices", "--hubspot", "hs_number", "--qbo", "PrivateNote"],
        "'hs_number' is read-only",
    ),
    (["disable", "products_items"], "Invoice sync is on and needs product sync on"),
    (
        [
            "filter",
            "add",
            "contacts_customers",
            "--side",
            "qbo",
            "--property",
            "MetaData.CreateTime",
            "--operator",
            "contains",
            "--value",
            "2026",
        ],
        "'contains' does not fit 'MetaData.CreateTime', a date field",
    ),
    (
        ["filter", "remove", "invoices_invoices", "--side", "hubspot", "--property", "@status"],
        "'Invoice is not a draft' is fixed and cannot be removed",
    ),
]


def invalid_configurations_are_refused(world: World) -> None:
    for args, message in REFUSED:
        before = world.export()
        done = world.cli("rules", *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert world.export() == before
    # R-INV-8: outbound invoices for a company outside the US.
    world.ok("rules", "set", "invoices_invoices", "--direction", "qbo_to_hubspot")
    httpx.patch(
        f"{world.qbo}/_sandbox/realms/{REALM}/settings", json={"country": "GB"}, timeout=10
    ).raise_for_status()
    before = world.export()
    done = world.cli("rules", "set", "invoices_invoices", "--direction", "two_way")
    assert done.returncode == 2 and "requires tax on invoices" in done.stderr
    assert world.export() == before
