"""`ledgerbridge sandbox` serves both emulators; checked as a real subprocess over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.support.servers import free_port


def _wait_for(url: str, headers: dict[str, str], deadline: float) -> httpx.Response:
    while True:
        try:
            return httpx.get(url, headers=headers, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_sandbox_serves_both_and_stops_on_sigint() -> None:
    hubspot_port, qbo_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledgerbridge.cli",
            "sandbox",
            "--seed",
            "1",
            "--hubspot-port",
            str(hubspot_port),
            "--qbo-port",
            str(qbo_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        auth = {"Authorization": "Bearer sandbox"}
        deadline = time.monotonic() + 30
        qbo = _wait_for(
            f"http://127.0.0.1:{qbo_port}/v3/company/1000000001/query"
            "?query=select count(*) from Customer",
            auth,
            deadline,
        )
        assert qbo.status_code == 200
        assert qbo.json()["QueryResponse"]["totalCount"] > 0
        hubspot = _wait_for(
            f"http://127.0.0.1:{hubspot_port}/crm/v3/objects/contacts?limit=1", auth, deadline
        )
        assert hubspot.status_code == 200
        assert len(hubspot.json()["results"]) == 1
        unauthorized = httpx.get(f"http://127.0.0.1:{hubspot_port}/crm/v3/objects/contacts")
        assert unauthorized.status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr.decode()
    assert b"Ctrl-C stops" in stderr
