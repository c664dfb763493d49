"""Fixtures: a QBO sandbox app on a fake clock, and an httpx client over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ledgerbridge.sandbox.qbo import FakeClock, QboSandboxConfig, Sandbox, create_app
from ledgerbridge.sandbox.qbo.config import CompanySettings

REALM = "1000000001"
BASE = f"/v3/company/{REALM}"
AUTH = {"Authorization": "Bearer sandbox", "Accept": "application/json"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


@pytest.fixture
def config(clock: FakeClock) -> QboSandboxConfig:
    return QboSandboxConfig(realms={REALM: CompanySettings()}, clock=clock)


@pytest.fixture
def app(config: QboSandboxConfig) -> FastAPI:
    return create_app(config)


@pytest.fixture
def sandbox(app: FastAPI) -> Sandbox:
    state: Sandbox = app.state.sandbox
    return state


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://qbo.test", headers=AUTH
    ) as http:
        yield http


class Api:
    """Tiny helpers over the raw HTTP API."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, entity: str, body: dict[str, Any], **params: str) -> httpx.Response:
        return await self.http.post(f"{BASE}/{entity.lower()}", json=body, params=params)

    async def ok(self, entity: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        response = await self.post(entity, body, **params)
        assert response.status_code == 200, response.text
        obj: dict[str, Any] = response.json()[entity]
        return obj

    async def get(self, entity: str, entity_id: str) -> dict[str, Any]:
        response = await self.http.get(f"{BASE}/{entity.lower()}/{entity_id}")
        assert response.status_code == 200, response.text
        obj: dict[str, Any] = response.json()[entity]
        return obj

    async def query(self, text: str) -> dict[str, Any]:
        response = await self.http.get(f"{BASE}/query", params={"query": text})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()["QueryResponse"]
        return body

    async def customer(self, name: str, **extra: Any) -> dict[str, Any]:
        return await self.ok("Customer", {"DisplayName": name, **extra})

    async def item(self, name: str, price: str = "100", **extra: Any) -> dict[str, Any]:
        body = {
            "Name": name,
            "Type": "Service",
            "UnitPrice": price,
            "IncomeAccountRef": {"value": "1"},
            **extra,
        }
        return await self.ok("Item", body)

    async def invoice(
        self, customer_id: str, item_id: str, qty: int = 2, price: str = "50", **extra: Any
    ) -> dict[str, Any]:
        line = {
            "DetailType": "SalesItemLineDetail",
            "Amount": qty * float(price),
            "SalesItemLineDetail": {
                "ItemRef": {"value": item_id},
                "Qty": qty,
                "UnitPrice": float(price),
            },
        }
        body = {"CustomerRef": {"value": customer_id}, "Line": [line], **extra}
        return await self.ok("Invoice", body)


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


def fault_code(response: httpx.Response) -> str:
    code: str = response.json()["Fault"]["Error"][0]["code"]
    return code


Make = Callable[..., Any]
