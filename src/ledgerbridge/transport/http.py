"""One request with everything around it: budget, bearer token, retries, error translation.

`send()` is the single retry loop both connectors use. Per attempt it waits for room in
the `RateBudget`, puts the current bearer token on a freshly built request and sends it.
* httpx time-outs and transport errors → `TransientError(SERVICE_UNAVAILABLE)`;
* the connector's `classify(response)` turns a response into a `SyncError` (or None);
* a 401 (`AuthenticationError` with status 401) → `tokens.invalidate()` and one more try
  with a fresh token, not counted as an attempt; a second 401 propagates;
* a 429 → `budget.penalize(retry_after)` so every request of the connection pauses; a 429
  without Retry-After pauses for `RateBudget.pause_after_429(default_retry_after)`: the
  long default only for a real throttle, a short growing one for an unpredicted 429;
* `TransientError`s are retried by `call_with_retries`; anything else propagates.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import functools
import ssl
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any, TypeAlias

import httpx

from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    SyncError,
    TransientError,
)
from ledgerbridge.transport.budget import RateBudget
from ledgerbridge.transport.oauth import TokenProvider
from ledgerbridge.transport.retry import OnRetry, RetryPolicy, Sleep, call_with_retries

HttpClient: TypeAlias = httpx.AsyncClient
"""The HTTP client the connectors share. Code outside the connectors and the transport
names it by this alias and opens it with `new_http_client`: only they import httpx."""
Classify = Callable[[httpx.Response], SyncError | None]
Observe = Callable[[httpx.Response, RateBudget, float], None]
"""Sees each answer, with the first budget and when the request was sent on its clock."""
Budgets = RateBudget | Sequence[RateBudget] | None


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: httpx builds a new one per client otherwise
    (loading the CA bundle: ~22 ms of CPU each), which a worker paid on every
    connection's first pass. Built as httpx builds its default (certifi, or the
    SSL_CERT_FILE / SSL_CERT_DIR of the environment)."""
    return httpx.create_ssl_context(trust_env=True)


def new_http_client(timeout: float = 30.0) -> HttpClient:
    """A new HTTP client (close it with `aclose`, or use it as an async context manager)."""
    return httpx.AsyncClient(timeout=timeout, verify=_tls())


def _budgets(budget: Budgets) -> tuple[RateBudget, ...]:
    if budget is None:
        return ()
    if isinstance(budget, RateBudget):
        return (budget,)
    return tuple(budget)


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = now or dt.datetime.now(dt.UTC)
    return max((when - current).total_seconds(), 0.0)


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    tokens: TokenProvider,
    classify: Classify,
    budget: Budgets = None,
    policy: RetryPolicy | None = None,
    params: Mapping[str, str] | None = None,
    json: Any = None,
    content: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    cost: int = 1,
    default_retry_after: float | None = None,
    observe: Observe | None = None,
    sleep: Sleep = asyncio.sleep,
    on_retry: OnRetry | None = None,
) -> httpx.Response:
    """Send one logical request, retrying transient failures; return the good response.

    `default_retry_after`: the pause after a 429 that carries no Retry-After header
    (QBO documents "wait 60 s"). `budget` may be several budgets (e.g. QBO's general
    limits plus the batch-only limit): every attempt takes a slot in each, in order;
    `observe` sees the first, and a 429 penalizes all of them.
    """
    policy = policy or RetryPolicy()

    async def once() -> httpx.Response:
        return await _attempt(
            http,
            method,
            url,
            tokens=tokens,
            classify=classify,
            budgets=_budgets(budget),
            params=params,
            json=json,
            content=content,
            headers=headers,
            cost=cost,
            default_retry_after=default_retry_after,
            observe=observe,
        )

    key = (params or {}).get("requestid")
    label = f"{method} {httpx.URL(url).path}" + (f" idempotency_key={key}" if key else "")
    return await call_with_retries(once, policy, sleep=sleep, on_retry=on_retry, label=label)


async def _attempt(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    tokens: TokenProvider,
    classify: Classify,
    budgets: tuple[RateBudget, ...],
    params: Mapping[str, str] | None,
    json: Any,
    content: bytes | str | None,
    headers: Mapping[str, str] | None,
    cost: int,
    default_retry_after: float | None,
    observe: Observe | None,
) -> httpx.Response:
    reauthenticated = False
    while True:
        response, sent_at = await _send_once(
            http, method, url, tokens, budgets, params, json, content, headers, cost
        )
        if budgets and observe is not None:
            observe(response, budgets[0], sent_at)
        error = classify(response)
        if error is None:
            return response
        if isinstance(error, AuthenticationError) and error.status == 401 and not reauthenticated:
            reauthenticated = True
            await tokens.invalidate()
            continue
        if isinstance(error, TransientError):
            if error.retry_after is None:
                error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if error.status == 429 or error.category is ErrorCategory.RATE_LIMITED:
                if budgets:
                    budgets[0].throttled += 1
                if error.retry_after is None and default_retry_after is not None:
                    error.retry_after = _pause_after_429(budgets, default_retry_after)
                if error.retry_after is not None:
                    for budget in budgets:
                        budget.penalize(error.retry_after)
        raise error


def _pause_after_429(budgets: tuple[RateBudget, ...], long_pause: float) -> float:
    """The pause after a 429 without Retry-After, decided by the first budget; predicted
    when any budget of the request is (nearly) full."""
    if not budgets:
        return long_pause
    predicted = any(budget.near_limit() for budget in budgets)
    return budgets[0].pause_after_429(long_pause, predicted=predicted)


async def _send_once(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    tokens: TokenProvider,
    budgets: tuple[RateBudget, ...],
    params: Mapping[str, str] | None,
    json: Any,
    content: bytes | str | None,
    headers: Mapping[str, str] | None,
    cost: int,
) -> tuple[httpx.Response, float]:
    """The answer, and when the request was sent (the first budget's clock; 0 without)."""

    async def go() -> httpx.Response:
        token = await tokens.access_token()
        request = http.build_request(
            method,
            url,
            params=params,
            json=json,
            content=content,
            headers={**(headers or {}), "Authorization": f"Bearer {token}"},
        )
        try:
            return await http.send(request)
        except httpx.TimeoutException as exc:
            raise TransientError(
                ErrorCategory.SERVICE_UNAVAILABLE, f"{method} {url} timed out: {exc!r}"
            ) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                ErrorCategory.SERVICE_UNAVAILABLE, f"{method} {url} failed: {exc!r}"
            ) from exc

    async with AsyncExitStack() as stack:
        for budget in budgets:
            await stack.enter_async_context(budget.slot(cost))
        sent_at = budgets[0].now() if budgets else 0.0
        return await go(), sent_at
