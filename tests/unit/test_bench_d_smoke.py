"""Benchmark scenario (d) runs: two connections, one worker, a second of changes. No timing
assertions: the figures belong in bench/RESULTS.md."""

from __future__ import annotations

import pytest
from bench.scenario_d import main

from tests.support.postgres import postgres_bindir

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_scenario_d_runs_at_tiny_scale(capsys: pytest.CaptureFixture[str]) -> None:
    if postgres_bindir() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    args = ["--connections", "2", "--records", "3", "--workers", "1", "--seconds", "1"]
    assert main([*args, "--rate", "2", "--concurrency", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    row = next(line for line in table if line.startswith("| 1 | 2 × 3 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert int(cells[4]) == 2  # both changes became visible
    assert int(cells[7]) >= 3  # an initial pass of each connection, one per change at most
