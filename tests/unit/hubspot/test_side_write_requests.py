"""The HubSpot side's writes, counted in requests over both sandboxes (in-process).

QBO customers, items and invoices are written to HubSpot by one pass; the requests the
HubSpot side sends are recorded by path. Invoices cost one batch create per 100
(contact inline), one line-item batch create per 100 lines (invoice inline) and one
status batch update per 100: no association calls, no read-back. The next pass plans
no write at all, so the records built from the write answers hash like a read.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.runtime.connection import engine_for_clients
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.rules import Direction, ObjectPair
from ledgerbridge.transport.oauth import StaticToken
from ledgerbridge.transport.retry import RetryPolicy
from tests.integration.harness import Lab, open_lab
from tests.integration.invoicing import qbo_invoice, qbo_item, set_up

N_INVOICES = 120
LINES_EACH = 2


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    async with open_lab("http") as running:
        yield running


class Recorder:
    """Every HubSpot request of an engine: (method, path)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.id_properties: dict[str, list[str | None]] = {}
        """Path of each batch read → the `idProperty` of each call."""

    async def __call__(self, request: httpx.Request) -> None:
        self.calls.append((request.method, request.url.path))
        if request.url.path.endswith("/batch/read"):
            body = json.loads(request.content or b"{}")
            self.id_properties.setdefault(request.url.path, []).append(body.get("idProperty"))

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.calls if m == method and p == path)

    def writes(self) -> list[tuple[str, str]]:
        return [
            (m, p)
            for m, p in self.calls
            if m != "GET" and not p.endswith(("/batch/read", "/search"))
        ]


def counted_engine(lab: Lab, http: httpx.AsyncClient) -> SyncEngine:
    client = HubSpotClient(
        http,
        StaticToken("sandbox"),
        base_url=lab.hubspot_url,
        retry=RetryPolicy(max_attempts=4, rng=random.Random(1)),
        clock=lab.time.clock,
        sleep=lab.time.sleep,
    )
    return engine_for_clients(
        lab.store, lab.connection_id, hubspot=client, qbo=lab.qbo_client(), clock=lab.time.now
    )


async def test_qbo_invoices_cost_three_hubspot_batches_per_100_and_are_not_echoed(
    lab: Lab,
) -> None:
    await set_up(lab, Direction.QBO_TO_HUBSPOT)
    customers = [
        str(
            (
                await lab.qbo_create(
                    "Customer",
                    {"DisplayName": f"C{n}", "PrimaryEmailAddr": {"Address": f"c{n}@x.io"}},
                )
            )["Id"]
        )
        for n in range(3)
    ]
    items = [await qbo_item(lab, f"Widget {n}", f"W-{n}", "10") for n in range(2)]
    for n in range(N_INVOICES):
        lines = [(items[k % 2], str(k + 1), "10") for k in range(LINES_EACH)]
        await qbo_invoice(lab, customers[n % 3], lines)

    recorder = Recorder()
    async with httpx.AsyncClient(timeout=30.0, event_hooks={"request": [recorder]}) as http:
        report = await counted_engine(lab, http).run_pass()
        pairs = report.pairs
        assert pairs[ObjectPair.CONTACTS_CUSTOMERS].created == 3, report.as_dict()
        assert pairs[ObjectPair.PRODUCTS_ITEMS].created == 2, report.as_dict()
        assert pairs[ObjectPair.INVOICES_INVOICES].created == N_INVOICES, report.as_dict()

        batches = math.ceil(N_INVOICES / 100)
        line_batches = math.ceil(N_INVOICES * LINES_EACH / 100)
        base = "/crm/v3/objects"
        assert recorder.count("POST", f"{base}/invoices/batch/create") == batches
        assert recorder.count("POST", f"{base}/line_items/batch/create") == line_batches
        assert recorder.count("POST", f"{base}/invoices/batch/update") == batches  # → open
        assert recorder.count("POST", f"{base}/contacts/batch/upsert") == 1
        assert recorder.count("POST", f"{base}/products/batch/upsert") == 1
        # No association call, no read-back of what was written.
        # (The deal roll-up's look-up of invoice → deal associations is a read.)
        v4 = [p for _, p in recorder.calls if p.startswith("/crm/v4/")]
        assert v4 == ["/crm/v4/associations/invoices/deals/batch/read"]
        for obj in ("products", "invoices", "line_items"):
            assert recorder.count("POST", f"{base}/{obj}/batch/read") == 0, obj
        # The one contacts read is the match look-up by email, not a read-back.
        assert recorder.id_properties.get(f"{base}/contacts/batch/read") == ["email"]
        invoice_writes = [
            call
            for call in recorder.writes()
            if call[1].startswith((f"{base}/invoices/", f"{base}/line_items/"))
        ]
        assert len(invoice_writes) == 2 * batches + line_batches

        # What HubSpot holds is what was written: every invoice open, with its contact
        # and its lines.
        invoices = [
            r async for r in lab.hubspot_client().list_all("invoices", ["hs_invoice_status"])
        ]
        assert Counter(r.get("hs_invoice_status") for r in invoices) == {"open": N_INVOICES}
        assert len(lab.hubspot_sandbox.state.live("line_items")) == N_INVOICES * LINES_EACH

        # The next pass sees the echoes as in sync: no write at all.
        recorder.calls.clear()
        again = await counted_engine(lab, http).run_pass()
    assert again.writes == 0, again.as_dict()
    assert recorder.writes() == []
