"""`ledgerbridge run` (runtime = "distributed") and `ledgerbridge worker` as processes — the
commands compose.yaml runs — on a real PostgreSQL server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from ledgerbridge.qbo.webhooks import sign
from tests.e2e.processes import healthy, interrupt, ledgerbridge, wait_for
from tests.integration.distributed.conftest import fleet_of
from tests.support.servers import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
WEB = ["run"]
WORKER = ["worker", "--concurrency", "2"]
VERIFIER = "compose-verifier"


def compose_commands() -> dict[str, list[str]]:
    text = (ROOT / "compose.yaml").read_text()
    found = re.findall(r"^  (\w+):\n(?:    .*\n)*?    command: (\[.*\])$", text, re.MULTILINE)
    return {service: json.loads(command) for service, command in found}


def test_compose_runs_the_commands_these_tests_run() -> None:
    assert compose_commands() == {"web": WEB, "worker": WORKER}


def test_run_serves_webhooks_and_workers_pass(postgres_url: str, tmp_path: Path) -> None:
    with fleet_of(postgres_url, 1) as fleet:
        (cid,) = fleet.ids
        fleet.create_contact(cid, "from-hubspot@example.test")
        port = free_port()
        env = {
            **fleet.env(),
            "LEDGERBRIDGE_PORT": str(port),
            "LEDGERBRIDGE_QBO__WEBHOOK_VERIFIER_TOKEN": VERIFIER,
        }
        with (
            ledgerbridge(WEB, tmp_path / "web.log", env) as web,
            ledgerbridge(WORKER, tmp_path / "worker.log", env) as worker,
        ):
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: healthy(f"{base}/healthz"), what="the web process", process=web)
            # At start, the web process asks one pass of every active connection.
            wait_for(
                lambda: "from-hubspot@example.test" in fleet.customer_emails(cid),
                what="the first pass",
                process=worker,
            )
            fleet.create_customer(cid, "from-qbo@example.test")
            entity = {"name": "Customer", "id": "1", "operation": "Create", "lastUpdated": "x"}
            body = json.dumps(
                {"eventNotifications": [
                    {"realmId": fleet.realms[cid], "dataChangeEvent": {"entities": [entity]}}
                ]}
            ).encode()  # fmt: skip
            response = httpx.post(
                f"{base}/webhooks/qbo",
                content=body,
                headers={"intuit-signature": sign(body, VERIFIER)},
                timeout=10,
            )
            assert response.status_code == 200 and response.json()["woken"] == [cid]
            wait_for(
                lambda: "from-qbo@example.test" in fleet.contact_emails(cid),
                what="the webhook's pass",
                process=worker,
            )
            assert interrupt(worker) == 0, worker.output()[-3000:]
            assert interrupt(web) == 0, web.output()[-3000:]
            assert "Stopped." in worker.output() and "Stopped." in web.output()
