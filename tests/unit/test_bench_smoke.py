"""The benchmark (`python -m bench.run`) runs: scenario (b) at a tiny scale, no latency, with
each sandbox in its own process. No timing assertions: the figures live in bench/RESULTS.md."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bench.harness import SandboxProcess, environment
from bench.run import run_one
from bench.scenarios import render


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _trace_rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines() if line]


def test_scenario_b_runs_at_tiny_scale(tmp_path: Path) -> None:
    result = run_one("b", 5, 0.0, workdir=tmp_path)

    assert result.ok, render(result)
    assert result.problems == []  # every invoice read back with its contact, lines, status
    # Records written: 5 invoices, 1 customer and the invoices' lines.
    assert result.synced_records == 5 + 1 + result.sizes.lines
    assert result.bound is not None and 0 <= result.efficiency <= 1  # no latency: bound 0
    assert result.load is not None and result.load.seconds > 0
    assert result.hubspot_requests > 0 and result.qbo_requests > 0
    assert result.peak_rss_mb > 0
    assert "wall time" in render(result)
    # The meters ran in the sandbox processes: their traces hold exactly the counted API
    # requests, and none of the bench's own (seeding, counters, trace) calls.
    hubspot = _trace_rows(tmp_path / "hubspot-requests.tsv")
    qbo = _trace_rows(tmp_path / "qbo-requests.tsv")
    assert (len(hubspot), len(qbo)) == (result.hubspot_requests, result.qbo_requests)
    assert all(len(row) == 5 and row[2].isdigit() for row in hubspot + qbo)
    endpoints = {row[3] for row in hubspot + qbo}
    assert any(e.startswith("POST /v3/company/{id}/batch") for e in endpoints)
    assert not any("/_bench" in e for e in endpoints)
    assert sum(result.by_kind.values()) == result.hubspot_requests + result.qbo_requests
    assert (tmp_path / "hubspot-sandbox.log").exists() and (tmp_path / "qbo-sandbox.log").exists()


def test_the_naive_peer_runs_on_the_same_data_and_passes_the_same_check(tmp_path: Path) -> None:
    result = run_one("a", 3, 0.0, workdir=tmp_path, naive=True)

    assert result.ok, render(result)
    # One request per record and per association: 1 contact, 3 products, 3 invoices with
    # their contact association and status, and each line with its association.
    lines = result.sizes.lines
    assert result.hubspot_requests == 1 + 3 + 3 * 3 + 2 * lines
    assert result.qbo_requests == 3  # customers, items, invoices: a query each


def test_sandbox_processes_serve_the_bench_and_always_stop(tmp_path: Path) -> None:
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="boom"), environment(tmp_path, 0.0) as env:
        sandboxes: list[SandboxProcess] = [env.hubspot, env.qbo]
        pids = [s.pid for s in sandboxes]
        assert all(_alive(pid) for pid in pids) and os.getpid() not in pids
        assert env.hubspot.emails() == set() and env.qbo.emails() == set()
        assert env.hubspot.change(7) == "hs7@steady.example"
        assert env.qbo.change(7) == "qb7@steady.example"
        assert env.hubspot.emails("@steady.example") == {"hs7@steady.example"}
        assert env.qbo.emails("@steady.example") == {"qb7@steady.example"}
        assert env.hubspot.counts()["contacts"] == 1
        assert env.hubspot.meter().requests == 0  # the bench endpoints are not metered
        raise RuntimeError("boom")
    assert pids and not any(_alive(pid) for pid in pids)
