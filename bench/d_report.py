"""The results of scenario (d) as a table in the format of bench/RESULTS.md, from the runs'
JSON records (one per worker count: what `--json` appends), so runs made by separate
commands (`--workers 1`, then `--workers 2`, …) can be put in one table with
`python -m bench.scenario_d --report results.jsonl`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

GROUPS = ("workers", "postgres", "bench", "sandboxes")
HEADER = (
    "| workers | connections × records | initial sync | records/s | changes | p50 | p99 "
    "| passes | DB time / pass | commits / pass "
    "| cores busy in the initial sync: workers / PostgreSQL / bench + sandboxes / others "
    "| load avg before→peak |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)
Run = dict[str, Any]


def line(run: Run) -> str:
    cpu = run["initial_cpu"]
    return (
        f"| {run['workers']} | {run['connections']} × {run['records']} | "
        f"{run['initial_seconds']:.1f} s | {run['records_per_second']:.0f} | "
        f"{run['changes']} | {run['latency_p50']:.2f} s | {run['latency_p99']:.2f} s | "
        f"{run['passes']} | {run['db_ms_per_pass']:.1f} ms | {run['commits_per_pass']:.1f} | "
        f"{cpu['cores_workers']:.2f} / {cpu['cores_postgres']:.2f} / "
        f"{cpu['cores_bench'] + cpu['cores_sandboxes']:.2f} / {cpu['cores_others']:.2f} | "
        f"{cpu['load_before']:.2f}→{cpu['load_peak']:.2f} |"
    )


def cpu_line(run: Run, phase: str) -> str:
    cpu = run[f"{phase}_cpu"]
    groups = ", ".join(f"{g} {cpu[f'cores_{g}']:.2f}" for g in GROUPS)
    shared = "SHARED" if cpu["cores_others"] > 0.2 else "alone"
    return (
        f"- {run['workers']} worker(s), {phase.replace('initial', 'initial sync')}: cores busy: "
        f"{groups}; others {cpu['cores_others']:.2f} of {run['cores']} ({shared}); "
        f"load {cpu['load_before']:.2f} before, {cpu['load_peak']:.2f} peak"
    )


def ceiling(run: Run) -> str:
    """What the machine's cores allow at this run's CPU cost per record (the initial sync:
    every group's CPU, workers + PostgreSQL + bench + sandboxes, per record synced)."""
    cpu = run["initial_cpu"]
    ours = sum(cpu[f"cores_{g}"] for g in GROUPS) * run["initial_seconds"]
    total = run["connections"] * run["records"]
    per_record_ms = 1000 * ours / total
    parts = ", ".join(
        f"{g} {1000 * cpu[f'cores_{g}'] * run['initial_seconds'] / total:.2f}" for g in GROUPS
    )
    most = run["cores"] / (ours / total)
    return (
        f"- {run['workers']} worker(s): {per_record_ms:.2f} ms of CPU per record ({parts}); "
        f"all {run['cores']} cores at that cost: at most {most:.0f} records/s "
        f"({most / run['records_per_second']:.2f}× this run)"
    )


def report(runs: Sequence[Run]) -> str:
    if not runs:
        return "no runs"
    lines = [HEADER, *(line(run) for run in runs), ""]
    for run in runs:
        expected = run["connections"] * run["records"]
        if run.get("synced", expected) != expected:
            lines.append(
                f"- **{run['workers']} worker(s): only {run['synced']} of {expected} records were "
                "in QBO after the initial sync** (its records/s is not valid)"
            )
    for run in runs:
        lines += [cpu_line(run, "initial"), cpu_line(run, "stream")]
    lines += ["", "CPU bound (the initial sync):"]
    lines += [ceiling(run) for run in runs]
    base = runs[0]
    lines.append("")
    for run in runs[1:]:
        ratio = run["records_per_second"] / base["records_per_second"]
        lines.append(
            f"scaling {base['workers']} → {run['workers']} workers (records/s of the initial "
            f"sync): {ratio:.2f}×"
        )
    return "\n".join(lines)


def load(path: Path) -> list[Run]:
    """The runs of a `--json` file, by worker count (the last run of each count wins)."""
    runs: dict[int, Run] = {}
    for text in path.read_text().splitlines():
        if text.strip():
            run = json.loads(text)
            if run.get("scenario") == "d":
                runs[int(run["workers"])] = run
    return [runs[w] for w in sorted(runs)]
