"""A pass is visible (issue 19, finding 4): one structured log line per pass and per rule,
and the Prometheus series at `/metrics`, over both sandboxes and a real pass."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from ledgerbridge.runtime.observe import PassObserver
from ledgerbridge.runtime.runner import EngineRunner
from ledgerbridge.settings import Settings
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.metrics import Metrics, metrics_router
from tests.integration.conftest import contacts_rule
from tests.integration.harness import Lab
from tests.support.signin import BASE_URL, api_token


def _runner(lab: Lab, metrics: Metrics) -> EngineRunner:
    with lab.store.begin() as tx:
        row = tx.get_connection(lab.connection_id)
        assert row is not None
        options = {**row.options, "sandbox": True, "static_token": "sandbox"}
        tx.update_connection(lab.connection_id, options=options)
    return EngineRunner(lab.store, Settings(), observer=PassObserver(metrics))


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_pass_is_logged_per_rule_and_counted_in_the_metrics(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    lab.save_rule(contacts_rule())
    await lab.hs_create("contacts", email="a@x.io", firstname="Ann")
    await lab.hs_create("contacts", email="b@x.io", firstname="Bo")
    metrics = Metrics()
    runner = _runner(lab, metrics)
    cid = str(lab.connection_id)
    try:
        with caplog.at_level(logging.INFO, logger="ledgerbridge.pass"):
            first_report = await runner(lab.connection_id)
            second_report = await runner(lab.connection_id)
    finally:
        await runner.aclose()

    # What the runtime paces on: the QBO writes of the plan and the QBO reads sent.
    assert (first_report.qbo_writes, second_report.qbo_writes) == (2, 0)
    assert first_report.qbo_reads >= 1 and second_report.qbo_reads >= 1
    rules = [r.getMessage() for r in caplog.records if "event=pass_rule" in r.getMessage()]
    first = rules[0]
    assert f"connection={cid} rule=contacts_customers created=2 " in first
    assert "failed=0" in first and "retried=0" in first and "duration_ms=" in first
    assert re.search(r"cursor_hubspot=start->\S+", first)
    assert "cursor_hubspot=-" in rules[1]  # nothing new: the cursor did not move
    passes = [r.getMessage() for r in caplog.records if "event=pass " in r.getMessage()]
    assert len(passes) == 2 and f"connection={cid} outcome=ok" in passes[0]
    assert re.search(r"requests_qbo=[1-9]", passes[0]) and "throttled_qbo=0" in passes[0]

    app = create_web_app(lab.store, routers=[metrics_router(metrics)])
    token = {"Authorization": f"Bearer {api_token(lab.store)}"}  # /metrics needs a token
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, headers=token
    ) as client:
        assert (await client.get("/metrics", headers={"Authorization": ""})).status_code == 401
        response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert sample(text, "ledgerbridge_passes_total", connection=cid, outcome="ok") == 2
    created = {"connection": cid, "rule": "contacts_customers", "outcome": "created"}
    assert sample(text, "ledgerbridge_records_total", **created) == 2
    assert sample(text, "ledgerbridge_api_requests_total", connection=cid, api="qbo") > 0
    assert sample(text, "ledgerbridge_api_requests_total", connection=cid, api="hubspot") > 0
    assert sample(text, "ledgerbridge_api_throttled_total", connection=cid, api="qbo") == 0
    assert sample(text, "ledgerbridge_pass_duration_seconds_count", connection=cid) == 2
    lag = {"connection": cid, "rule": "contacts_customers"}
    assert sample(text, "ledgerbridge_sync_lag_seconds_count", **lag) == 2
    left = sample(text, "ledgerbridge_budget_remaining", connection=cid, api="qbo", window="minute")
    assert 0 < left < 500
