"""The naive peer (`bench.naive`) run like the engine: on a fresh pair of sandboxes with
the same seeded data, its requests metered, the same done check, the same bound."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.bound import least_time, work_a, work_b
from bench.harness import Env
from bench.readback import compare
from bench.scenarios import Result, _meters, seed_hubspot_portal, seed_qbo_company
from bench.seeding import Sizes
from bench.stats import LoadWatch


def naive_scenario(env: Env, name: str, n: int, latency: float, timeout: float = 7200) -> Result:
    sizes = Sizes.for_invoices(n)
    (seed_qbo_company if name == "a" else seed_hubspot_portal)(env, sizes)
    env.reset_counts()
    log = env.workdir / "naive.log"
    watch = LoadWatch([env.hubspot.pid, env.qbo.pid]).start()
    start = time.monotonic()
    command = [sys.executable, "-m", "bench.naive", name]
    with log.open("wb") as sink:
        peer = subprocess.Popen(
            [*command, "--hubspot", env.hubspot.url, "--qbo", env.qbo.url],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            code = peer.wait(timeout)
        finally:
            if peer.poll() is None:
                peer.kill()
                peer.wait(30)
    wall = time.monotonic() - start
    load = watch.stop()
    hubspot, qbo = _meters(env, start)
    work = work_a(sizes) if name == "a" else work_b(sizes)
    bound = least_time(work, latency)
    result = Result(
        scenario=f"{name} (naive peer)",
        sizes=sizes,
        wall_seconds=wall,
        hubspot_requests=hubspot.requests,
        qbo_requests=qbo.requests,
        hubspot_429=hubspot.throttled,
        qbo_429=qbo.throttled,
        synced_records=work.records,
        least_seconds=bound.seconds,
        model=bound.explain(),
        peak_rss_mb=0.0,
        ok=False,
        by_kind=dict(hubspot.by_kind + qbo.by_kind),
        bound=bound,
        load=load,
    )
    output = log.read_text(errors="replace")
    if code != 0:
        result.notes.append(f"the naive peer exited {code}: {output[-800:]}")
    else:
        own = json.loads(output.strip().splitlines()[-1])["seconds"]
        result.notes.append(f"the peer's own clock: {own:.1f} s (from its start-up)")
    source, target = (env.qbo, env.hubspot) if name == "a" else (env.hubspot, env.qbo)
    result.problems = compare(source.digest(), target.digest())
    result.ok = code == 0 and not result.problems
    return result
