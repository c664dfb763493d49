"""Who may ask what: sessions, API tokens, CSRF, throttled sign-ins, allowed host names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from ledgerbridge.domain import System
from ledgerbridge.store import RecordStatus, Store, TokenCipher, generate_key
from ledgerbridge.store.accounts import list_audit, revoke_token
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.auth import SESSION_COOKIE, LoginThrottle, WebSecurity, create_signin_link
from tests.support.dashboard import dashboard_client
from tests.support.signin import (
    BASE_URL,
    PASSWORD,
    api_token,
    hidden,
    post_login,
    set_password,
    sign_in,
)

PAGES = ["/", "/records", "/failures", "/invoices", "/reports", "/connections", "/audit"]
API = ["/api/status", "/api/docs", "/redoc", "/openapi.json", "/metrics"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        cid = tx.create_connection(
            name="Demo",
            hubspot_base_url="http://127.0.0.1:8701",
            qbo_base_url="http://127.0.0.1:8702",
            hubspot_portal_id="62515",
            qbo_realm_id="1000000001",
        )
        tx.set_record_status(
            cid,
            "contacts_customers",
            System.HUBSPOT,
            "3",
            RecordStatus.FAILED,
            label="jane@acme.test",
            error_category="duplicate_display_name",
        )
    yield store
    store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(store: Store, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    security = WebSecurity(throttle=LoginThrottle(limit=3, window=600, clock=clock))
    async with dashboard_client(store, security=security) as client:
        yield client


@pytest.mark.parametrize("path", PAGES)
async def test_a_page_without_a_session_redirects_to_the_sign_in(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("path", API)
async def test_the_api_and_its_docs_without_a_token_answer_401(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "ledgerbridge admin token create" in response.json()["detail"]


async def test_health_sign_in_page_and_static_files_are_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/login")).status_code == 200
    htmx = await client.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "Zero-Clause BSD" in htmx.text[:200]


async def test_an_api_token_opens_the_api_until_it_is_revoked(
    client: httpx.AsyncClient, store: Store
) -> None:
    token = api_token(store, "monitoring")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/status", headers=headers)).status_code == 200
    assert (await client.get("/openapi.json", headers=headers)).status_code == 200
    wrong = {"Authorization": f"Bearer {token}x"}
    assert (await client.get("/api/status", headers=wrong)).status_code == 401
    with store.begin() as tx:
        assert revoke_token(tx, "monitoring")
    assert (await client.get("/api/status", headers=headers)).status_code == 401


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "localhost.:80x"])
async def test_a_request_for_another_host_name_gets_400(
    client: httpx.AsyncClient, store: Store, host: str
) -> None:
    token = api_token(store)
    for path in ("/healthz", "/api/status", "/"):
        response = await client.get(
            path, headers={"Host": host, "Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 400, path
        assert "allowed_hosts" in response.text


async def test_loopback_names_with_a_port_are_answered(client: httpx.AsyncClient) -> None:
    for host in ("127.0.0.1:8700", "localhost:8700", "[::1]:8700", "LOCALHOST"):
        assert (await client.get("/healthz", headers={"Host": host})).status_code == 200, host


async def test_a_wrong_password_is_refused_and_audited(
    client: httpx.AsyncClient, store: Store
) -> None:
    set_password(store)
    response = await post_login(client, "not the password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    assert SESSION_COOKIE not in response.cookies
    assert (await client.get("/")).status_code == 303
    with store.begin() as tx:
        assert [e.action for e in list_audit(tx)] == ["sign_in_refused"]


async def test_the_right_password_signs_in_with_a_safe_cookie(
    client: httpx.AsyncClient, store: Store
) -> None:
    set_password(store)
    response = await post_login(client, PASSWORD, next_url="/failures")
    assert response.status_code == 303
    assert response.headers["location"] == "/failures"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    page = await client.get("/failures")
    assert page.status_code == 200
    assert "jane@acme.test" in page.text
    with store.begin() as tx:
        assert [e.action for e in list_audit(tx)] == ["sign_in"]


async def test_over_https_the_session_cookie_is_secure(store: Store) -> None:
    set_password(store)
    transport = httpx.ASGITransport(app=create_web_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="https://localhost") as client:
        response = await post_login(client, PASSWORD)
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


async def test_sign_in_goes_only_to_pages_of_this_site(
    client: httpx.AsyncClient, store: Store
) -> None:
    set_password(store)
    response = await post_login(client, PASSWORD, next_url="//evil.example/")
    assert response.headers["location"] == "/"


async def test_repeated_wrong_passwords_are_throttled(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    set_password(store)
    for _ in range(3):
        assert (await post_login(client, "guess")).status_code == 401
    blocked = await post_login(client, PASSWORD)  # even the right one, while throttled
    assert blocked.status_code == 429
    assert "Try again in 10 minute(s)" in blocked.text
    clock.now += 601
    assert (await post_login(client, PASSWORD)).status_code == 303


async def test_the_sign_in_form_needs_its_own_csrf_token(
    client: httpx.AsyncClient, store: Store
) -> None:
    set_password(store)
    response = await client.post("/login", data={"password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies


async def test_a_form_post_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, store: Store
) -> None:
    csrf = await sign_in(client, store)
    key = "contacts_customers|hubspot|3"
    refused = await client.post("/failures/dismiss", data={"connection_id": "1", "key": key})
    assert refused.status_code == 403
    forged = await client.post(
        "/failures/dismiss", data={"connection_id": "1", "key": key, "csrf_token": "x" * 32}
    )
    assert forged.status_code == 403
    accepted = await client.post(
        "/failures/dismiss", data={"connection_id": "1", "key": key, "csrf_token": csrf}
    )
    assert accepted.status_code == 303
    by_header = await client.post(
        "/logout", headers={"X-CSRF-Token": csrf}, data={}
    )  # htmx sends it as a header
    assert by_header.status_code == 303


async def test_a_one_time_sign_in_link_works_once(client: httpx.AsyncClient, store: Store) -> None:
    link = create_signin_link(store, BASE_URL)
    path = link.removeprefix(BASE_URL)
    first = await client.get(path)
    assert first.status_code == 303
    assert (await client.get("/")).status_code == 200
    client.cookies.clear()
    again = await client.get(path)
    assert again.status_code == 400
    assert "used already or has expired" in again.text


async def test_a_new_password_signs_every_session_out(
    client: httpx.AsyncClient, store: Store
) -> None:
    await sign_in(client, store)
    assert (await client.get("/")).status_code == 200
    set_password(store, "another long password")
    assert (await client.get("/")).status_code == 303


async def test_without_a_password_the_sign_in_page_says_how_to_set_one(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/login")
    assert "ledgerbridge admin set-password" in page.text
    response = await client.post(
        "/login",
        data={"password": "anything at all", "csrf_token": hidden(page.text, "csrf_token")},
    )
    assert response.status_code == 401
    assert "No password is set yet" in response.text


async def test_an_api_change_riding_on_the_session_needs_the_csrf_header(
    client: httpx.AsyncClient, store: Store
) -> None:
    csrf = await sign_in(client, store)
    assert (await client.get("/api/status")).status_code == 200  # reading is fine
    refused = await client.post("/api/connections/1/rules/contacts_customers/disable")
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    passed = await client.post(
        "/api/connections/1/rules/contacts_customers/disable", headers={"X-CSRF-Token": csrf}
    )
    assert passed.status_code != 403  # through to the API (no such route here: 404)


def test_the_allowed_host_names() -> None:
    from ledgerbridge.web.auth import allowed_host_names

    names = allowed_host_names(
        "0.0.0.0", ["Sync.Example.com"], ["https://lb.example.org/oauth/hubspot/callback", ""]
    )
    assert names == {"localhost", "127.0.0.1", "::1", "sync.example.com", "lb.example.org"}
    assert "10.0.0.5" in allowed_host_names("10.0.0.5")
