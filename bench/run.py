"""`python -m bench.run --scenario a|b|c|all [--invoices N] [--runs 3] [--naive]`: the
benchmark of issues 8 and 18 (a command, not a test). See bench/README.md."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bound import BoundError, check_efficiency
from bench.harness import environment
from bench.peer import naive_scenario
from bench.scenarios import ARRIVALS, Result, percentile, render, scenario_a, scenario_b, scenario_c
from bench.stats import spread


def run_one(
    name: str,
    invoices: int,
    latency_ms: float,
    *,
    seconds: float = 60,
    rate: float = 5.0,
    poll: float = 5.0,
    arrivals: str = "poisson",
    seed: int = 18,
    workdir: Path | None = None,
    naive: bool = False,
) -> Result:
    """One scenario (or, with `naive`, the naive peer on the same seeded data) in
    `workdir` (default: a new temp directory, kept for its logs: the engine's output and
    every request as TSV)."""
    latency = latency_ms / 1000
    if workdir is None:
        tag = f"{name}-naive" if naive else name
        workdir = Path(tempfile.mkdtemp(prefix=f"lb-bench-{tag}-"))
        print(f"scenario {tag}: work directory {workdir}", flush=True)
    # HubSpot webhooks only for (c): the backfills of (a)/(b) run no engine server.
    with environment(workdir, latency_ms, hubspot_webhooks=name == "c", poll_seconds=poll) as env:
        if naive:
            return naive_scenario(env, name, invoices, latency)
        if name == "a":
            return scenario_a(env, invoices, latency)
        if name == "b":
            return scenario_b(env, invoices, latency)
        return scenario_c(env, latency, rate=rate, seconds=seconds, arrivals=arrivals, seed=seed)


def commit() -> str:
    answer = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent,
        check=False,
    )
    return answer.stdout.strip() or "unknown"


def summary(results: list[Result], naive: Result | None) -> str:
    """Median and spread of the runs of one scenario, and the naive peer beside them."""
    first = results[0]
    walls = spread([r.wall_seconds for r in results])
    lines = [f"summary {first.scenario} at {commit()}: {len(results)} run(s)"]
    lines.append(f"  wall time           {walls.describe()}")
    if first.bound is not None:
        eff = check_efficiency(first.bound.seconds, walls.median, f"{first.scenario} median")
        effs = spread([r.efficiency for r in results])
        lines.append(
            f"  bound               {first.bound.seconds:.2f} s; efficiency {eff:.3f} at the "
            f"median ({effs.low:.3f}–{effs.high:.3f})"
        )
    per = spread([r.requests_per_record for r in results])
    lines.append(f"  requests / record   {per.describe('', 4)}")
    rss = spread([r.peak_rss_mb for r in results])
    lines.append(f"  engine peak RSS     {rss.describe('MB')}")
    for n, r in enumerate(results, 1):
        state = "OK" if r.ok else "FAILED"
        load = r.load.describe() if r.load else ""
        lines.append(f"  run {n}: {r.wall_seconds:.1f} s, {state}; {load}")
    if naive is not None:
        ratio_t = naive.wall_seconds / walls.median
        engine_requests = first.hubspot_requests + first.qbo_requests
        ratio_r = (naive.hubspot_requests + naive.qbo_requests) / max(1, engine_requests)
        same = naive.sizes.invoices == first.sizes.invoices
        lines.append(
            f"  naive peer          {naive.wall_seconds:.1f} s, HubSpot {naive.hubspot_requests}"
            f" + QBO {naive.qbo_requests} requests ({naive.requests_per_record:.3f} / record)"
            f", {'OK' if naive.ok else 'FAILED'}; "
            + (
                f"{ratio_t:.1f}x the engine's time, {ratio_r:.1f}x its requests"
                if same
                else f"at {naive.sizes.invoices} invoices (not the same size: no ratio)"
            )
        )
    return "\n".join(lines)


def as_json(result: Result, run: int) -> str:
    """One result as a JSON line (for `--json`)."""
    load = result.load
    return json.dumps(
        {
            "commit": commit(),
            "scenario": result.scenario,
            "run": run,
            "invoices": result.sizes.invoices,
            "lines": result.sizes.lines,
            "customers": result.sizes.customers,
            "items": result.sizes.items,
            "wall_seconds": round(result.wall_seconds, 3),
            "bound_seconds": round(result.least_seconds, 3),
            "efficiency": round(result.efficiency, 4) if result.bound is not None else None,
            "hubspot_requests": result.hubspot_requests,
            "qbo_requests": result.qbo_requests,
            "hubspot_429": result.hubspot_429,
            "qbo_429": result.qbo_429,
            "records": result.synced_records,
            "requests_per_record": round(result.requests_per_record, 5),
            "peak_rss_mb": round(result.peak_rss_mb, 1),
            "ok": result.ok,
            "problems": result.problems,
            "load_before": load.before if load else None,
            "load_peak": load.peak if load else None,
            "others_cores": round(load.others_cores, 3) if load else None,
            "shared": load.shared if load else None,
            "by_kind": result.by_kind,
            "notes": result.notes,
            "rate": result.rate or None,
            "latency_p50_p95_p99": [
                round(percentile(result.latencies, q), 3) for q in (0.5, 0.95, 0.99)
            ]
            if result.latencies
            else None,
            "busiest": [
                {
                    "label": w.label,
                    "count": w.count,
                    "budget": w.budget,
                    "seconds": w.seconds,
                    "share": round(w.share, 4),
                    "scaled_share": round(w.scaled, 4),
                }
                for w in result.windows
            ],
        }
    )


def byte_compile() -> None:
    """Byte-compile ledgerbridge's modules before any run, as installing the package does
    (pip compiles at install): an editable checkout on a machine that sets
    PYTHONDONTWRITEBYTECODE (this one does) never keeps its bytecode, and every engine
    process then compiled ~150 modules from source, 0.16-0.25 s of its start-up, which a
    user's installed copy never pays. Python still reads bytecode that exists."""
    import compileall

    import ledgerbridge

    compileall.compile_dir(Path(ledgerbridge.__file__).parent, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--scenario", choices=["a", "b", "c", "all"], default="all")
    parser.add_argument("--invoices", type=int, default=None, help="a: 10000, b: 2000")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of (c)")
    parser.add_argument(
        "--rate", type=float, default=5.0, help="(c): new records a second on each side"
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=5.0,
        help="the engine's poll interval in seconds (the product's default: 60)",
    )
    parser.add_argument(
        "--arrivals",
        choices=ARRIVALS,
        default="poisson",
        help="(c): when the changes come: independent Poisson streams (seeded) or both "
        "sides together every 1/rate s (sessions 4-11)",
    )
    parser.add_argument("--seed", type=int, default=18, help="(c): the Poisson streams' seed")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario")
    parser.add_argument(
        "--naive", action="store_true", help="(a)/(b): also run the naive peer, once"
    )
    parser.add_argument(
        "--naive-invoices", type=int, default=None, help="the naive peer's size (default: same)"
    )
    parser.add_argument("--json", type=Path, default=None, help="append each result here")
    args = parser.parse_args(argv)

    def record(result: Result, run: int) -> None:
        print(render(result), flush=True)
        if args.json is not None:
            with args.json.open("a") as sink:
                sink.write(as_json(result, run) + "\n")

    # SIGTERM unwinds like Ctrl-C, so the sandbox and engine processes are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    byte_compile()
    names = ["a", "b", "c"] if args.scenario == "all" else [args.scenario]
    ok = True
    try:
        for name in names:
            invoices = args.invoices or (10_000 if name == "a" else 2_000)
            results = []
            for run in range(1, max(1, args.runs) + 1):
                results.append(
                    run_one(
                        name,
                        invoices,
                        args.latency_ms,
                        seconds=args.seconds,
                        rate=args.rate,
                        poll=args.poll,
                        arrivals=args.arrivals,
                        seed=args.seed,
                    )
                )
                record(results[-1], run)
            naive = None
            if args.naive and name != "c":
                size = args.naive_invoices or invoices
                naive = run_one(name, size, args.latency_ms, naive=True)
                record(naive, 1)
                ok = ok and naive.ok
            print(summary(results, naive), flush=True)
            ok = ok and all(r.ok for r in results)
    except BoundError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 3
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
