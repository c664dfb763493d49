"""Benchmark scenario (d) runs: two connections, one worker, a second of changes; its JSON
record gives the same table again (`--report`). No timing assertions: the figures belong
in bench/RESULTS.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.scenario_d import main

from tests.support.postgres import postgres_bindir

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_scenario_d_runs_at_tiny_scale(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if postgres_bindir() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    results = tmp_path / "d.jsonl"
    args = ["--connections", "2", "--records", "3", "--workers", "1", "--seconds", "1"]
    assert main([*args, "--rate", "2", "--concurrency", "2", "--json", str(results)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| 1 | 2 × 3 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert int(cells[4]) == 2  # both changes became visible
    assert int(cells[7]) >= 3  # an initial pass of each connection, one per change at most
    assert "- 1 worker(s), initial sync: cores busy: workers" in out
    (record,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert record["workers"] == 1 and record["changes"] == 2
    assert record["synced"] == 2 * 3  # every seeded contact is a customer in QBO
    assert record["initial_cpu"]["cores_workers"] > 0  # the worker's CPU was read from /proc
    assert main(["--report", str(results)]) == 0
    assert row in capsys.readouterr().out.splitlines()
