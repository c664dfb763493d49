"""How every HubSpot request is sent: budgets, token, retries, error translation.

Built on the shared plumbing (`transport.http.send`, `RateBudget`, `RetryPolicy`,
`TokenProvider`). HubSpot has two independent limits that a request may spend:

* the general budget: a 10-second burst window (190 by default) and a daily quota,
  plus a cap on concurrent requests, spent by every request;
* the search budget: 4 requests per second, spent by `/search` calls only.

Both are spent again on every retry attempt. Rate-limit headers tighten them
(`X-HubSpot-RateLimit-Remaining` → burst, `-Daily-Remaining` → daily,
`-Secondly-Remaining` on search answers → search) unless their limit header says
the limit is off (0: an unlimited sandbox), and a 429 pauses the budget of the limit
it names: a search's `policyName` SECONDLY pauses only searches, any other 429
pauses every request.

Nothing httpx-shaped leaves this module: failures are `SyncError`s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ledgerbridge.hubspot.errors import classify
from ledgerbridge.sync.errors import ErrorCategory, SyncError, TerminalError, TransientError
from ledgerbridge.transport.budget import RateBudget, Sleep, Window
from ledgerbridge.transport.http import send
from ledgerbridge.transport.oauth import TokenProvider
from ledgerbridge.transport.retry import RetryPolicy, call_with_retries

__all__ = ["DEFAULT_BASE_URL", "HubSpotLimits", "Session"]

DEFAULT_BASE_URL = "https://api.hubapi.com"
BURST, DAILY, SEARCH = "ten_secondly", "daily", "search"


@dataclass(frozen=True, slots=True)
class HubSpotLimits:
    """HubSpot's documented limits (API-NOTES B4); 0 turns a limit off."""

    burst: int = 190
    burst_seconds: float = 10.0
    daily: int = 650_000
    search_per_second: int = 4
    max_concurrency: int = 10
    margin_seconds: float = 0.25
    """The windows shared by workers (`runtime.distributed.budgets`) are this much longer
    than HubSpot's: HubSpot counts a request when it arrives, they count it when it is
    sent, and on a one-second search window a few milliseconds of jitter were enough to
    draw a 429 every couple of seconds."""
    answer_margin_seconds: float = 0.05
    """A process's own windows count each request until its answer, then from the answer
    (`Window.until_answer`: after HubSpot counted it, whatever the latency); this is
    only for the timer's grain."""

    def budgets(self, clock: Callable[[], float], sleep: Sleep) -> tuple[RateBudget, RateBudget]:
        margin = self.answer_margin_seconds
        general = RateBudget(
            [
                Window(self.burst, self.burst_seconds + margin, BURST, until_answer=True),
                Window(self.daily, 86_400.0, DAILY),
            ],
            max_concurrency=self.max_concurrency,
            clock=clock,
            sleep=sleep,
        )
        search = RateBudget(
            [Window(self.search_per_second, 1.0 + margin, SEARCH, until_answer=True)],
            clock=clock,
            sleep=sleep,
        )
        return general, search


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _remaining(headers: httpx.Headers, limit: str, remaining: str) -> int | None:
    """What a pair of rate-limit headers says is left, or None when it says nothing
    usable. A limit header (`X-HubSpot-RateLimit-Max`, `-Daily`, `-Secondly`) of 0 means
    the limit is switched off (an unlimited sandbox answers `Max: 0, Remaining: 0`):
    that "0 remaining" is no exhausted budget. So is a limit that is negative or not a
    number, and a remaining count that is negative or above the limit. Without a
    limit header, the remaining count is taken as it is."""
    left = _header_int(headers, remaining)
    if left is None or left < 0:
        return None
    if headers.get(limit) is None:
        return left
    cap = _header_int(headers, limit)
    if cap is None or cap <= 0 or left > cap:
        return None
    return left


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


class Session:
    """One connection's HTTP session to HubSpot (shared by its client methods)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        *,
        base_url: str = DEFAULT_BASE_URL,
        limits: HubSpotLimits | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.limits = limits or HubSpotLimits()
        self.budget, self.search_budget = self.limits.budgets(clock, sleep)
        self._unmetered = RateBudget(clock=clock, sleep=sleep)  # see `request`
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.requests = 0  # attempts sent (for tests and metrics)

    def _observe(self, search: bool) -> Callable[[httpx.Response, RateBudget, float], None]:
        def observe(response: httpx.Response, _budget: RateBudget, sent_at: float) -> None:
            self.requests += 1
            headers = response.headers
            prefix = "X-HubSpot-RateLimit-"
            burst = _remaining(headers, f"{prefix}Max", f"{prefix}Remaining")
            self.budget.observe(burst, BURST, sent_at=sent_at)
            daily = _remaining(headers, f"{prefix}Daily", f"{prefix}Daily-Remaining")
            self.budget.observe(daily, DAILY, sent_at=sent_at)
            if search:
                secondly = _remaining(headers, f"{prefix}Secondly", f"{prefix}Secondly-Remaining")
                self.search_budget.observe(secondly, SEARCH, sent_at=sent_at)

        return observe

    @staticmethod
    def classify_response(response: httpx.Response) -> SyncError | None:
        """The engine error of a HubSpot response (None for a success)."""
        body = _body(response)
        return classify(
            response.status_code, body if isinstance(body, Mapping) else None, response.headers
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        search: bool = False,
    ) -> Any:
        """Send one logical request (retried as needed); return its JSON body (None if empty)."""
        url = f"{self.base_url}{path}"
        single = RetryPolicy(max_attempts=1)

        async def attempt() -> httpx.Response:
            if not search:
                return await self._send(method, url, params, json, single, self.budget)
            # A search spends both budgets, taken here (search first: it has no
            # concurrency cap, so waiting for it holds no general slot), and sends
            # with an unmetered one so that its 429 pauses only the limit it names.
            try:
                async with self.search_budget.slot(), self.budget.slot():
                    return await self._send(method, url, params, json, single, self._unmetered)
            except TransientError as error:
                pause = error.retry_after or 0.0
                if error.category is ErrorCategory.RATE_LIMITED and pause > 0:
                    if "[policy SECONDLY]" in error.detail:
                        self.search_budget.penalize(pause)
                    else:
                        self.budget.penalize(pause)
                raise

        response = await call_with_retries(attempt, self.retry, sleep=self._sleep)
        body = _body(response)
        if response.content and body is None:
            raise TerminalError(
                ErrorCategory.UNKNOWN,
                f"{method} {path}: HubSpot answered {response.status_code} with a body "
                "that is not JSON",
                status=response.status_code,
            )
        return body

    async def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        policy: RetryPolicy,
        budget: RateBudget,
    ) -> httpx.Response:
        search = budget is self._unmetered
        return await send(
            self.http,
            method,
            url,
            tokens=self.tokens,
            classify=self.classify_response,
            budget=budget,
            policy=policy,
            params=params,
            json=json,
            headers={"Accept": "application/json"},
            observe=self._observe(search),
            sleep=self._sleep,
        )
