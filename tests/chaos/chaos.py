"""The chaos run (issue 19): both sandboxes in-process on virtual time, faults injected,
a mixed workload on both sides while the engine syncs, engine "kills", then quiet.

A run, from its seed (printed; give it back with CHAOS_SEED to replay it):
1. rules: contacts two-way, products two-way (SKU only), invoices two-way;
2. faults on: 429s and 500s from both sandboxes (their own knobs) and timeouts after
   commit (`TimeoutAfterCommit`: a write reaches the sandbox and is committed, then the
   client gets `ReadTimeout`, as when the answer comes later than the client waits);
3. `rounds` rounds of users working on both sides (contacts sharing emails with QBO
   customers, edits on both sides, items, invoices made in HubSpot and in QBO, voids),
   each followed by a pass. Four passes die: the first right after its first remote
   write, three after a random number of writes (`Crash`: the process is gone, nothing
   after it is recorded; the next pass is a fresh engine, as after a restart);
4. faults off, then passes (a minute of virtual time apart, so due retries run) until
   one writes nothing.

`check(...)` then counts duplicates on either side, records lost (a source record neither
linked, nor failed with a category, nor excluded with the filter named) and reconcile's
drift. In-process, a SIGKILL is a `Crash` raised between two writes: what a killed
process leaves behind (remote writes made, local commit not) is the same.
"""

from __future__ import annotations

import collections
import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx

from ledgerbridge.domain import System
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.operations.reconcile import reconcile_ports
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.runtime.connection import engine_for_clients
from ledgerbridge.runtime.observe import api_counts
from ledgerbridge.store import RecordStatus
from ledgerbridge.sync.defaults import sku_filter
from ledgerbridge.sync.engine import SyncEngine
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.sync.rules import Direction, ObjectPair
from ledgerbridge.transport import RetryPolicy, StaticToken
from tests.chaos.faults import TimeoutAfterCommit, Webhooks
from tests.integration.conftest import contacts_rule, products_rule
from tests.integration.faults import Crash, CrashingSide, WriteCounter
from tests.integration.harness import DEFAULT_REALM, Lab
from tests.integration.invoicing import (
    hs_invoice,
    hs_payment,
    invoice_rule,
    qbo_invoice,
    qbo_payment,
)

H, Q = System.HUBSPOT, System.QUICKBOOKS
CONTACTS, PRODUCTS = ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS
INVOICES = ObjectPair.INVOICES_INVOICES


@dataclass
class ChaosResult:
    seed: int
    size: int
    created: dict[str, int] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    drift: int = -1
    kills: int = 0
    settle_passes: int = 0
    settle_seconds: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    throttled: dict[str, int] = field(default_factory=dict)
    timeouts: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    webhooks: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"chaos seed={self.seed} size={self.size} created={self.created} "
            f"duplicates={len(self.duplicates)} lost={len(self.lost)} drift={self.drift} "
            f"kills={self.kills} settle_passes={self.settle_passes} "
            f"settle_seconds={self.settle_seconds:.0f} requests={self.requests} "
            f"429s={self.throttled} timeouts_after_commit={self.timeouts} failed={self.failed} "
            f"webhooks={self.webhooks}"
        )


class Chaos:
    def __init__(self, lab: Lab, seed: int, size: int) -> None:
        self.lab, self.seed, self.size = lab, seed, size
        self.rng = random.Random(seed)
        self.transport = TimeoutAfterCommit(lab.http._transport, random.Random(seed + 1))
        self.http = httpx.AsyncClient(transport=self.transport, timeout=30.0)
        self.result = ChaosResult(seed, size)
        self.clients: list[tuple[HubSpotClient, QboClient]] = []
        self.made: dict[System, set[str]] = {H: set(), Q: set()}
        self.fresh: dict[System, set[str]] = {H: set(), Q: set()}  # entered since the last pass
        self.webhooks = Webhooks(lab)
        self.paid: set[str] = set()  # QBO ids of invoices with a payment (never voided)
        self.voided: set[str] = set()

    # ---- the engine, one "process life" per pass ----

    def engine(self, counter: WriteCounter | None) -> SyncEngine:
        """A fresh engine (a new process); with `counter`, it dies when the counter reaches
        its limit (counted over the passes of a kill that has not landed yet)."""
        lab = self.lab
        retry = RetryPolicy(max_attempts=4, rng=random.Random(self.rng.random()))
        hubspot = HubSpotClient(
            self.http,
            StaticToken("sandbox"),
            base_url=lab.hubspot_url,
            retry=retry,
            clock=lab.time.clock,
            sleep=lab.time.sleep,
        )
        qbo = QboClient(
            self.http,
            realm_id=DEFAULT_REALM,
            tokens=StaticToken("sandbox"),
            base_url=lab.qbo_url,
            retry=retry,
            sleep=lab.time.sleep,
            clock=lab.time.clock,
        )
        self.clients.append((hubspot, qbo))
        engine = engine_for_clients(
            lab.store, lab.connection_id, hubspot=hubspot, qbo=qbo, clock=lab.time.now
        )
        if counter is None:
            return engine
        return SyncEngine(
            hubspot=CrashingSide(engine.sides[H], counter),
            qbo=CrashingSide(engine.sides[Q], counter),
            state=engine.state,
            clock=lab.time.now,
        )

    async def run_pass(self, counter: WriteCounter | None = None) -> int:
        self.fresh = {H: set(), Q: set()}
        try:
            report = await self.engine(counter).run_pass()
        except Crash:
            self.result.kills += 1
            return -1
        return report.writes

    async def faults(self, on: bool) -> None:
        lab = self.lab
        qbo = {"rate_429": 0.03, "rate_500": 0.02, "seed": self.seed} if on else {}
        zero = {"rate_429": 0.0, "rate_500": 0.0}
        hubspot = {"fault_429_rate": 0.03, "fault_500_rate": 0.02} if on else {}
        hs_zero = {"fault_429_rate": 0.0, "fault_500_rate": 0.0}
        response = await lab.http.patch(
            f"{lab.qbo_url}/_sandbox/config", json={"faults": {**zero, **qbo}}
        )
        response.raise_for_status()
        response = await lab.http.patch(
            f"{lab.hubspot_url}/_sandbox/config", json={**hs_zero, **hubspot}
        )
        response.raise_for_status()
        self.transport.rate = 0.02 if on else 0.0

    # ---- users ----

    async def user(self) -> None:
        """One user action on either side; a user's request that fails is given up."""
        actions = [self.hs_contact, self.qbo_customer, self.hs_edit, self.qbo_edit]
        actions += [self.hs_invoice, self.qbo_invoice, self.hs_void, self.qbo_pay, self.hs_pay]
        with contextlib.suppress(SyncError, httpx.HTTPStatusError):
            await self.rng.choice(actions)()

    def count(self, what: str) -> None:
        self.result.created[what] = self.result.created.get(what, 0) + 1

    def email_for(self, side: System) -> str:
        """Sometimes the email of a person the other side's users entered in this round
        (no pass has run since: the same person entered on both sides before any sync);
        else a new one. Users never enter two records with one email on one side."""
        shared = sorted(self.fresh[side.other] - self.made[side])
        if shared and self.rng.random() < 0.5:
            email = self.rng.choice(shared)
        else:
            email = f"p{sum(map(len, self.made.values()))}.{self.seed}@chaos.test"
        self.made[side].add(email)
        self.fresh[side].add(email)
        return email

    async def hs_contact(self) -> None:
        email = self.email_for(H)
        made = await self.lab.hs_create(
            "contacts", email=email, firstname=f"F{self.rng.randrange(99)}"
        )
        self.webhooks.hubspot(made)
        self.count("hubspot contacts")

    async def qbo_customer(self) -> None:
        email = self.email_for(Q)
        name = f"Customer {email}"
        body = {"DisplayName": name, "PrimaryEmailAddr": {"Address": email}}
        made = await self.lab.qbo_create("Customer", body)
        self.webhooks.qbo("Customer", str(made["Id"]))
        self.count("qbo customers")

    def linked(self, pair: ObjectPair) -> list[Any]:
        return self.lab.links(pair)

    async def hs_edit(self) -> None:
        links = self.linked(CONTACTS)
        if links:
            link = self.rng.choice(links)
            await self.lab.hs_update("contacts", link.hubspot_id, lastname=f"L{self.rng.random()}")

    async def qbo_edit(self) -> None:
        links = self.linked(CONTACTS)
        if links:
            link = self.rng.choice(links)
            phone = {"FreeFormNumber": f"555-{self.rng.randrange(10**4)}"}
            await self.lab.qbo_update("Customer", link.qbo_id, {"PrimaryPhone": phone})

    async def hs_invoice(self) -> None:
        contacts, products = self.linked(CONTACTS), self.linked(PRODUCTS)
        if contacts and products:
            contact, product = self.rng.choice(contacts), self.rng.choice(products)
            qty = self.rng.randrange(1, 5)
            await hs_invoice(
                self.lab, contact.hubspot_id, [("Work", f"{qty}x10", product.hubspot_id)]
            )
            self.count("hubspot invoices")

    async def qbo_invoice(self) -> None:
        contacts, products = self.linked(CONTACTS), self.linked(PRODUCTS)
        if contacts and products:
            customer, item = self.rng.choice(contacts), self.rng.choice(products)
            qty = str(self.rng.randrange(1, 5))
            await qbo_invoice(self.lab, customer.qbo_id, [(item.qbo_id, qty, "10")])
            self.count("qbo invoices")

    async def hs_void(self) -> None:
        hubspot_made = [
            x for x in self.linked(INVOICES) if x.origin == "hubspot" and x.qbo_id not in self.paid
        ]
        if hubspot_made:
            link = self.rng.choice(hubspot_made)
            await self.lab.hs_update("invoices", link.hubspot_id, hs_invoice_status="voided")
            self.voided.add(link.qbo_id)
            self.count("voids")

    async def qbo_pay(self) -> None:
        """A QBO user records a part payment on an invoice that is synced and not voided."""
        links = [x for x in self.linked(INVOICES) if x.qbo_id not in self.voided | self.paid]
        if links:
            link = self.rng.choice(links)
            invoice = await self.lab.qbo_client().get("Invoice", link.qbo_id)
            await qbo_payment(self.lab, invoice["CustomerRef"]["value"], link.qbo_id, "5")
            self.paid.add(link.qbo_id)
            self.count("qbo payments")

    async def hs_pay(self) -> None:
        """A HubSpot payment on a HubSpot invoice that is synced and not voided."""
        links = [
            x
            for x in self.linked(INVOICES)
            if x.origin == "hubspot" and x.qbo_id not in self.voided | self.paid
        ]
        if links:
            link = self.rng.choice(links)
            await hs_payment(self.lab, link.hubspot_id, "5")
            self.paid.add(link.qbo_id)
            self.count("hubspot payments")

    # ---- the run ----

    async def setup(self) -> None:
        lab = self.lab
        skus = (sku_filter(Direction.HUBSPOT_TO_QBO), sku_filter(Direction.QBO_TO_HUBSPOT))
        lab.save_rule(contacts_rule())
        lab.save_rule(products_rule(direction=Direction.TWO_WAY, filters=skus))
        lab.save_rule(invoice_rule(Direction.TWO_WAY))
        account = await lab.income_account()
        for i in range(max(2, self.size // 25)):
            item = {
                "Name": f"Item {i}",
                "Sku": f"Q-{i}",
                "Type": "Service",
                "UnitPrice": 10,
                "IncomeAccountRef": {"value": account},
            }
            await lab.qbo_create("Item", item)
            self.count("qbo items")
        for i in range(max(1, self.size // 50)):
            await lab.hs_create("products", name=f"Product {i}", hs_sku=f"H-{i}", price="10")
            self.count("hubspot products")
        for _ in range(max(2, self.size // 4)):
            await self.hs_contact()
        for _ in range(max(2, self.size // 8)):
            await self.qbo_customer()

    async def run(self, rounds: int = 12) -> ChaosResult:
        await self.setup()
        await self.faults(on=True)
        # The first pass dies right after its first remote write; three more at random
        # moments (a kill not reached by its pass's writes moves on to the next pass).
        kills = {0: [1]}
        for moment in self.rng.sample(range(1, rounds), 3):
            kills.setdefault(moment, []).append(self.rng.randrange(1, 12))
        pending: list[WriteCounter] = []
        round_ = 0
        while round_ < rounds or (pending and round_ < rounds + 20):
            for _ in range(max(1, self.size // 20)):
                await self.user()
            self.webhooks.hubspot("1", age_ms=6 * 60 * 1000)  # a stale replay: refused
            await self.webhooks.deliver(self.rng)
            pending += [WriteCounter(n) for n in kills.get(round_, [])]
            if await self.run_pass(pending[0] if pending else None) < 0:
                pending.pop(0)
            round_ += 1
        await self.faults(on=False)
        started = self.lab.time.now()
        for settle in range(1, 41):
            self.lab.time.advance(61)  # failed records come due again
            if await self.run_pass() == 0:
                self.result.settle_passes = settle
                break
        self.result.settle_seconds = (self.lab.time.now() - started).total_seconds()
        self.result.timeouts = self.transport.timeouts
        for hubspot, qbo in self.clients:
            counts = api_counts(SimpleNamespace(hubspot=hubspot, qbo=qbo))
            for api, c in counts.items():
                self.result.requests[api] = self.result.requests.get(api, 0) + c.requests
                self.result.throttled[api] = self.result.throttled.get(api, 0) + c.throttled
        hooks = self.webhooks
        self.result.webhooks = {"sent": hooks.sent, "refused": hooks.refused, "woke": hooks.woken}
        await hooks.client.aclose()
        await self.check()
        await self.http.aclose()
        return self.result

    # ---- the checks ----

    async def check(self) -> None:
        lab, result = self.lab, self.result
        contacts = await lab.hs_all("contacts", "email")
        customers = await lab.qbo_all("Customer")
        products = await lab.hs_all("products", "hs_sku")
        items = await lab.qbo_all("Item")
        hs_invoices = await lab.hs_all("invoices", "ledgerbridge_qbo_id", "hs_invoice_status")
        qbo_invoices = await lab.qbo_all("Invoice")
        held = {
            "hubspot contact email": [c.get("email") for c in contacts],
            "qbo customer email": [_email(c) for c in customers],
            "hubspot product sku": [p.get("hs_sku") for p in products],
            "qbo item sku": [i.get("Sku") for i in items],
            "hubspot invoice from qbo": [i.get("ledgerbridge_qbo_id") for i in hs_invoices],
            "qbo invoice number": [i.get("DocNumber") for i in qbo_invoices],
        }
        for what, values in held.items():
            counts = collections.Counter(str(v).lower() for v in values if v)
            result.duplicates += [f"{what} {v} x{n}" for v, n in counts.items() if n > 1]
        sources = {
            (CONTACTS, H): [c.id for c in contacts],
            (CONTACTS, Q): [str(c["Id"]) for c in customers],
            (PRODUCTS, H): [p.id for p in products if p.get("hs_sku")],
            (PRODUCTS, Q): [str(i["Id"]) for i in items if i.get("Sku")],
            (INVOICES, H): [
                i.id for i in hs_invoices if i.get("hs_invoice_status") not in ("draft", None)
            ],
            (INVOICES, Q): [str(i["Id"]) for i in qbo_invoices],
        }
        for (pair, side), ids in sources.items():
            result.lost += self.lost(pair, side, ids)
        engine = self.engine(None)
        report = await reconcile_ports(engine.sides[H], engine.sides[Q], engine.state)
        result.drift = report.drift + len(report.errors)
        if result.drift:
            print(report.as_dict())

    def lost(self, pair: ObjectPair, side: System, ids: Sequence[str]) -> list[str]:
        """Source records neither linked, nor failed with a category, nor excluded with
        the filter named."""
        with self.lab.store.begin() as tx:
            links = tx.list_links(self.lab.connection_id, pair.value)
            records = tx.list_records(
                self.lab.connection_id, object_type=pair.value, side=side, limit=100_000
            )
        linked = {x.hubspot_id if side is H else x.qbo_id for x in links}
        accounted = {
            r.record_id
            for r in records
            if (r.status is RecordStatus.FAILED and r.error_category)
            or (r.status is RecordStatus.EXCLUDED and r.excluded_by)
        }
        failed = [r for r in records if r.status is RecordStatus.FAILED]
        for r in failed:
            key = f"{pair.value}:{r.error_category}"
            self.result.failed[key] = self.result.failed.get(key, 0) + 1
        return [f"{pair.value} {side.value}:{i}" for i in ids if i not in linked | accounted]


def _email(customer: dict[str, Any]) -> str | None:
    address = (customer.get("PrimaryEmailAddr") or {}).get("Address")
    return str(address) if address else None


async def run_chaos(lab: Lab, seed: int, size: int) -> ChaosResult:
    return await Chaos(lab, seed, size).run()
