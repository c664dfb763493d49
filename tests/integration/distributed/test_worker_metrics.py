"""A worker's `/metrics` (`ledgerbridge worker --metrics-port`): its passes show there, with
the same series as the web app's `/metrics`, behind the same API-token protection."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from ledgerbridge.runtime.distributed.worker import MetricsEndpoint, open_distributed, run_worker
from ledgerbridge.store.accounts import TokenKind, create_token
from ledgerbridge.web.auth import hash_token, new_token
from tests.e2e.processes import ledgerbridge, wait_for
from tests.integration.distributed.conftest import OverlapDetector, eventually, fleet_of
from tests.support.servers import free_port

pytestmark = pytest.mark.postgres


def _series(body: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition, None when absent."""
    for line in body.splitlines():
        if line.startswith(name + "{"):
            head, _, value = line.rpartition(" ")
            found = dict(
                part.split("=", 1) for part in head[len(name) + 1 : -1].split(",") if "=" in part
            )
            if {k: v.strip('"') for k, v in found.items()} == labels:
                return float(value)
    return None


async def test_a_workers_pass_shows_in_its_metrics_behind_an_api_token(
    postgres_url: str,
) -> None:
    with fleet_of(postgres_url, 1) as fleet:
        (cid,) = fleet.ids
        fleet.create_contacts(cid, ["m1@example.test", "m2@example.test"])
        token = new_token()
        with fleet.store.begin() as tx:
            create_token(tx, TokenKind.API, "prometheus", hash_token(token))
        urls: list[str] = []
        detector = OverlapDetector()
        worker = asyncio.create_task(
            run_worker(
                fleet.settings,
                concurrency=2,
                wrap_runner=detector.wrap,
                install_signal_handlers=False,
                metrics=MetricsEndpoint("127.0.0.1", 0, started=urls.append),
            )
        )
        queue = await open_distributed(fleet.settings)
        try:
            await queue.deferrer.request(cid)
            await eventually(fleet.settled, "the pass")
            (url,) = urls
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                refused = await http.get("/metrics")
                forged = await http.get("/metrics", headers={"Authorization": "Bearer lbt_x"})
                rebound = await http.get(
                    "/metrics",
                    headers={"Authorization": f"Bearer {token}", "Host": "evil.example"},
                )
                answer = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
                health = await http.get("/healthz")
        finally:
            await queue.aclose()
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
    assert refused.status_code == 401 and forged.status_code == 401
    assert rebound.status_code == 400
    assert health.status_code == 200
    assert answer.status_code == 200, answer.text
    body = answer.text
    assert detector.passes[cid] == 1
    passes = _series(body, "ledgerbridge_passes_total", connection=str(cid), outcome="ok")
    assert passes == 1.0
    created = _series(
        body,
        "ledgerbridge_records_total",
        connection=str(cid),
        rule="contacts_customers",
        outcome="created",
    )
    assert created == 2.0
    requests = _series(body, "ledgerbridge_api_requests_total", connection=str(cid), api="qbo")
    assert requests is not None and requests > 0
    assert f'ledgerbridge_pass_duration_seconds_count{{connection="{cid}"}} 1.0' in body


@pytest.mark.slow
def test_the_worker_command_serves_metrics_and_refuses_a_port_in_use(
    postgres_url: str, tmp_path: Path
) -> None:
    with fleet_of(postgres_url, 1) as fleet:
        port = free_port()
        with ledgerbridge(
            ["worker", "--metrics-port", str(port)], tmp_path / "worker.log", fleet.env()
        ) as worker:
            url = f"http://127.0.0.1:{port}"
            wait_for(
                lambda: f"Metrics: {url}/metrics" in worker.output(),
                what="/metrics",
                process=worker,
            )
            assert httpx.get(f"{url}/metrics", timeout=10).status_code == 401
            with socket.socket() as taken:  # a second worker on the same port
                taken.bind(("127.0.0.1", 0))
                taken.listen()
                busy = str(taken.getsockname()[1])
                with ledgerbridge(
                    ["worker", "--metrics-port", busy], tmp_path / "second.log", fleet.env()
                ) as second:
                    assert second.popen.wait(timeout=60) != 0
                    output = second.output()
    assert f"cannot serve the worker's /metrics on 127.0.0.1:{busy}" in output
    assert "--metrics-port" in output and "Traceback" not in output
