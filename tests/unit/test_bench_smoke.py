"""The benchmark (`python -m bench.run`) runs: scenario (b) at a tiny scale, no latency.
No timing assertions: the figures live in bench/RESULTS.md."""

from __future__ import annotations

from pathlib import Path

from bench.run import run_one
from bench.scenarios import render


def test_scenario_b_runs_at_tiny_scale(tmp_path: Path) -> None:
    result = run_one("b", 5, 0.0, workdir=tmp_path)

    assert result.ok, render(result)
    assert result.synced_records == 6  # 5 invoices + 1 customer
    assert result.hubspot_requests > 0 and result.qbo_requests > 0
    assert result.peak_rss_mb > 0
    assert "wall time" in render(result)
