"""The busiest stretch per API from the request traces (bench/busiest.py)."""

from __future__ import annotations

from pathlib import Path

from bench.busiest import Window, budget_windows, busiest


def test_busiest_counts_the_fullest_half_open_window() -> None:
    assert busiest([], 60) == 0
    assert busiest([0.0, 10.0, 59.9, 60.0, 61.0], 60) == 4  # [10, 70) holds 4
    assert busiest([5.0, 0.0, 1.0], 1) == 1  # [0, 1) excludes 1.0


def test_a_run_shorter_than_the_window_is_scaled_to_its_pace() -> None:
    full = Window("QBO requests", 300, 500, 60, 75)
    assert full.share == full.scaled == 0.6
    short = Window("QBO requests", 100, 500, 60, 20)
    assert short.share == 0.2 and abs(short.scaled - 0.6) < 1e-9
    assert "60 % at this pace" in short.describe()


def test_windows_from_the_traces(tmp_path: Path) -> None:
    rows = [
        f"{t:.3f}\t0.050\t200\t{kind}\tq"
        for t, kind in [
            (0.0, "GET /v3/company/{id}/cdc"),
            (1.0, "POST /v3/company/{id}/batch"),
            (30.0, "GET /v3/company/{id}/cdc"),
            (60.5, "POST /v3/company/{id}/batch"),
            (62.0, "POST /v3/company/{id}/customer"),
        ]
    ]
    (tmp_path / "qbo-requests.tsv").write_text("\n".join(rows) + "\n")
    hubspot = [
        f"{0.1 * i:.3f}\t0.050\t200\tPOST /crm/v3/objects/contacts/search\t" for i in range(150)
    ]
    (tmp_path / "hubspot-requests.tsv").write_text("\n".join(hubspot) + "\n")
    qbo, batches, hs10, hs60 = budget_windows(tmp_path)
    assert (qbo.count, qbo.budget) == (3, 500)  # never all four: 0.0 and 62.0 are 62 s apart
    assert (batches.count, batches.budget) == (2, 40)
    assert (hs10.count, hs10.budget) == (100, 190)
    assert (hs60.count, hs60.budget) == (150, 1140)
