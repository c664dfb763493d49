"""requestid: the same requestid gets the original response and nothing runs twice,
including a retry after a 'timeout after commit' over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from ledgerbridge.sandbox.qbo import CompanySettings, FaultSettings, QboSandboxConfig, create_app
from tests.sandbox.qbo.conftest import AUTH, BASE, REALM, Api
from tests.support.servers import serve_in_thread


async def test_same_requestid_returns_original_response(
    api: Api, client: httpx.AsyncClient
) -> None:
    first = await api.post("Customer", {"DisplayName": "Once"}, requestid="abc-1")
    again = await api.post("Customer", {"DisplayName": "Once"}, requestid="abc-1")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    count = await api.query("SELECT COUNT(*) FROM Customer WHERE DisplayName = 'Once'")
    assert count["totalCount"] == 1
    other = await api.post("Customer", {"DisplayName": "Once"}, requestid="abc-2")
    assert other.status_code == 400  # a new requestid runs again: duplicate name
    too_long = await api.post("Customer", {"DisplayName": "Long"}, requestid="x" * 51)
    assert too_long.status_code == 400


def test_retry_after_timeout_after_commit() -> None:
    config = QboSandboxConfig(
        realms={REALM: CompanySettings()},
        faults=FaultSettings(timeout_after_commit_rate=1.0, hang_seconds=5.0, seed=1),
    )
    app = create_app(config)
    sandbox = app.state.sandbox
    with serve_in_thread(app) as url, httpx.Client(base_url=url, headers=AUTH) as http:
        body = {"DisplayName": "Timed Out Tina"}
        with pytest.raises(httpx.ReadTimeout):
            http.post(f"{BASE}/customer", json=body, params={"requestid": "t-1"}, timeout=0.3)
        # The write was committed although the client never saw the answer.
        stored = [
            c
            for c in sandbox.realms[REALM].table("Customer").values()
            if c["DisplayName"] == "Timed Out Tina"
        ]
        assert len(stored) == 1
        retry = http.post(f"{BASE}/customer", json=body, params={"requestid": "t-1"}, timeout=5)
        assert retry.status_code == 200
        assert retry.json()["Customer"]["Id"] == stored[0]["Id"]
        assert (
            len(
                [
                    c
                    for c in sandbox.realms[REALM].table("Customer").values()
                    if c["DisplayName"] == "Timed Out Tina"
                ]
            )
            == 1
        )
        # Without a requestid a retry is a new request (here: a duplicate-name fault).
        with pytest.raises(httpx.ReadTimeout):
            http.post(
                f"{BASE}/item",
                timeout=0.3,
                json={"Name": "Dup item", "Type": "Service", "IncomeAccountRef": {"value": "1"}},
            )
        with pytest.raises(httpx.ReadTimeout):
            http.post(f"{BASE}/customer", json={"DisplayName": "Twice"}, timeout=0.3)
        with pytest.raises(httpx.ReadTimeout):
            http.post(f"{BASE}/customer", json={"DisplayName": "Twice 2"}, timeout=0.3)
        names = {c["DisplayName"] for c in sandbox.realms[REALM].table("Customer").values()}
        assert {"Twice", "Twice 2"} <= names
