from __future__ import annotations

import datetime as dt

import httpx
import pytest

from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    SyncError,
    TerminalError,
    TransientError,
)
from ledgerbridge.transport.budget import RateBudget, Window
from ledgerbridge.transport.http import parse_retry_after, send
from ledgerbridge.transport.retry import RetryPolicy

from .fakes import FakeTime, ten_second_budget


def classify(response: httpx.Response) -> SyncError | None:
    status = response.status_code
    if status < 400:
        return None
    if status == 401:
        return AuthenticationError("refused", status=401)
    if status == 429:
        return TransientError(ErrorCategory.RATE_LIMITED, "slow down", status=429)
    if status >= 500:
        return TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "down", status=status)
    return TerminalError(ErrorCategory.VALIDATION, "bad", status=status)


class Tokens:
    def __init__(self) -> None:
        self.current = 1
        self.invalidations = 0

    async def access_token(self) -> str:
        return f"t{self.current}"

    async def invalidate(self) -> None:
        self.invalidations += 1
        self.current += 1


class Script:
    """Answers requests from a list; an exception instance is raised instead."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(script: Script) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(script), base_url="https://api.test")


POLICY = RetryPolicy(base_delay=1.0, jitter=False)


async def test_success_carries_the_bearer_token_params_and_body() -> None:
    script = Script(httpx.Response(200, json={"ok": True}))
    response = await send(
        client(script),
        "POST",
        "/things",
        tokens=Tokens(),
        classify=classify,
        params={"requestid": "abc"},
        json={"a": 1},
        headers={"Accept": "application/json"},
    )
    assert response.json() == {"ok": True}
    request = script.requests[0]
    assert request.headers["authorization"] == "Bearer t1"
    assert request.url.params["requestid"] == "abc"
    assert request.content == b'{"a":1}'


async def test_timeouts_and_connection_errors_are_retried() -> None:
    time = FakeTime()
    script = Script(
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.Response(503),
        httpx.Response(200, json={}),
    )
    await send(
        client(script),
        "GET",
        "/x",
        tokens=Tokens(),
        classify=classify,
        policy=POLICY,
        sleep=time.sleep,
    )
    assert len(script.requests) == 4
    assert time.sleeps == [1.0, 2.0, 4.0]


async def test_transport_errors_become_transient_errors_when_attempts_run_out() -> None:
    script = Script(httpx.ReadTimeout("slow"))
    with pytest.raises(TransientError) as info:
        await send(
            client(script),
            "GET",
            "/x",
            tokens=Tokens(),
            classify=classify,
            policy=RetryPolicy(max_attempts=1),
        )
    assert info.value.category is ErrorCategory.SERVICE_UNAVAILABLE
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


async def test_a_429_penalizes_the_budget_for_retry_after() -> None:
    time = FakeTime()
    budget = RateBudget([Window(100, 60.0, "minute")], clock=time.clock, sleep=time.sleep)
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200))
    await send(
        client(script),
        "GET",
        "/x",
        tokens=Tokens(),
        classify=classify,
        budget=budget,
        policy=POLICY,
        sleep=time.sleep,
    )
    # the retry loop waits max(backoff 1 s, Retry-After 7 s); the budget pause is then over
    assert time.sleeps == [7.0]
    assert len(script.requests) == 2
    assert budget.used("minute") == 2


async def test_a_429_without_retry_after_uses_the_default_pause() -> None:
    """A 429 the budget predicted (its window is nearly full) is a real throttle."""
    time = FakeTime()
    budget = RateBudget([Window(10, 60.0, "minute")], clock=time.clock, sleep=time.sleep)
    budget.observe(1, "minute")  # the server says 1 request is left
    script = Script(httpx.Response(429), httpx.Response(200))
    await send(
        client(script),
        "GET",
        "/x",
        tokens=Tokens(),
        classify=classify,
        budget=budget,
        policy=POLICY,
        sleep=time.sleep,
        default_retry_after=60.0,
    )
    assert time.sleeps == [60.0]


async def test_a_401_invalidates_the_token_and_retries_once() -> None:
    tokens = Tokens()
    script = Script(httpx.Response(401), httpx.Response(200))
    await send(client(script), "GET", "/x", tokens=tokens, classify=classify, policy=POLICY)
    assert tokens.invalidations == 1
    assert [r.headers["authorization"] for r in script.requests] == ["Bearer t1", "Bearer t2"]


async def test_a_second_401_is_an_authentication_error() -> None:
    tokens = Tokens()
    script = Script(httpx.Response(401), httpx.Response(401))
    with pytest.raises(AuthenticationError):
        await send(client(script), "GET", "/x", tokens=tokens, classify=classify, policy=POLICY)
    assert len(script.requests) == 2


async def test_terminal_errors_are_not_retried() -> None:
    script = Script(httpx.Response(400))
    with pytest.raises(TerminalError):
        await send(client(script), "GET", "/x", tokens=Tokens(), classify=classify)
    assert len(script.requests) == 1


async def test_observe_sees_every_response() -> None:
    time = FakeTime()
    budget = RateBudget([Window(10, 10.0, "ten_s")], clock=time.clock, sleep=time.sleep)

    def observe(response: httpx.Response, budget: RateBudget, sent_at: float) -> None:
        budget.observe(int(response.headers["X-Remaining"]), "ten_s", sent_at=sent_at)

    script = Script(httpx.Response(200, headers={"X-Remaining": "3"}))
    await send(
        client(script),
        "GET",
        "/x",
        tokens=Tokens(),
        classify=classify,
        budget=budget,
        observe=observe,
    )
    assert budget.used("ten_s") == 7


async def test_an_answer_read_late_holds_no_slot_for_our_own_aged_requests() -> None:
    """Our six requests aged out of the window while the seventh's answer waited to be
    read (the event loop busy for 1 s); its header counted them, as the service did when
    it arrived. They are ours, not someone else's: no phantom request holds a slot.
    (Compared with our count at the time of reading, six slots were held for 10 s.)"""
    time = FakeTime()
    budget = await ten_second_budget(time, answered=6)
    time.now += 9.9

    def answer_read_late(request: httpx.Request) -> httpx.Response:
        time.now += 1.0
        return httpx.Response(200, headers={"X-Remaining": "3"})  # 10 - 7 on arrival

    def observe(response: httpx.Response, budget: RateBudget, sent_at: float) -> None:
        budget.observe(int(response.headers["X-Remaining"]), "ten_s", sent_at=sent_at)

    http = httpx.AsyncClient(
        transport=httpx.MockTransport(answer_read_late), base_url="https://a.t"
    )
    await send(
        http, "GET", "/x", tokens=Tokens(), classify=classify, budget=budget, observe=observe
    )
    assert budget.used("ten_s") == 1
    assert budget.delay(9) == 0.0


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after(None) is None
    assert parse_retry_after("  ") is None
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None


async def test_several_budgets_are_all_spent_and_all_penalized() -> None:
    time = FakeTime()
    general = RateBudget([Window(100, 60.0, "minute")], clock=time.clock, sleep=time.sleep)
    batch = RateBudget([Window(2, 60.0, "batch")], clock=time.clock, sleep=time.sleep)
    script = Script(httpx.Response(200), httpx.Response(200), httpx.Response(200))
    for _ in range(3):
        await send(
            client(script),
            "POST",
            "/batch",
            tokens=Tokens(),
            classify=classify,
            budget=[batch, general],
            sleep=time.sleep,
        )
    assert time.now - 1000.0 == 60.0  # the third batch waited for the batch window
    assert general.used("minute") == 1  # two aged out of the minute window by then
    # a 429 pauses both budgets: requests that skip the retry loop wait as well
    script = Script(httpx.Response(429, headers={"Retry-After": "500"}))
    with pytest.raises(TransientError):
        await send(
            client(script),
            "POST",
            "/batch",
            tokens=Tokens(),
            classify=classify,
            budget=[batch, general],
            policy=RetryPolicy(max_attempts=1),
            sleep=time.sleep,
        )
    before = time.now
    async with general.slot():
        assert time.now - before == 500.0
