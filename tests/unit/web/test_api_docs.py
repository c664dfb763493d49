"""The API docs (Swagger UI at /api/docs, ReDoc at /redoc) load nothing from another host:
the product is self-hosted and may run without internet."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.web.api_docs import ASSET_FILES
from tests.support.dashboard import dashboard_client
from tests.support.signin import sign_in

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    yield store
    store.close()


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with dashboard_client(store) as client:
        yield client


async def test_the_api_docs_load_nothing_from_another_host(
    client: httpx.AsyncClient, store: Store
) -> None:
    await sign_in(client, store)
    for url in ("/api/docs", "/redoc"):
        page = await client.get(url, headers=BROWSER)
        assert page.status_code == 200
        assert not re.search(r"(https?:)?//[\w.-]+", page.text), url
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert assets, url
        for asset in assets:
            served = await client.get(asset)
            assert served.status_code == 200, asset
    docs = (await client.get("/api/docs")).text
    assert "/openapi.json" in docs and "swagger-ui-bundle.js" in docs
    assert '"validatorUrl": null' in docs  # no badge that asks an outside validator
    for name in ASSET_FILES:
        assert (await client.get(f"/api/docs/assets/{name}")).status_code == 200


async def test_the_api_docs_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/docs")).status_code == 401
    assert (await client.get("/api/docs/assets/swagger-ui.css")).status_code == 401
