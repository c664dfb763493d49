"""The three scenarios of issue 8, their seeding (straight into the sandboxes' state, in
their own event loop: no rate-limited request is spent on it) and the least-time model."""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from bench.harness import Engine, Env
from ledgerbridge.sandbox.hubspot.state import SOURCE_CRM_UI
from ledgerbridge.sandbox.qbo import operations

# The sandboxes' real limits (their defaults, which the bench keeps).
HUBSPOT_PER_SECOND = 190 / 10
QBO_PER_SECOND = 500 / 60
QBO_BATCH_PER_SECOND = 40 / 60
QBO_QUERY_PAGE, QBO_BATCH_OPS, HUBSPOT_BATCH = 1000, 30, 100


@dataclass
class Sizes:
    invoices: int
    customers: int
    items: int
    lines: int = 0

    @classmethod
    def for_invoices(cls, n: int) -> Sizes:
        # The issue's ratios: 10,000 invoices, 2,000 customers, 300 items.
        return cls(invoices=n, customers=max(1, n // 5), items=min(300, max(3, n)))


@dataclass
class Result:
    scenario: str
    sizes: Sizes
    wall_seconds: float
    hubspot_requests: int
    qbo_requests: int
    hubspot_429: int
    qbo_429: int
    synced_records: int
    least_seconds: float
    model: str
    peak_rss_mb: float
    ok: bool
    notes: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def efficiency(self) -> float:
        return self.least_seconds / self.wall_seconds if self.wall_seconds else 0.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def render(result: Result) -> str:
    s = result.sizes
    per = max(1, result.synced_records)
    lines = [
        f"scenario {result.scenario}: {s.invoices} invoices ({s.lines} lines), "
        f"{s.customers} customers, {s.items} items; {'OK' if result.ok else 'INCOMPLETE'}",
        f"  wall time           {result.wall_seconds:.1f} s",
        f"  requests            HubSpot {result.hubspot_requests} "
        f"({result.hubspot_requests / per:.3f}/record, {result.hubspot_429} x 429), "
        f"QBO {result.qbo_requests} ({result.qbo_requests / per:.3f}/record, "
        f"{result.qbo_429} x 429), over {result.synced_records} synced records",
    ]
    if not result.latencies:
        lines += [
            f"  least time          {result.least_seconds:.1f} s ({result.model})",
            f"  efficiency          {result.efficiency:.3f}",
        ]
    lines.append(f"  engine peak RSS     {result.peak_rss_mb:.1f} MB")
    if result.latencies:
        lat = result.latencies
        lines.append(
            f"  change->visible     p50 {_pct(lat, 0.5):.2f} s, p95 {_pct(lat, 0.95):.2f} s, "
            f"p99 {_pct(lat, 0.99):.2f} s, max {max(lat):.2f} s over {len(lat)} changes"
        )
    lines += [f"  note: {n}" for n in result.notes]
    top = sorted(result.by_kind.items(), key=lambda kv: -kv[1])[:12]
    lines += [f"    {count:6d}  {kind}" for kind, count in top]
    return "\n".join(lines)


# ------------------------------------------------------------------ seeding


def _seed_qbo_catalog(env: Env, sizes: Sizes) -> list[dict[str, Any]]:
    sandbox, realm = env.qbo_sandbox, env.realm
    ctx = sandbox.ctx(realm)
    income = next(a for a in realm.table("Account").values() if a["AccountType"] == "Income")
    items = []
    for i in range(sizes.items):
        body = {
            "Name": f"Bench item {i}",
            "Type": "Service",
            "Sku": f"BENCH-{i:04d}",
            "UnitPrice": Decimal(10 + i % 90),
            "IncomeAccountRef": {"value": income["Id"]},
        }
        items.append(operations.create(ctx, "Item", body)[0])
    return items


def seed_qbo_company(env: Env, sizes: Sizes, seed: int = 8) -> None:
    """Scenario (a): customers, items and open invoices (1–5 lines, 3 on average)."""
    rng = random.Random(seed)

    def run() -> int:
        sandbox, realm = env.qbo_sandbox, env.realm
        items = _seed_qbo_catalog(env, sizes)
        ctx = sandbox.ctx(realm)
        customers = []
        for i in range(sizes.customers):
            body = {
                "GivenName": "Bench",
                "FamilyName": f"Customer {i}",
                "DisplayName": f"Bench Customer {i}",
                "PrimaryEmailAddr": {"Address": f"customer{i}@bench.example"},
            }
            customers.append(operations.create(ctx, "Customer", body)[0])
        lines = 0
        today = sandbox.now().date().isoformat()
        for n in range(sizes.invoices):
            count = rng.randint(1, 5)
            lines += count
            body = {
                "CustomerRef": {"value": customers[n % len(customers)]["Id"]},
                "TxnDate": today,
                "Line": [
                    {
                        "DetailType": "SalesItemLineDetail",
                        "Description": item["Name"],
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": item["Id"]},
                            "Qty": rng.randint(1, 4),
                            "UnitPrice": item["UnitPrice"],
                        },
                    }
                    for item in rng.sample(items, min(count, len(items)))
                ],
            }
            operations.create(ctx, "Invoice", body)
        return lines

    sizes.lines = env.qbo.call(run, timeout=600)


def seed_hubspot_portal(env: Env, sizes: Sizes, seed: int = 8) -> None:
    """Scenario (b): contacts, products (also in QBO as items with the same SKU: products
    flow QBO → HubSpot under the demo rules) and finalized (open) invoices with lines."""
    rng = random.Random(seed)
    env.qbo.call(lambda: _seed_qbo_catalog(env, sizes), timeout=600)

    def run() -> int:
        state = env.hubspot_sandbox.state
        ui = SOURCE_CRM_UI
        products = [
            state.create(
                "products",
                {"name": f"Bench item {i}", "price": str(10 + i % 90), "hs_sku": f"BENCH-{i:04d}"},
                source=ui,
            )
            for i in range(sizes.items)
        ]
        contacts = [
            state.create(
                "contacts",
                {"firstname": "Bench", "lastname": f"Contact {i}", "email": f"c{i}@bench.example"},
                source=ui,
            )
            for i in range(sizes.customers)
        ]
        lines = 0
        for n in range(sizes.invoices):
            invoice = state.create(
                "invoices", {"hs_currency": "USD", "hs_title": f"Bench {n}"}, source=ui
            )
            contact = contacts[n % len(contacts)]
            state.associate("invoices", invoice.id, "contacts", contact.id, 177, source=ui)
            count = rng.randint(1, 5)
            lines += count
            for product in rng.sample(products, min(count, len(products))):
                props = {
                    "name": product.properties["name"],
                    "price": product.properties["price"],
                    "quantity": str(rng.randint(1, 4)),
                    "hs_product_id": product.id,
                    "hs_sku": product.properties["hs_sku"],
                }
                item = state.create("line_items", props, source=ui)
                state.associate("invoices", invoice.id, "line_items", item.id, 409, source=ui)
            state.update("invoices", invoice.id, {"hs_invoice_status": "open"}, source=ui)
        return lines

    sizes.lines = env.hubspot.call(run, timeout=600)


# ------------------------------------------------------------------ least-time model


def least_a(s: Sizes, latency: float) -> tuple[float, str]:
    qbo = sum(math.ceil(n / QBO_QUERY_PAGE) for n in (s.customers, s.items, s.invoices))
    hubspot = (
        math.ceil(s.customers / HUBSPOT_BATCH)  # contacts batch create
        + math.ceil(s.items / HUBSPOT_BATCH)  # products batch create
        + 2 * math.ceil(s.invoices / HUBSPOT_BATCH)  # invoices create (+contact) + status
        + math.ceil(s.lines / HUBSPOT_BATCH)  # line items create (+invoice association)
    )
    chain = 6  # read, create contacts/products, read invoices, invoices, lines, status
    t = max(hubspot / HUBSPOT_PER_SECOND, qbo / QBO_PER_SECOND) + chain * latency
    return t, f"HubSpot {hubspot} req / 19 per s, QBO {qbo} req / 8.33 per s, +{chain} x latency"


def least_b(s: Sizes, latency: float) -> tuple[float, str]:
    hubspot = sum(
        math.ceil(n / HUBSPOT_BATCH) for n in (s.customers, s.items, s.invoices, s.lines)
    )  # lists with associations inline
    batches = math.ceil(s.customers / QBO_BATCH_OPS) + math.ceil(s.invoices / QBO_BATCH_OPS)
    reads = math.ceil(s.items / QBO_QUERY_PAGE) + 1  # items + customers look-up
    qbo = batches + reads
    t = (
        max(
            hubspot / HUBSPOT_PER_SECOND,
            batches / QBO_BATCH_PER_SECOND,
            qbo / QBO_PER_SECOND,
        )
        + 5 * latency
    )
    return t, (
        f"HubSpot {hubspot} req / 19 per s; QBO {batches} batch (30 ops) / 0.667 per s "
        f"+ {reads} reads; +5 x latency"
    )


# ------------------------------------------------------------------ running


def _backfill(
    env: Env, objects: list[str], since: str, timeout: float
) -> tuple[int, list[str], bool]:
    peak, notes, failed = 0, [], False
    for obj in objects:
        began = time.monotonic()
        engine = Engine(env, ["backfill", "--object", obj, "--since", since], f"bf-{obj}.log")
        code = engine.wait(timeout)
        notes.append(f"backfill --object {obj}: {time.monotonic() - began:.1f} s")
        peak = max(peak, engine.peak_kb)
        if code != 0:
            notes.append(f"backfill --object {obj} exited {code}: {engine.output()[-800:]}")
            failed = True
    return peak, notes, failed


def _since(env: Env) -> str:
    return (env.qbo_sandbox.now().date() - dt.timedelta(days=1)).isoformat()


def _finish(
    env: Env, name: str, sizes: Sizes, start: float, peak_kb: int, synced: int, least: Any
) -> Result:
    wall = time.monotonic() - start
    env.hubspot.dump(env.workdir / "hubspot-requests.tsv", start)
    env.qbo.dump(env.workdir / "qbo-requests.tsv", start)
    t, model = least
    return Result(
        scenario=name,
        sizes=sizes,
        wall_seconds=wall,
        hubspot_requests=env.hubspot.requests,
        qbo_requests=env.qbo.requests,
        hubspot_429=env.hubspot.throttled,
        qbo_429=env.qbo.throttled,
        synced_records=synced,
        least_seconds=t,
        model=model,
        peak_rss_mb=peak_kb / 1024,
        ok=False,
        by_kind=dict(env.hubspot.by_kind + env.qbo.by_kind),
    )


def scenario_a(env: Env, n: int, latency: float, timeout: float = 3600) -> Result:
    sizes = Sizes.for_invoices(n)
    env.hubspot_sandbox.config.webhook_target_url = None
    seed_qbo_company(env, sizes)
    env.reset_counts()
    start = time.monotonic()
    peak, notes, failed = _backfill(env, ["contacts", "products", "invoices"], _since(env), timeout)
    synced = sizes.customers + sizes.items + sizes.invoices
    result = _finish(env, "a", sizes, start, peak, synced, least_a(sizes, latency))
    result.notes += notes

    def counts() -> tuple[int, int, int, int]:
        st = env.hubspot_sandbox.state
        return tuple(len(st.live(o)) for o in ("contacts", "products", "invoices", "line_items"))  # type: ignore[return-value]

    got = env.hubspot.call(counts)
    result.notes.append(f"HubSpot now has contacts/products/invoices/line items = {got}")
    result.ok = not failed and got[:3] == (sizes.customers, sizes.items, sizes.invoices)
    return result


def scenario_b(env: Env, n: int, latency: float, timeout: float = 3600) -> Result:
    sizes = Sizes.for_invoices(n)
    env.hubspot_sandbox.config.webhook_target_url = None
    seed_hubspot_portal(env, sizes)
    env.reset_counts()
    start = time.monotonic()
    peak, notes, failed = _backfill(env, ["products", "contacts", "invoices"], _since(env), timeout)
    synced = sizes.customers + sizes.invoices
    result = _finish(env, "b", sizes, start, peak, synced, least_b(sizes, latency))
    result.notes += notes

    def counts() -> tuple[int, int]:
        realm = env.realm
        return len(realm.table("Customer")), len(realm.table("Invoice"))

    got = env.qbo.call(counts)
    result.notes.append(f"QBO now has customers/invoices = {got}")
    result.ok = not failed and got == (sizes.customers, sizes.invoices)
    return result


def _wait_healthy(env: Env, engine: Engine, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{env.engine_port}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the engine did not come up: {engine.output()[-2000:]}")


def scenario_c(
    env: Env, latency: float, rate: float = 5.0, seconds: float = 60.0, settle: float = 30.0
) -> Result:
    """Steady state: `ledgerbridge run` with webhooks; `rate` new contacts/s in HubSpot and
    `rate` new customers/s in QBO (each notified by the sandbox's webhook); the latency of a
    change is the time until the other side shows a record with its email."""
    sizes = Sizes(invoices=0, customers=0, items=0)
    engine = Engine(env, ["run"], "run.log")
    created: dict[str, float] = {}  # email -> when made
    seen: dict[str, float] = {}
    try:
        _wait_healthy(env, engine)
        time.sleep(2)  # the first (empty) pass
        env.reset_counts()
        start = time.monotonic()

        def make_hubspot(i: int) -> None:
            env.hubspot_sandbox.state.create(
                "contacts",
                {"firstname": "Steady", "lastname": f"H{i}", "email": f"hs{i}@steady.example"},
                source=SOURCE_CRM_UI,
            )

        def make_qbo(i: int) -> None:
            sandbox = env.qbo_sandbox
            body = {
                "DisplayName": f"Steady Q{i}",
                "PrimaryEmailAddr": {"Address": f"qb{i}@steady.example"},
            }
            _obj, events = operations.create(sandbox.ctx(env.realm), "Customer", body)
            sandbox.webhooks.publish(events)

        def contacts() -> set[str]:
            live = env.hubspot_sandbox.state.live("contacts")
            return {(r.properties.get("email") or "").lower() for r in live}

        def customers() -> set[str]:
            rows = env.realm.table("Customer").values()
            return {c.get("PrimaryEmailAddr", {}).get("Address", "").lower() for c in rows}

        def probe() -> None:
            in_hubspot, in_qbo = env.hubspot.call(contacts), env.qbo.call(customers)
            now = time.monotonic()
            for email, when in list(created.items()):
                if email not in seen and email in (
                    in_qbo if email.startswith("hs") else in_hubspot
                ):
                    seen[email] = now - when

        i = 0
        next_at = start
        while time.monotonic() - start < seconds:
            if time.monotonic() >= next_at:
                env.hubspot.call(lambda i=i: make_hubspot(i))  # type: ignore[misc]
                created[f"hs{i}@steady.example"] = time.monotonic()
                env.qbo.call(lambda i=i: make_qbo(i))  # type: ignore[misc]
                created[f"qb{i}@steady.example"] = time.monotonic()
                i += 1
                next_at += 1.0 / rate
            probe()
            time.sleep(0.02)
        deadline = time.monotonic() + settle
        while len(seen) < len(created) and time.monotonic() < deadline:
            probe()
            time.sleep(0.05)
        wall = time.monotonic() - start
    finally:
        engine.stop()
    env.hubspot.dump(env.workdir / "hubspot-requests.tsv", start)
    env.qbo.dump(env.workdir / "qbo-requests.tsv", start)
    changes = len(created)
    result = Result(
        scenario="c",
        sizes=sizes,
        wall_seconds=wall,
        hubspot_requests=env.hubspot.requests,
        qbo_requests=env.qbo.requests,
        hubspot_429=env.hubspot.throttled,
        qbo_429=env.qbo.throttled,
        synced_records=len(seen),
        least_seconds=seconds,
        model="the 60 s of changes",
        peak_rss_mb=engine.peak_kb / 1024,
        ok=len(seen) == changes,
        latencies=list(seen.values()),
        by_kind=dict(env.hubspot.by_kind + env.qbo.by_kind),
    )
    result.notes.append(f"{len(seen)} of {changes} changes visible on the other side")
    if len(seen) < changes:
        missing = sorted(set(created) - set(seen), key=lambda e: created[e])
        hs = [e for e in missing if e.startswith("hs")]
        result.notes.append(
            f"not visible: {len(hs)} HubSpot -> QBO, {len(missing) - len(hs)} QBO -> HubSpot; "
            f"first {missing[:4]}, last {missing[-2:]}"
        )
        result.notes.append(f"engine log tail: {engine.output()[-600:]}")
    return result
