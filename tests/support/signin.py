"""Signing test clients in: an API token, or the admin's password through the login form."""

from __future__ import annotations

import re

import httpx

from ledgerbridge.store import Store
from ledgerbridge.store.accounts import TokenKind, create_token, set_password_hash
from ledgerbridge.web.auth import hash_password, hash_token, new_token

PASSWORD = "correct horse battery staple"
BASE_URL = "http://127.0.0.1"


def api_token(store: Store, name: str = "tests") -> str:
    token = new_token()
    with store.begin() as tx:
        create_token(tx, TokenKind.API, name, hash_token(token))
    return token


def set_password(store: Store, password: str = PASSWORD) -> None:
    with store.begin() as tx:
        set_password_hash(tx, hash_password(password))


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name} field in the page"
    return found.group(1)


async def post_login(
    client: httpx.AsyncClient, password: str, next_url: str = "/"
) -> httpx.Response:
    form = await client.get("/login")
    assert form.status_code == 200
    data = {"password": password, "csrf_token": hidden(form.text, "csrf_token"), "next": next_url}
    return await client.post("/login", data=data)


async def sign_in(client: httpx.AsyncClient, store: Store) -> str:
    """Sign `client` in with the password (set here); returns the session's CSRF token."""
    set_password(store)
    response = await post_login(client, PASSWORD)
    assert response.status_code == 303, response.text
    page = await client.get("/connections")
    assert page.status_code == 200
    return hidden(page.text, "csrf_token")
