"""The bench's done check (bench/readback.py) reads back each invoice's contact, lines,
products and status: a missing association, a line without its product or a wrong
status fails it, not only a wrong count."""

from __future__ import annotations

from typing import Any

from bench.readback import compare, hubspot_digest, qbo_digest
from bench.seeding import Sizes, seed_hubspot_portal, seed_qbo_company

from ledgerbridge.commands._demo_stack import DEMO_REALM, DEMO_TOKEN
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.hubspot.config import HubSpotSandboxConfig
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app

SIZES = Sizes(invoices=4, customers=2, items=5)


def _hubspot() -> Any:
    sandbox = hubspot_app(HubSpotSandboxConfig(random_seed=7)).state.sandbox
    seed_hubspot_portal(sandbox, SIZES)
    return sandbox


def test_a_portal_reads_back_as_itself() -> None:
    digest = hubspot_digest(_hubspot())
    assert len(digest["invoices"]) == 4 and compare(digest, digest) == []
    email, status, lines = digest["invoices"][0].split("|")
    assert email == "c0@bench.example" and status == "open"
    assert all(part.startswith("BENCH-") for part in lines.split(";"))


def test_a_missing_association_a_lost_product_and_a_draft_are_found() -> None:
    sandbox = _hubspot()
    want = hubspot_digest(sandbox)
    state = sandbox.state
    invoices = state.live("invoices")
    contact = next(iter(state.associated("invoices", invoices[0].id, "contacts")))
    state.disassociate("invoices", invoices[0].id, "contacts", contact)
    line = next(iter(state.associated("invoices", invoices[1].id, "line_items")))
    state.update("line_items", line, {"hs_product_id": ""})
    state.update("invoices", invoices[2].id, {"hs_invoice_status": "voided"})

    problems = compare(want, hubspot_digest(sandbox))

    assert len(problems) == 1 and problems[0].startswith("invoices: 3 missing")
    assert "3 unexpected" in problems[0]


def test_qbo_invoices_read_back_with_their_customer_items_and_balance() -> None:
    config = qbo_cli.build_config(realms=[DEMO_REALM], token=DEMO_TOKEN)
    sandbox = qbo_app(config).state.sandbox
    lines = seed_qbo_company(sandbox, SIZES)
    digest = qbo_digest(sandbox)
    assert sorted(digest["parties"]) == ["customer0@bench.example", "customer1@bench.example"]
    assert len(digest["catalog"]) == 5 and len(digest["invoices"]) == 4
    assert sum(d.split("|")[2].count(";") + 1 for d in digest["invoices"]) == lines
    assert all(d.split("|")[1] == "open" for d in digest["invoices"])
    fewer = {**digest, "invoices": digest["invoices"][1:], "parties": digest["parties"][:1]}
    assert [p.split(":")[0] for p in compare(digest, fewer)] == ["parties", "invoices"]
