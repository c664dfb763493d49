"""A service that stops answering, seen by a user (both sandboxes over real HTTP): while
QuickBooks answers HTTP 500, every pass finishes with its rules failed as a whole and
records nothing; the overview, the Connections page, the records page and `/api/status`
say that syncing fails, since when and why, until a pass goes through again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ledgerbridge.runtime.runner import run_pass
from ledgerbridge.store import RecordStatus
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.pages.common import DashboardContext
from tests.integration.conftest import contacts_rule
from tests.integration.harness import Lab
from tests.support.signin import BASE_URL, sign_in

CONTACTS = ObjectPair.CONTACTS_CUSTOMERS
BANNER = "Syncing is failing: QuickBooks is not answering (HTTP 500) since"


@pytest.fixture
async def dashboard(lab: Lab) -> AsyncIterator[tuple[DashboardContext, httpx.AsyncClient]]:
    ctx = DashboardContext(lab.store)
    transport = httpx.ASGITransport(app=create_web_app(lab.store, dashboard=ctx))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        await sign_in(client, lab.store)
        yield ctx, client


async def _pass(lab: Lab, ctx: DashboardContext) -> None:
    """One pass of the runtime, told to the dashboard as the runtime tells it."""
    report = await run_pass(lab.engine())
    ctx.on_pass(lab.connection_id, None, report)


async def _faults(lab: Lab, rate_500: float) -> None:
    url = f"{lab.qbo_url}/_sandbox/config"
    response = await lab.http.patch(url, json={"faults": {"rate_500": rate_500}})
    assert response.status_code == 200, response.text


async def _status(client: httpx.AsyncClient) -> dict[str, object]:
    answer = await client.get("/api/status")  # signed in: the session is enough
    assert answer.status_code == 200, answer.text
    (connection,) = answer.json()["connections"]
    sync: dict[str, object] = connection["sync"]
    return sync


async def test_a_failing_service_is_shown_until_a_pass_goes_through(
    lab: Lab, dashboard: tuple[DashboardContext, httpx.AsyncClient]
) -> None:
    ctx, client = dashboard
    lab.save_rule(contacts_rule())
    await lab.hs_create("contacts", email="first@x.io", firstname="First")
    await _pass(lab, ctx)
    assert len(lab.links(CONTACTS)) == 1
    overview = (await client.get("/")).text
    assert "Syncing is failing" not in overview and "— finished" in overview

    await _faults(lab, 1.0)
    await lab.hs_create("contacts", email="new@x.io", firstname="New")
    for _ in range(3):
        await _pass(lab, ctx)
    assert len(lab.links(CONTACTS)) == 1  # nothing written, and nothing lost (below)

    for path in ("/", "/connections", "/records?q=new%40x.io"):
        page = (await client.get(path)).text
        assert BANNER in page, path
        assert "the last 3 passes failed" in page, path
        assert "nothing is lost" in page, path
        assert "service_unavailable: QBO 10000" in page, path  # the technical detail too
    overview = (await client.get("/")).text
    assert 'data-sync="failing">Sync failing</span>' in overview
    assert '— <span class="failed">failed</span>' in overview
    sync = await _status(client)
    assert sync["state"] == "failing" and sync["failed_passes_in_row"] == 3
    assert sync["error"] == {
        "service": "QuickBooks",
        "category": "service_unavailable",
        "title": "The service is unavailable",
        "http_status": 500,
        "detail": sync["error"]["detail"],  # type: ignore[index]
    }
    assert str(sync["summary"]).startswith("QuickBooks is not answering (HTTP 500) since")

    await _faults(lab, 0.0)
    await _pass(lab, ctx)  # QuickBooks answers again: the waiting contact syncs
    assert len(lab.links(CONTACTS)) == 2
    new = [r for r in lab.records(CONTACTS) if r.label == "new@x.io"]
    assert new and all(r.status is RecordStatus.SYNCED for r in new)
    for path in ("/", "/connections", "/records?q=new%40x.io"):
        page = (await client.get(path)).text
        assert "Syncing is failing" not in page and "Sync failing" not in page, path
    assert "— finished" in (await client.get("/connections")).text
    sync = await _status(client)
    assert sync["state"] == "ok" and sync["failed_passes_in_row"] == 0
    assert sync["error"] is None and sync["failing_since"] is None
