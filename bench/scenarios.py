"""The three scenarios of issue 8 and the least-time model. Seeding and the changes of (c)
run inside the sandbox processes (`bench.seeding`, through their `/_bench/...` endpoints):
no rate-limited request is spent on them."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.harness import Engine, Env, Meter
from bench.seeding import Sizes

# The sandboxes' real limits (their defaults, which the bench keeps).
HUBSPOT_PER_SECOND = 190 / 10
QBO_PER_SECOND = 500 / 60
QBO_BATCH_PER_SECOND = 40 / 60
QBO_QUERY_PAGE, QBO_BATCH_OPS, HUBSPOT_BATCH = 1000, 30, 100


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


def seed_qbo_company(env: Env, sizes: Sizes, seed: int = 8) -> None:
    """Scenario (a): customers, items and open invoices (1–5 lines, 3 on average)."""
    sizes.lines = env.qbo.seed("company", sizes, seed)


def seed_hubspot_portal(env: Env, sizes: Sizes, seed: int = 8) -> None:
    """Scenario (b): contacts, products (also in QBO as items with the same SKU: products
    flow QBO → HubSpot under the demo rules) and finalized (open) invoices with lines."""
    env.qbo.seed("catalog", sizes, seed)
    sizes.lines = env.hubspot.seed("portal", sizes, seed)


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


BACKFILL_ORDER = {
    "a": ["contacts", "products", "invoices"],
    "b": ["products", "contacts", "invoices"],
}
_ALL_SUPPORTED: bool | None = None


def backfill_all_supported() -> bool:
    """Whether `ledgerbridge backfill --object` accepts `all` (its help lists the choices)."""
    global _ALL_SUPPORTED
    if _ALL_SUPPORTED is None:
        answer = subprocess.run(
            [sys.executable, "-m", "ledgerbridge.cli", "backfill", "--help"],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"},
            timeout=120,
            check=False,
        )
        choices = re.search(r"--object\s+<([^>]*)>", answer.stdout + answer.stderr)
        _ALL_SUPPORTED = choices is not None and "all" in choices.group(1).split("|")
    return _ALL_SUPPORTED


def _refused_all(code: int, output: str) -> bool:
    """The engine's answer to `--object all` when `all` is not a choice (a usage error)."""
    return code == 2 and "all" in output and "--object" in output


def _backfill(env: Env, scenario: str, since: str, timeout: float) -> tuple[int, list[str], bool]:
    """`backfill --object all` (one process) when the engine has it, else one process per
    object in dependency order. Returns (peak RSS in kB, notes, failed)."""
    plan = [["all"]] if backfill_all_supported() else [[o] for o in BACKFILL_ORDER[scenario]]
    peak, notes, failed = 0, [], False
    while plan:
        (obj,) = plan.pop(0)
        began = time.monotonic()
        engine = Engine(env, ["backfill", "--object", obj, "--since", since], f"bf-{obj}.log")
        code = engine.wait(timeout)
        if obj == "all" and _refused_all(code, engine.output()):
            notes.append("backfill --object all refused: one process per object instead")
            plan = [[o] for o in BACKFILL_ORDER[scenario]]
            continue
        notes.append(f"backfill --object {obj}: {time.monotonic() - began:.1f} s")
        peak = max(peak, engine.peak_kb)
        if code != 0:
            notes.append(f"backfill --object {obj} exited {code}: {engine.output()[-800:]}")
            failed = True
    return peak, notes, failed


def _since(env: Env) -> str:
    return (dt.date.fromisoformat(env.today) - dt.timedelta(days=1)).isoformat()


def _meters(env: Env, start: float) -> tuple[Meter, Meter]:
    """Both meters, and both traces written to the work directory."""
    env.hubspot.dump_trace(env.workdir / "hubspot-requests.tsv", start)
    env.qbo.dump_trace(env.workdir / "qbo-requests.tsv", start)
    return env.hubspot.meter(), env.qbo.meter()


def _finish(
    env: Env, name: str, sizes: Sizes, start: float, peak_kb: int, synced: int, least: Any
) -> Result:
    wall = time.monotonic() - start
    hubspot, qbo = _meters(env, start)
    t, model = least
    return Result(
        scenario=name,
        sizes=sizes,
        wall_seconds=wall,
        hubspot_requests=hubspot.requests,
        qbo_requests=qbo.requests,
        hubspot_429=hubspot.throttled,
        qbo_429=qbo.throttled,
        synced_records=synced,
        least_seconds=t,
        model=model,
        peak_rss_mb=peak_kb / 1024,
        ok=False,
        by_kind=dict(hubspot.by_kind + qbo.by_kind),
    )


def scenario_a(env: Env, n: int, latency: float, timeout: float = 3600) -> Result:
    sizes = Sizes.for_invoices(n)
    seed_qbo_company(env, sizes)
    env.reset_counts()
    start = time.monotonic()
    peak, notes, failed = _backfill(env, "a", _since(env), timeout)
    synced = sizes.customers + sizes.items + sizes.invoices
    result = _finish(env, "a", sizes, start, peak, synced, least_a(sizes, latency))
    result.notes += notes
    counts = env.hubspot.counts()
    got = tuple(counts[o] for o in ("contacts", "products", "invoices", "line_items"))
    result.notes.append(f"HubSpot now has contacts/products/invoices/line items = {got}")
    result.ok = not failed and got[:3] == (sizes.customers, sizes.items, sizes.invoices)
    return result


def scenario_b(env: Env, n: int, latency: float, timeout: float = 3600) -> Result:
    sizes = Sizes.for_invoices(n)
    seed_hubspot_portal(env, sizes)
    env.reset_counts()
    start = time.monotonic()
    peak, notes, failed = _backfill(env, "b", _since(env), timeout)
    synced = sizes.customers + sizes.invoices
    result = _finish(env, "b", sizes, start, peak, synced, least_b(sizes, latency))
    result.notes += notes
    counts = env.qbo.counts()
    got = (counts["Customer"], counts["Invoice"])
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


STEADY = "@steady.example"


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

        def probe() -> None:
            in_hubspot, in_qbo = env.hubspot.emails(STEADY), env.qbo.emails(STEADY)
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
                email = env.hubspot.change(i)
                created[email] = time.monotonic()
                email = env.qbo.change(i)
                created[email] = time.monotonic()
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
    hubspot, qbo = _meters(env, start)
    changes = len(created)
    result = Result(
        scenario="c",
        sizes=sizes,
        wall_seconds=wall,
        hubspot_requests=hubspot.requests,
        qbo_requests=qbo.requests,
        hubspot_429=hubspot.throttled,
        qbo_429=qbo.throttled,
        synced_records=len(seen),
        least_seconds=seconds,
        model="the 60 s of changes",
        peak_rss_mb=engine.peak_kb / 1024,
        ok=len(seen) == changes,
        latencies=list(seen.values()),
        by_kind=dict(hubspot.by_kind + qbo.by_kind),
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
