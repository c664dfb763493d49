from __future__ import annotations

from typing import Any

import httpx
import pytest

from ledgerbridge.sandbox.hubspot import HubSpotSandboxConfig, create_app

from .conftest import AUTH, FakeClock, sandbox_of

URL = "/crm/v3/objects/contacts/search"


async def _seed(client: httpx.AsyncClient) -> dict[str, str]:
    state = sandbox_of(client).state
    rows = {
        "ada": {"email": "Ada@Example.com", "firstname": "Ada", "lifecyclestage": "customer"},
        "bob": {"email": "bob@other.org", "firstname": "Bob", "lifecyclestage": "lead"},
        "cy": {"firstname": "Cy"},
    }
    return {key: state.create("contacts", props).id for key, props in rows.items()}


async def _ids(client: httpx.AsyncClient, *filters: dict[str, Any], **extra: Any) -> list[str]:
    body: dict[str, Any] = {"filterGroups": [{"filters": list(filters)}], **extra}
    r = await client.post(URL, json=body)
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["results"]]


async def test_operators(client: httpx.AsyncClient) -> None:
    ids = await _seed(client)
    ada, bob, cy = ids["ada"], ids["bob"], ids["cy"]
    f = lambda op, **kw: {"propertyName": kw.pop("p", "email"), "operator": op, **kw}  # noqa: E731
    assert await _ids(client, f("EQ", value="ada@example.com")) == [ada]
    assert await _ids(client, f("NEQ", value="ada@example.com")) == [bob, cy]
    assert await _ids(client, f("HAS_PROPERTY")) == [ada, bob]
    assert await _ids(client, f("NOT_HAS_PROPERTY")) == [cy]
    assert await _ids(client, f("IN", p="lifecyclestage", values=["lead", "other"])) == [bob]
    assert await _ids(client, f("NOT_IN", p="lifecyclestage", values=["lead"])) == [ada, cy]
    assert await _ids(client, f("CONTAINS_TOKEN", value="example.com")) == [ada]
    assert await _ids(client, f("CONTAINS_TOKEN", value="*.org")) == [bob]
    assert await _ids(client, f("NOT_CONTAINS_TOKEN", value="bob")) == [ada, cy]
    assert await _ids(client, f("GT", p="hs_object_id", value=ada)) == [bob, cy]
    assert await _ids(client, f("BETWEEN", p="hs_object_id", value=ada, highValue=bob)) == [
        ada,
        bob,
    ]
    assert await _ids(client, f("LTE", p="hs_object_id", value=ada)) == [ada]
    r = await client.post(URL, json={"query": "bo"})
    assert [x["id"] for x in r.json()["results"]] == [bob]


async def test_groups_are_ored_and_sorts_apply(client: httpx.AsyncClient) -> None:
    ids = await _seed(client)
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "ada"}]},
            {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "cy"}]},
        ],
        "sorts": [{"propertyName": "firstname", "direction": "DESCENDING"}],
    }
    r = await client.post(URL, json=body)
    assert [x["id"] for x in r.json()["results"]] == [ids["cy"], ids["ada"]]
    assert r.json()["total"] == 2


async def test_number_and_date_semantics(client: httpx.AsyncClient) -> None:
    state = sandbox_of(client).state
    cheap = state.create("products", {"name": "cheap", "price": "9.5"}).id
    dear = state.create("products", {"name": "dear", "price": "100"}).id
    body = {
        "filterGroups": [{"filters": [{"propertyName": "price", "operator": "GT", "value": "10"}]}]
    }
    r = await client.post("/crm/v3/objects/products/search", json=body)
    assert [x["id"] for x in r.json()["results"]] == [dear]
    created_ms = str(int(state.get("products", cheap).created_at))
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "hs_createdate", "operator": "GTE", "value": created_ms}]}
        ]
    }
    r = await client.post("/crm/v3/objects/products/search", json=body)
    assert r.json()["total"] == 2


@pytest.mark.parametrize(
    ("groups", "filters_per_group"),
    [(6, 1), (1, 11), (3, 9)],
)
async def test_filter_limits(
    client: httpx.AsyncClient, groups: int, filters_per_group: int
) -> None:
    flt = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    body = {"filterGroups": [{"filters": [flt] * filters_per_group} for _ in range(groups)]}
    r = await client.post(URL, json=body)
    assert r.status_code == 400
    assert r.json()["category"] == "VALIDATION_ERROR"


async def test_limit_and_unknown_property(client: httpx.AsyncClient) -> None:
    assert (await client.post(URL, json={"limit": 201})).status_code == 400
    assert (await client.post(URL, json={"limit": 200})).status_code == 200
    body = {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "HAS_PROPERTY"}]}]}
    assert (await client.post(URL, json=body)).status_code == 400


async def test_ten_thousand_result_cap(client: httpx.AsyncClient) -> None:
    state = sandbox_of(client).state
    for i in range(10_050):
        state.create("products", {"name": f"p{i}"}, checked=True)
    url = "/crm/v3/objects/products/search"
    r = await client.post(url, json={"limit": 100, "after": "9900"})
    assert r.status_code == 200
    assert r.json()["total"] == 10_050
    assert "paging" not in r.json()
    r = await client.post(url, json={"limit": 100, "after": "9950"})
    assert r.status_code == 400


async def test_search_has_its_own_per_second_limit(clock: FakeClock) -> None:
    app = create_app(HubSpotSandboxConfig(clock=clock, search_rate_per_second=4))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://h", headers=AUTH) as c:
        for _ in range(4):
            assert (await c.post(URL, json={})).status_code == 200
        r = await c.post(URL, json={})
        assert r.status_code == 429
        assert r.json()["policyName"] == "SECONDLY"
        assert (await c.get("/crm/v3/objects/contacts")).status_code == 200
        clock.advance(1.01)
        assert (await c.post(URL, json={})).status_code == 200
