"""`python -m bench.run --scenario a|b|c|all [--invoices N] [--latency-ms 50]`: the
benchmark of issue 8 (a command, not a test). See bench/README.md."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from bench.harness import environment
from bench.scenarios import Result, render, scenario_a, scenario_b, scenario_c


def run_one(
    name: str,
    invoices: int,
    latency_ms: float,
    *,
    seconds: float = 60,
    workdir: Path | None = None,
) -> Result:
    """One scenario in `workdir` (default: a new temp directory, kept for its logs: the
    engine's output and every request as TSV)."""
    latency = latency_ms / 1000
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix=f"lb-bench-{name}-"))
        print(f"scenario {name}: work directory {workdir}", flush=True)
    # HubSpot webhooks only for (c): the backfills of (a)/(b) run no engine server.
    with environment(workdir, latency_ms, hubspot_webhooks=name == "c") as env:
        if name == "a":
            return scenario_a(env, invoices, latency)
        if name == "b":
            return scenario_b(env, invoices, latency)
        return scenario_c(env, latency, seconds=seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--scenario", choices=["a", "b", "c", "all"], default="all")
    parser.add_argument("--invoices", type=int, default=None, help="a: 10000, b: 2000")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of (c)")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the sandbox and engine processes are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = ["a", "b", "c"] if args.scenario == "all" else [args.scenario]
    ok = True
    for name in names:
        invoices = args.invoices or (10_000 if name == "a" else 2_000)
        result = run_one(
            name,
            invoices,
            args.latency_ms,
            seconds=args.seconds,
        )
        print(render(result), flush=True)
        ok = ok and result.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
