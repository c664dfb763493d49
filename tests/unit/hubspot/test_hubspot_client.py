"""HubSpotClient over httpx.MockTransport: retries, budgets, auth, paging, properties."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest

from ledgerbridge.hubspot.errors import ConflictError
from ledgerbridge.hubspot.session import HubSpotLimits
from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    SyncError,
    TerminalError,
    TransientError,
)
from ledgerbridge.transport.oauth import OAuthTokenManager
from ledgerbridge.transport.retry import RetryPolicy
from ledgerbridge.transport.tokens import MemoryTokenStore, TokenSet
from tests.unit.hubspot.hs_fakes import FakeTime, body_of, make_client

OK = {"id": "1", "properties": {"name": "x"}, "archived": False}


async def test_429_waits_for_retry_after_then_succeeds() -> None:
    time = FakeTime()
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.now)
        if len(calls) == 1:
            body = {
                "status": "error",
                "errorType": "RATE_LIMIT",
                "policyName": "TEN_SECONDLY_ROLLING",
            }
            return httpx.Response(429, json=body, headers={"Retry-After": "7"})
        return httpx.Response(200, json=OK)

    client, http = make_client(handler, time)
    async with http:
        record = await client.get("products", "1")
    assert record.properties["name"] == "x"
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 7  # Retry-After honoured, in virtual time
    assert client.requests == 2


async def test_5xx_timeouts_and_lost_connections_are_retried_with_backoff() -> None:
    time = FakeTime()
    script: list[Any] = [
        httpx.Response(500, json={"category": "INTERNAL_ERROR", "message": "boom"}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.Response(503),
        httpx.Response(200, json=OK),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, httpx.Response)
        return step

    client, http = make_client(handler, time)
    async with http:
        await client.get("contacts", "1")
    assert script == []
    assert time.sleeps == [0.5, 1.0, 2.0, 4.0]  # exponential (jitter off)


async def test_terminal_errors_are_not_retried() -> None:
    time = FakeTime()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(400, json={"category": "VALIDATION_ERROR", "message": "bad"})

    client, http = make_client(handler, time)
    async with http:
        with pytest.raises(TerminalError) as info:
            await client.create("deals", {"dealname": "x"})
    assert info.value.category is ErrorCategory.VALIDATION
    assert len(seen) == 1


async def test_retries_give_up_with_the_transient_error() -> None:
    time = FakeTime()
    client, http = make_client(
        lambda r: httpx.Response(502), time, retry=RetryPolicy(max_attempts=3, jitter=False)
    )
    async with http:
        with pytest.raises(TransientError):
            await client.get("deals", "1")
    assert client.requests == 3


async def test_burst_budget_spends_190_per_10_seconds_without_a_single_429() -> None:
    time = FakeTime()
    stamps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(time.now)
        window = [s for s in stamps if s > time.now - 10]
        if len(window) > 190:
            return httpx.Response(429, json={"errorType": "RATE_LIMIT"})
        return httpx.Response(200, json=OK)

    client, http = make_client(handler, time)
    async with http:
        for _ in range(400):
            await client.get("products", "1")
    assert len(stamps) == 400  # no retries: never limited
    assert stamps[189] == stamps[0]
    assert stamps[190] >= stamps[0] + 10
    assert stamps[380] >= stamps[0] + 20


async def test_rate_limit_headers_tighten_the_budget() -> None:
    time = FakeTime()
    stamps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(time.now)
        return httpx.Response(200, json=OK, headers={"X-HubSpot-RateLimit-Remaining": "0"})

    client, http = make_client(handler, time)
    async with http:
        await client.get("products", "1")
        await client.get("products", "1")
    assert stamps[1] - stamps[0] >= 10  # the server said the window was spent


async def test_search_has_its_own_budget_of_four_per_second() -> None:
    time = FakeTime()
    searches: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/search"):
            searches.append(time.now)
            return httpx.Response(200, json={"total": 0, "results": []})
        return httpx.Response(200, json=OK)

    client, http = make_client(handler, time)
    async with http:
        for _ in range(9):
            await client.search_page("deals", [], [], [])
        before = time.now
        await client.get("deals", "1")  # other calls do not wait for the search budget
        assert time.now == before
    assert searches[3] == searches[0]
    assert searches[4] >= searches[0] + 1
    assert searches[8] >= searches[0] + 2


async def test_daily_quota_exhausted_is_not_waited_for_in_line() -> None:
    time = FakeTime()
    body = {"errorType": "RATE_LIMIT", "policyName": "DAILY", "message": "daily"}
    client, http = make_client(
        lambda r: httpx.Response(429, json=body, headers={"Retry-After": "40000"}), time
    )
    async with http:
        with pytest.raises(TransientError) as info:
            await client.get("deals", "1")
    assert info.value.category is ErrorCategory.RATE_LIMITED
    assert client.requests == 1


async def test_401_refreshes_once_and_a_rotated_refresh_token_is_persisted() -> None:
    time = FakeTime()
    wall = time.wall()
    store = MemoryTokenStore(TokenSet("old", "r1", wall + dt.timedelta(minutes=30)))
    live = {"access": "new-1", "refresh": "r1"}
    issued = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal issued
        if request.url.path == "/oauth/v1/token":
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            assert form["client_id"] == "id" and form["client_secret"] == "secret"
            if form.get("refresh_token") != live["refresh"]:
                return httpx.Response(400, json={"status": "BAD_REFRESH_TOKEN"})
            issued += 1
            live["access"], live["refresh"] = f"a{issued}", f"r{issued + 1}"
            return httpx.Response(
                200,
                json={
                    "access_token": live["access"],
                    "refresh_token": live["refresh"],
                    "expires_in": 1800,
                },
            )
        if request.headers["Authorization"] != f"Bearer {live['access']}":
            return httpx.Response(401, json={"category": "INVALID_AUTHENTICATION"})
        return httpx.Response(200, json=OK)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    tokens = OAuthTokenManager(
        http=http,
        token_url="https://api.test/oauth/v1/token",
        client_id="id",
        client_secret="secret",
        store=store,
        client_auth="body",
        clock=time.wall,
    )
    client, _ = make_client(handler, time, tokens=tokens)
    client.session.http = http
    async with http:
        await client.get("contacts", "1")
        assert store.tokens is not None and store.tokens.refresh_token == "r2"
        # the refresh token of the store is the only one that still works
        with pytest.raises(AuthenticationError):
            live["refresh"] = "revoked"
            live["access"] = "nobody"
            await client.get("contacts", "1")


async def test_list_all_follows_after_and_refuses_a_repeated_cursor() -> None:
    time = FakeTime()
    pages = {
        None: {"results": [OK], "paging": {"next": {"after": "2"}}},
        "2": {"results": [{**OK, "id": "2"}], "paging": {"next": {"after": "3"}}},
        "3": {"results": [{**OK, "id": "3"}]},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["limit"] == "100"
        return httpx.Response(200, json=pages[request.url.params.get("after")])

    client, http = make_client(handler, time)
    async with http:
        ids = [r.id async for r in client.list_all("contacts", ["email"])]
    assert ids == ["1", "2", "3"]

    loop = {"results": [OK], "paging": {"next": {"after": "2"}}}
    client, http = make_client(lambda r: httpx.Response(200, json=loop), time)
    async with http:
        with pytest.raises(TerminalError, match="repeated"):
            async for _ in client.list_all("contacts"):
                pass


async def test_ensure_property_reads_first_and_creates_once() -> None:
    time = FakeTime()
    defined: dict[str, dict[str, Any]] = {}
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        path = request.url.path
        if path.endswith("/groups"):
            return httpx.Response(200, json={"results": [{"name": "invoiceinformation"}]})
        if request.method == "GET":
            name = path.rsplit("/", 1)[-1]
            if name in defined:
                return httpx.Response(200, json=defined[name])
            return httpx.Response(404, json={"category": "OBJECT_NOT_FOUND", "message": "no"})
        body = body_of(request)
        if body["name"] in defined:
            return httpx.Response(409, json={"category": "CONFLICT", "message": "exists"})
        defined[body["name"]] = body
        return httpx.Response(201, json=body)

    client, http = make_client(handler, time)
    async with http:
        first = await client.ensure_unique_property("invoices")
        second = await client.ensure_unique_property("invoices")
        with pytest.raises(TerminalError, match="hasUniqueValue"):
            await client.ensure_property("invoices", "ledgerbridge_qbo_id", "x")
    assert first == second
    assert first["hasUniqueValue"] is True
    assert first["groupName"] == "invoiceinformation"
    assert calls == [
        "GET /crm/v3/properties/invoices/ledgerbridge_qbo_id",
        "GET /crm/v3/properties/invoices/groups",
        "POST /crm/v3/properties/invoices",
        "GET /crm/v3/properties/invoices/ledgerbridge_qbo_id",
        "GET /crm/v3/properties/invoices/ledgerbridge_qbo_id",
    ]


async def test_unique_property_ready_sets_up_each_type_once_for_callers_at_once() -> None:
    """Callers at once (a backfill's contacts and products, the set-up done ahead) wait
    for the first one's set-up instead of repeating it; a set-up that failed is tried
    again by the next caller."""
    time = FakeTime()
    defined: set[str] = set()
    calls: list[str] = []
    failing = {"products"}

    def handler(request: httpx.Request) -> httpx.Response:
        kind = request.url.path.split("/")[4]
        calls.append(f"{request.method} {kind}")
        if kind in failing:
            return httpx.Response(400, json={"category": "VALIDATION_ERROR", "message": "no"})
        if request.url.path.endswith("/groups"):
            return httpx.Response(200, json={"results": [{"name": f"{kind}information"}]})
        if request.method == "GET":
            if kind in defined:
                return httpx.Response(200, json={"name": "x", "hasUniqueValue": True})
            return httpx.Response(404, json={"category": "OBJECT_NOT_FOUND", "message": "no"})
        defined.add(kind)
        return httpx.Response(201, json={**body_of(request)})

    client, http = make_client(handler, time)
    async with http:
        await asyncio.gather(*(client.unique_property_ready(k) for k in ["contacts"] * 3))
        await client.unique_property_ready("contacts")
        for _ in range(2):
            with pytest.raises(SyncError):
                await client.unique_property_ready("products")
        failing.clear()
        await client.unique_property_ready("products")
        await client.unique_property_ready("products")
    assert calls == [
        "GET contacts",
        "GET contacts",
        "POST contacts",
        "GET products",
        "GET products",
        "GET products",
        "GET products",
        "POST products",
    ]


async def test_upsert_by_unique_sends_the_key_as_property_and_chunks_by_100() -> None:
    time = FakeTime()
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        sizes.append(len(body["inputs"]))
        results = []
        for item in body["inputs"]:
            assert item["idProperty"] == "ledgerbridge_qbo_id"
            assert item["properties"]["ledgerbridge_qbo_id"] == item["id"]
            results.append(
                {
                    "id": "9" + item["id"],
                    "properties": dict(item["properties"]),
                    "new": True,
                    "objectWriteTraceId": item["objectWriteTraceId"],
                }
            )
        return httpx.Response(200, json={"status": "COMPLETE", "results": results[::-1]})

    client, http = make_client(handler, time)
    async with http:
        result = await client.upsert_by_unique(
            "invoices", [(str(i), {"hs_currency": "USD"}) for i in range(250)]
        )
    assert sizes == [100, 100, 50]
    assert [item.record.id for item in result.items if item.record] == [
        "9" + str(i) for i in range(250)
    ]
    assert all(item.created for item in result.items)


async def test_conflict_on_create_is_a_conflict_error() -> None:
    time = FakeTime()
    body = {"category": "CONFLICT", "message": "Contact already exists. Existing ID: 51"}
    client, http = make_client(lambda r: httpx.Response(409, json=body), time)
    async with http:
        with pytest.raises(ConflictError) as info:
            await client.create("contacts", {"email": "a@b.c"})
    assert info.value.existing_id == "51"


def test_limits_are_configurable() -> None:
    limits = HubSpotLimits(burst=100, daily=0, search_per_second=5)
    general, search = limits.budgets(lambda: 0.0, FakeTime().sleep)
    assert [w.max_requests for w in general.windows] == [100]
    assert [w.max_requests for w in search.windows] == [5]


async def test_an_unlimited_sandbox_s_zero_headers_are_not_an_exhausted_budget() -> None:
    time = FakeTime()
    unlimited = {
        "X-HubSpot-RateLimit-Max": "0",
        "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Secondly": "0",
        "X-HubSpot-RateLimit-Secondly-Remaining": "0",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/search"):
            return httpx.Response(200, json={"total": 0, "results": []}, headers=unlimited)
        return httpx.Response(200, json=OK, headers=unlimited)

    client, http = make_client(handler, time)
    start = time.now
    async with http:
        for _ in range(5):
            await client.get("products", "1")
        for _ in range(4):
            await client.search_page("deals", [], [], [])
    assert time.now == start  # before: ~10 s of waiting after the first answer
    assert client.requests == 9


async def test_a_real_limit_header_with_zero_remaining_still_tightens() -> None:
    time = FakeTime()
    stamps: list[float] = []
    spent = {"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "0"}

    def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(time.now)
        return httpx.Response(200, json=OK, headers=spent)

    client, http = make_client(handler, time)
    async with http:
        await client.get("products", "1")
        await client.get("products", "1")
    assert stamps[1] - stamps[0] >= 10


async def test_a_secondly_429_on_search_pauses_only_searches() -> None:
    time = FakeTime()
    searches: list[float] = []
    body = {"errorType": "RATE_LIMIT", "policyName": "SECONDLY", "message": "secondly"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/search"):
            searches.append(time.now)
            if len(searches) == 1:
                return httpx.Response(429, json=body, headers={"Retry-After": "3"})
            return httpx.Response(200, json={"total": 0, "results": []})
        return httpx.Response(200, json=OK)

    client, http = make_client(handler, time)
    start = time.now
    async with http:
        await client.search_page("deals", [], [], [])
        await client.get("deals", "1")
    assert searches[1] - searches[0] >= 3  # the search itself waited for Retry-After
    # Only the search budget was paused; other requests never were.
    assert client.session.search_budget._paused_until >= start + 3
    assert client.session.budget._paused_until < start
