from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from urllib.parse import parse_qs

import httpx
import pytest

from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    TerminalError,
    TransientError,
)
from ledgerbridge.transport.oauth import (
    OAuthTokenManager,
    StaticToken,
    exchange_code,
    parse_token_response,
)
from ledgerbridge.transport.tokens import MemoryTokenStore, TokenSet

from .fakes import FakeWallClock

TOKEN_URL = "https://auth.example/token"


class TokenEndpoint:
    """A fake token endpoint that rotates the refresh token on every refresh."""

    def __init__(self, *, rotate: bool = True) -> None:
        self.rotate = rotate
        self.requests: list[httpx.Request] = []
        self.forms: list[dict[str, str]] = []
        self.answer: httpx.Response | None = None
        self.issued = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.forms.append(form)
        await asyncio.sleep(0)  # let concurrent callers pile up
        if self.answer is not None:
            return self.answer
        self.issued += 1
        body: dict[str, object] = {
            "access_token": f"access-{self.issued}",
            "expires_in": 3600,
            "token_type": "bearer",
            "x_refresh_token_expires_in": 8_726_400,
        }
        if self.rotate:
            body["refresh_token"] = f"refresh-{self.issued}"
        return httpx.Response(200, json=body)


def expired_tokens(clock: FakeWallClock) -> TokenSet:
    return TokenSet("access-0", "refresh-0", clock.now - dt.timedelta(seconds=1))


def manager(
    endpoint: TokenEndpoint,
    store: MemoryTokenStore,
    clock: FakeWallClock,
    client_auth: str = "body",
) -> OAuthTokenManager:
    http = httpx.AsyncClient(transport=httpx.MockTransport(endpoint))
    return OAuthTokenManager(
        http=http,
        token_url=TOKEN_URL,
        client_id="cid",
        client_secret="secret",
        store=store,
        client_auth=client_auth,  # type: ignore[arg-type]
        clock=clock,
    )


async def test_static_token() -> None:
    token = StaticToken("sandbox")
    assert await token.access_token() == "sandbox"
    await token.invalidate()
    assert await token.access_token() == "sandbox"
    assert "sandbox" not in repr(token)
    with pytest.raises(ValueError):
        StaticToken("")


async def test_a_valid_token_is_used_without_refreshing() -> None:
    clock = FakeWallClock()
    store = MemoryTokenStore(TokenSet("a", "r", clock.now + dt.timedelta(hours=1)))
    endpoint = TokenEndpoint()
    tokens = manager(endpoint, store, clock)
    assert await tokens.access_token() == "a"
    assert endpoint.requests == []


async def test_refreshes_before_expiry_within_the_margin() -> None:
    clock = FakeWallClock()
    store = MemoryTokenStore(TokenSet("a", "r", clock.now + dt.timedelta(minutes=10)))
    endpoint = TokenEndpoint()
    tokens = manager(endpoint, store, clock)
    assert await tokens.access_token() == "a"
    clock.advance(minutes=6)  # 4 minutes left < 5-minute margin
    assert await tokens.access_token() == "access-1"
    assert endpoint.forms[0]["grant_type"] == "refresh_token"
    assert endpoint.forms[0]["refresh_token"] == "r"


async def test_body_client_auth_sends_credentials_in_the_form() -> None:
    clock = FakeWallClock()
    endpoint = TokenEndpoint()
    tokens = manager(endpoint, MemoryTokenStore(expired_tokens(clock)), clock, "body")
    await tokens.access_token()
    assert endpoint.forms[0]["client_id"] == "cid"
    assert endpoint.forms[0]["client_secret"] == "secret"
    assert "authorization" not in endpoint.requests[0].headers


async def test_basic_client_auth_sends_an_authorization_header() -> None:
    clock = FakeWallClock()
    endpoint = TokenEndpoint()
    tokens = manager(endpoint, MemoryTokenStore(expired_tokens(clock)), clock, "basic")
    await tokens.access_token()
    expected = "Basic " + base64.b64encode(b"cid:secret").decode()
    assert endpoint.requests[0].headers["authorization"] == expected
    assert "client_secret" not in endpoint.forms[0]


async def test_concurrent_callers_share_one_refresh() -> None:
    clock = FakeWallClock()
    store = MemoryTokenStore(expired_tokens(clock))
    endpoint = TokenEndpoint()
    tokens = manager(endpoint, store, clock)
    results = await asyncio.gather(*(tokens.access_token() for _ in range(25)))
    assert set(results) == {"access-1"}
    assert len(endpoint.requests) == 1
    assert tokens.refreshes == 1


async def test_rotated_refresh_token_is_saved_with_its_lifetimes() -> None:
    clock = FakeWallClock()
    store = MemoryTokenStore(expired_tokens(clock))
    tokens = manager(TokenEndpoint(), store, clock)
    await tokens.access_token()
    saved = store.tokens
    assert saved is not None
    assert saved.refresh_token == "refresh-1"
    assert saved.expires_at == clock.now + dt.timedelta(hours=1)
    assert saved.refresh_expires_at == clock.now + dt.timedelta(seconds=8_726_400)
    assert store.saves == 1


async def test_unrotated_refresh_token_is_kept() -> None:
    clock = FakeWallClock()
    old_expiry = clock.now + dt.timedelta(days=50)
    store = MemoryTokenStore(TokenSet("a", "keep-me", clock.now, old_expiry))
    endpoint = TokenEndpoint(rotate=False)
    endpoint_answer = {"access_token": "fresh", "expires_in": "1800"}
    endpoint.answer = httpx.Response(200, json=endpoint_answer)
    tokens = manager(endpoint, store, clock)
    assert await tokens.access_token() == "fresh"
    assert store.tokens is not None
    assert store.tokens.refresh_token == "keep-me"
    assert store.tokens.refresh_expires_at == old_expiry
    assert store.tokens.expires_at == clock.now + dt.timedelta(minutes=30)


class FailingStore(MemoryTokenStore):
    async def save(self, tokens: TokenSet) -> None:
        raise OSError("disk full")


async def test_the_new_token_is_not_handed_out_unless_it_was_saved() -> None:
    clock = FakeWallClock()
    store = FailingStore(expired_tokens(clock))
    tokens = manager(TokenEndpoint(), store, clock)
    with pytest.raises(OSError):
        await tokens.access_token()


async def test_a_refresh_survives_a_restart_with_the_rotated_token() -> None:
    clock = FakeWallClock()
    store = MemoryTokenStore(expired_tokens(clock))
    endpoint = TokenEndpoint()
    await manager(endpoint, store, clock).access_token()
    assert store.tokens is not None
    saved = json.loads(json.dumps(store.tokens.to_json()))
    clock.advance(hours=2)
    reloaded = MemoryTokenStore(TokenSet.from_json(saved))
    assert await manager(endpoint, reloaded, clock).access_token() == "access-2"
    assert endpoint.forms[1]["refresh_token"] == "refresh-1"


async def test_invalidate_forces_one_refresh() -> None:
    clock = FakeWallClock()
    store = MemoryTokenStore(TokenSet("a", "r", clock.now + dt.timedelta(hours=1)))
    endpoint = TokenEndpoint()
    tokens = manager(endpoint, store, clock)
    assert await tokens.access_token() == "a"
    await tokens.invalidate()
    assert await tokens.access_token() == "access-1"
    assert await tokens.access_token() == "access-1"
    assert len(endpoint.requests) == 1


async def test_a_token_refreshed_by_another_process_is_adopted() -> None:
    clock = FakeWallClock()
    store = MemoryTokenStore(TokenSet("a", "r", clock.now + dt.timedelta(hours=1)))
    endpoint = TokenEndpoint()
    tokens = manager(endpoint, store, clock)
    assert await tokens.access_token() == "a"
    store.tokens = TokenSet("b", "r2", clock.now + dt.timedelta(hours=1))
    await tokens.invalidate()
    assert await tokens.access_token() == "b"
    assert endpoint.requests == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "invalid_grant", "error_description": "Token invalid"}),
        (401, {"error": "invalid_client"}),
        (400, {}),
        (200, {"error": "invalid_grant"}),
    ],
)
async def test_refused_grants_are_authentication_errors(status: int, body: dict[str, str]) -> None:
    clock = FakeWallClock()
    endpoint = TokenEndpoint()
    endpoint.answer = httpx.Response(status, json=body)
    tokens = manager(endpoint, MemoryTokenStore(expired_tokens(clock)), clock)
    with pytest.raises(AuthenticationError) as info:
        await tokens.access_token()
    assert info.value.category is ErrorCategory.AUTHENTICATION


@pytest.mark.parametrize(
    ("answer", "category"),
    [
        (httpx.Response(503, text="down"), ErrorCategory.SERVICE_UNAVAILABLE),
        (httpx.Response(429, json={}), ErrorCategory.RATE_LIMITED),
    ],
)
async def test_server_trouble_is_transient(answer: httpx.Response, category: ErrorCategory) -> None:
    clock = FakeWallClock()
    endpoint = TokenEndpoint()
    endpoint.answer = answer
    tokens = manager(endpoint, MemoryTokenStore(expired_tokens(clock)), clock)
    with pytest.raises(TransientError) as info:
        await tokens.access_token()
    assert info.value.category is category


async def test_transport_errors_are_transient() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    clock = FakeWallClock()
    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    tokens = OAuthTokenManager(
        http=http,
        token_url=TOKEN_URL,
        client_id="c",
        client_secret="s",
        store=MemoryTokenStore(expired_tokens(clock)),
        clock=clock,
    )
    with pytest.raises(TransientError) as info:
        await tokens.access_token()
    assert info.value.category is ErrorCategory.SERVICE_UNAVAILABLE


async def test_missing_or_expired_grants_fail_without_calling_the_endpoint() -> None:
    clock = FakeWallClock()
    endpoint = TokenEndpoint()
    with pytest.raises(AuthenticationError):
        await manager(endpoint, MemoryTokenStore(), clock).access_token()
    no_refresh = TokenSet("a", None, clock.now)
    with pytest.raises(AuthenticationError):
        await manager(endpoint, MemoryTokenStore(no_refresh), clock).access_token()
    dead = TokenSet("a", "r", clock.now, clock.now - dt.timedelta(days=1))
    with pytest.raises(AuthenticationError):
        await manager(endpoint, MemoryTokenStore(dead), clock).access_token()
    assert endpoint.requests == []


async def test_a_malformed_success_answer_is_terminal() -> None:
    clock = FakeWallClock()
    endpoint = TokenEndpoint()
    endpoint.answer = httpx.Response(200, json={"token_type": "bearer"})
    with pytest.raises(TerminalError):
        await manager(endpoint, MemoryTokenStore(expired_tokens(clock)), clock).access_token()


async def test_exchange_code_saves_the_grant() -> None:
    clock = FakeWallClock()
    endpoint = TokenEndpoint()
    store = MemoryTokenStore()
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        tokens = await exchange_code(
            http=http,
            token_url=TOKEN_URL,
            client_id="cid",
            client_secret="secret",
            code="the-code",
            redirect_uri="http://localhost/cb",
            client_auth="basic",
            code_verifier="verifier",
            store=store,
            clock=clock,
        )
    assert tokens.access_token == "access-1"
    assert store.tokens == tokens
    form = endpoint.forms[0]
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "the-code"
    assert form["redirect_uri"] == "http://localhost/cb"
    assert form["code_verifier"] == "verifier"


def test_parse_token_response_defaults() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    tokens = parse_token_response({"access_token": "x", "expires_in": "bogus"}, now, "old")
    assert tokens.expires_at == now + dt.timedelta(hours=1)
    assert tokens.refresh_token == "old"
    assert tokens.refresh_expires_at is None
