"""The dashboard benchmark (`python -m bench.dashboard`) runs at a tiny size; no timing is
asserted (the figures are the benchmark's to report)."""

from __future__ import annotations

from pathlib import Path

from bench.dashboard import PAGES, run


def test_the_dashboard_bench_serves_every_page_at_tiny_size(tmp_path: Path) -> None:
    result = run(records=120, failures=20, repeat=1, workdir=tmp_path)
    assert set(result.seconds) == set(PAGES)
    assert all(len(times) == 1 for times in result.seconds.values())
    assert "record view, page 500" in result.render()
