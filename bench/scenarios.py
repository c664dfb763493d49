"""The three scenarios of issue 8 and the least-time model. Seeding and the changes of (c)
run inside the sandbox processes (`bench.seeding`, through their `/_bench/...` endpoints):
no rate-limited request is spent on them."""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx

from bench.bound import Bound, check_efficiency, least_time, work_a, work_b
from bench.busiest import Window, budget_windows, read_trace
from bench.harness import Engine, Env, Meter
from bench.readback import compare
from bench.seeding import Sizes
from bench.stats import Load, LoadWatch
from bench.timeline import window_chain


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
    """Records written (line items included; for (c): changes made visible)."""
    least_seconds: float
    model: str
    peak_rss_mb: float
    ok: bool
    notes: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    bound: Bound | None = None
    load: Load | None = None
    problems: list[str] = field(default_factory=list)
    """What the done check found missing or wrong (empty: every record read back right)."""
    windows: list[Window] = field(default_factory=list)
    """(c): the busiest stretch of each API's trace as a share of its budget."""
    rate: float = 0.0
    """(c): new records a second on each side."""

    @property
    def efficiency(self) -> float:
        """bound / wall time (`check_efficiency` raises when it is above 1)."""
        if self.bound is None:
            return self.least_seconds / self.wall_seconds if self.wall_seconds else 0.0
        return check_efficiency(self.bound.seconds, self.wall_seconds, f"scenario {self.scenario}")

    @property
    def requests_per_record(self) -> float:
        return (self.hubspot_requests + self.qbo_requests) / max(1, self.synced_records)


def percentile(values: list[float], q: float) -> float:
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
        f"{result.qbo_429} x 429), {result.requests_per_record:.4f} per record over "
        f"{result.synced_records} records written (line items included)",
    ]
    if not result.latencies:
        lines += [
            f"  least time          {result.least_seconds:.2f} s ({result.model})",
            f"  efficiency          {result.efficiency:.3f}",
        ]
    if "naive" not in result.scenario:
        lines.append(f"  engine peak RSS     {result.peak_rss_mb:.1f} MB")
    if result.load is not None:
        lines.append(f"  machine             {result.load.describe()}")
    lines += [f"  DONE CHECK FAILED:  {p}" for p in result.problems]
    if result.latencies:
        lat = result.latencies
        lines.append(
            f"  change->visible     p50 {percentile(lat, 0.5):.2f} s, "
            f"p95 {percentile(lat, 0.95):.2f} s, "
            f"p99 {percentile(lat, 0.99):.2f} s, max {max(lat):.2f} s over {len(lat)} changes"
            f" at {result.rate:g} + {result.rate:g} / s"
        )
    lines += [f"  busiest             {w.describe()}" for w in result.windows]
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


@dataclass
class Backfilled:
    peak_kb: int = 0
    cpu_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    failed: bool = False


def _backfill(env: Env, scenario: str, since: str, timeout: float) -> Backfilled:
    """`backfill --object all` (one process) when the engine has it, else one process per
    object in dependency order."""
    plan = [["all"]] if backfill_all_supported() else [[o] for o in BACKFILL_ORDER[scenario]]
    done = Backfilled()
    while plan:
        (obj,) = plan.pop(0)
        began = time.monotonic()
        engine = Engine(env, ["backfill", "--object", obj, "--since", since], f"bf-{obj}.log")
        code = engine.wait(timeout)
        done.cpu_seconds += engine.cpu_seconds
        if obj == "all" and _refused_all(code, engine.output()):
            done.notes.append("backfill --object all refused: one process per object instead")
            plan = [[o] for o in BACKFILL_ORDER[scenario]]
            continue
        done.notes.append(f"backfill --object {obj}: {time.monotonic() - began:.1f} s")
        done.peak_kb = max(done.peak_kb, engine.peak_kb)
        if code != 0:
            done.notes.append(f"backfill --object {obj} exited {code}: {engine.output()[-800:]}")
            done.failed = True
    return done


def _since(env: Env) -> str:
    return (dt.date.fromisoformat(env.today) - dt.timedelta(days=1)).isoformat()


def _meters(env: Env, start: float) -> tuple[Meter, Meter]:
    """Both meters, and both traces written to the work directory."""
    env.hubspot.dump_trace(env.workdir / "hubspot-requests.tsv", start)
    env.qbo.dump_trace(env.workdir / "qbo-requests.tsv", start)
    return env.hubspot.meter(), env.qbo.meter()


def _backfill_scenario(env: Env, name: str, sizes: Sizes, latency: float, timeout: float) -> Result:
    """Run the backfill (the clock and the load watch around it), then the done check:
    the target's digest holds every record of the source's (`bench.readback`)."""
    backfill_all_supported()  # its probe is a process of its own: before the clock, not in it
    env.reset_counts()
    watch = LoadWatch([env.hubspot.pid, env.qbo.pid]).start()
    start = time.monotonic()
    done = _backfill(env, name, _since(env), timeout)
    wall = time.monotonic() - start
    load = watch.stop()
    hubspot, qbo = _meters(env, start)
    work = work_a(sizes) if name == "a" else work_b(sizes)
    bound = least_time(work, latency)
    result = Result(
        scenario=name,
        sizes=sizes,
        wall_seconds=wall,
        hubspot_requests=hubspot.requests,
        qbo_requests=qbo.requests,
        hubspot_429=hubspot.throttled,
        qbo_429=qbo.throttled,
        synced_records=work.records,
        least_seconds=bound.seconds,
        model=bound.explain(),
        peak_rss_mb=done.peak_kb / 1024,
        ok=False,
        by_kind=dict(hubspot.by_kind + qbo.by_kind),
        bound=bound,
        load=load,
        notes=done.notes,
    )
    result.notes.append(f"engine CPU {done.cpu_seconds:.1f} s (user + system)")
    if name == "a":  # HubSpot-bound: which part of the chain of windows the gap is
        starts = [t for t, _ in read_trace(env.workdir / "hubspot-requests.tsv")]
        chain = window_chain(starts, wall)
        if chain is not None:
            result.notes.append(chain.describe())
    source, target = (env.qbo, env.hubspot) if name == "a" else (env.hubspot, env.qbo)
    result.problems = compare(source.digest(), target.digest())
    counts = env.hubspot.counts() if name == "a" else env.qbo.counts()
    result.notes.append(f"{'HubSpot' if name == 'a' else 'QBO'} now holds {counts}")
    result.ok = not done.failed and not result.problems
    return result


def scenario_a(env: Env, n: int, latency: float, timeout: float = 3600) -> Result:
    sizes = Sizes.for_invoices(n)
    seed_qbo_company(env, sizes)
    return _backfill_scenario(env, "a", sizes, latency, timeout)


def scenario_b(env: Env, n: int, latency: float, timeout: float = 3600) -> Result:
    sizes = Sizes.for_invoices(n)
    seed_hubspot_portal(env, sizes)
    return _backfill_scenario(env, "b", sizes, latency, timeout)


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


ARRIVALS = ("poisson", "regular")


def change_times(
    rate: float, seconds: float, arrivals: str = "poisson", seed: int = 18
) -> list[tuple[float, str]]:
    """When (c) makes its changes, in seconds from the start, and on which side: `rate` a
    second on each side for `seconds`. "poisson": each side an independent Poisson stream
    of exactly rate x seconds changes (seeded, so every run makes the same changes at the
    same moments),
    as independent users' edits arrive; "regular": both sides together every 1/rate s (the
    generator of sessions 4-11, kept to compare with them: its fixed 0.2-s grid resonates
    with a wake coalescing that is a multiple of it)."""
    if arrivals == "regular":
        ticks = [k / rate for k in range(int(seconds * rate + 0.5)) if k / rate < seconds]
        return [(t, side) for t in ticks for side in ("hubspot", "qbo")]
    if arrivals != "poisson":
        raise ValueError(f"arrivals must be one of {ARRIVALS}, not {arrivals!r}")
    rng = random.Random(seed)
    count = int(seconds * rate + 0.5)
    # A Poisson stream given its count: that many moments drawn uniformly, so the
    # run makes exactly `rate` changes a second on each side, as the regular one does.
    return sorted(
        (rng.uniform(0, seconds), side) for side in ("hubspot", "qbo") for _ in range(count)
    )


def scenario_c(
    env: Env,
    latency: float,
    rate: float = 5.0,
    seconds: float = 60.0,
    settle: float = 30.0,
    arrivals: str = "poisson",
    seed: int = 18,
) -> Result:
    """Steady state: `ledgerbridge run` with webhooks; `rate` new contacts/s in HubSpot and
    `rate` new customers/s in QBO (each notified by the sandbox's webhook) at the moments of
    `change_times`; the latency of a change is the time until the other side shows a record
    with its email."""
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

        due = iter(change_times(rate, seconds, arrivals, seed))
        made = {"hubspot": 0, "qbo": 0}
        step = next(due, None)
        while step is not None or time.monotonic() - start < seconds:
            # (every change is made, even when the generator falls behind its moments)
            while step is not None and time.monotonic() - start >= step[0]:
                side = step[1]
                email = (env.hubspot if side == "hubspot" else env.qbo).change(made[side])
                created[email] = time.monotonic()
                made[side] += 1
                step = next(due, None)
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
        rate=rate,
    )
    result.windows = budget_windows(env.workdir)
    result.notes.append(f"{len(seen)} of {changes} changes visible on the other side")
    for prefix, way in (("hs", "HubSpot -> QBO"), ("qb", "QBO -> HubSpot")):
        lat = sorted(v for e, v in seen.items() if e.startswith(prefix))
        if lat:
            result.notes.append(
                f"{way}: p50 {percentile(lat, 0.5):.2f} s, p99 {percentile(lat, 0.99):.2f} s"
                f", max {lat[-1]:.2f} s over {len(lat)}"
            )
    result.notes.append(f"poll interval {env.env['LEDGERBRIDGE_POLL_INTERVAL_SECONDS']} s")
    result.notes.append(
        f"arrivals {arrivals}" + (f" (seed {seed})" if arrivals == "poisson" else "")
    )
    if len(seen) < changes:
        missing = sorted(set(created) - set(seen), key=lambda e: created[e])
        hs = [e for e in missing if e.startswith("hs")]
        result.notes.append(
            f"not visible: {len(hs)} HubSpot -> QBO, {len(missing) - len(hs)} QBO -> HubSpot; "
            f"first {missing[:4]}, last {missing[-2:]}"
        )
        result.notes.append(f"engine log tail: {engine.output()[-600:]}")
    return result
