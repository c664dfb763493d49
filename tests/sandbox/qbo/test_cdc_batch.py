"""CDC (30-day window, 1,000-object cap, deleted records) and /batch."""

from __future__ import annotations

from decimal import Decimal

import httpx

from ledgerbridge.sandbox.qbo import FakeClock, Sandbox
from tests.sandbox.qbo.conftest import BASE, REALM, Api, fault_code


async def _cdc(client: httpx.AsyncClient, entities: str, since: str) -> httpx.Response:
    return await client.get(f"{BASE}/cdc", params={"entities": entities, "changedSince": since})


async def test_cdc_reports_changes_and_deletions(
    api: Api, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    old = await api.customer("Before")
    clock.advance(3600)
    since = "2026-03-02T15:30:00+00:00"
    fresh = await api.customer("After")
    item = await api.item("Cdc")
    invoice = await api.invoice(fresh["Id"], item["Id"])
    await api.ok("Invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="delete")
    response = await _cdc(client, "Customer,Invoice,Payment", since)
    assert response.status_code == 200
    groups = response.json()["CDCResponse"][0]["QueryResponse"]
    assert len(groups) == 3
    customers = groups[0]["Customer"]
    assert [c["Id"] for c in customers] == [fresh["Id"]]
    assert old["Id"] not in {c["Id"] for c in customers}
    assert groups[1]["Invoice"] == [
        {
            "Id": invoice["Id"],
            "status": "Deleted",
            "domain": "QBO",
            "MetaData": {"LastUpdatedTime": "2026-03-02T16:00:00+00:00"},
        }
    ]
    assert groups[2] == {}


async def test_cdc_window_is_30_days(client: httpx.AsyncClient, clock: FakeClock) -> None:
    ok = await _cdc(client, "Customer", "2026-01-31T15:00:00Z")
    assert ok.status_code == 200
    too_old = await _cdc(client, "Customer", "2026-01-30T15:00:00Z")
    assert too_old.status_code == 400
    assert too_old.json()["Fault"]["Error"][0]["element"] == "changedSince"
    missing = await client.get(f"{BASE}/cdc", params={"entities": "Customer"})
    assert fault_code(missing) == "2020"
    bogus = await _cdc(client, "Spaceship", "2026-03-01")
    assert fault_code(bogus) == "2010"


async def test_cdc_caps_at_1000_objects_across_entities(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    realm = sandbox.realms[REALM]
    for n in range(700):
        clock.advance(1)
        realm.insert("Customer", {"DisplayName": f"C{n}", "Active": True}, clock.now())
        realm.insert(
            "Item", {"Name": f"I{n}", "Active": True, "UnitPrice": Decimal(1)}, clock.now()
        )
    response = await _cdc(client, "Customer,Item", "2026-03-02T15:00:01Z")
    groups = response.json()["CDCResponse"][0]["QueryResponse"]
    customers, items = groups[0]["Customer"], groups[1]["Item"]
    assert len(customers) + len(items) == 1000
    assert len(customers) == 500 and len(items) == 500  # the oldest 1,000 changes
    assert groups[0]["maxResults"] == 500


async def test_batch_items_are_independent_with_per_item_faults(
    api: Api, client: httpx.AsyncClient
) -> None:
    existing = await api.customer("Batchy")
    body = {
        "BatchItemRequest": [
            {"bId": "1", "operation": "create", "Customer": {"DisplayName": "New One"}},
            {"bId": "2", "operation": "create", "Customer": {"DisplayName": "Batchy"}},
            {
                "bId": "3",
                "operation": "update",
                "Customer": {
                    "Id": existing["Id"],
                    "SyncToken": "0",
                    "sparse": True,
                    "Notes": "batched",
                },
            },
            {"bId": "4", "Query": "SELECT * FROM Customer WHERE DisplayName = 'Batchy'"},
            {
                "bId": "5",
                "operation": "delete",
                "Customer": {"Id": existing["Id"], "SyncToken": "1"},
            },
        ]
    }
    response = await client.post(f"{BASE}/batch", json=body)
    assert response.status_code == 200
    answers = {a["bId"]: a for a in response.json()["BatchItemResponse"]}
    assert answers["1"]["Customer"]["DisplayName"] == "New One"
    assert answers["2"]["Fault"]["Error"][0]["code"] == "6240"
    assert answers["2"]["Fault"]["type"] == "ValidationFault"
    assert answers["3"]["Customer"]["Notes"] == "batched"
    assert answers["4"]["QueryResponse"]["Customer"][0]["Id"] == existing["Id"]
    assert answers["5"]["Fault"]["Error"][0]["code"] == "500"
    assert "time" in response.json()


async def test_batch_void_and_limits(api: Api, client: httpx.AsyncClient) -> None:
    customer = await api.customer("Voider")
    item = await api.item("V")
    invoice = await api.invoice(customer["Id"], item["Id"])
    voided = await client.post(
        f"{BASE}/batch",
        json={
            "BatchItemRequest": [
                {
                    "bId": "v",
                    "operation": "void",
                    "Invoice": {"Id": invoice["Id"], "SyncToken": "0"},
                }
            ]
        },
    )
    assert voided.json()["BatchItemResponse"][0]["Invoice"]["TotalAmt"] == 0
    too_many = {
        "BatchItemRequest": [
            {"bId": str(n), "operation": "create", "Customer": {"DisplayName": f"N{n}"}}
            for n in range(31)
        ]
    }
    refused = await client.post(f"{BASE}/batch", json=too_many)
    assert refused.status_code == 400 and fault_code(refused) == "2010"
    thirty = {"BatchItemRequest": too_many["BatchItemRequest"][:30]}
    assert len((await client.post(f"{BASE}/batch", json=thirty)).json()["BatchItemResponse"]) == 30
    long_bid = {
        "BatchItemRequest": [
            {"bId": "x" * 11, "operation": "create", "Customer": {"DisplayName": "Long"}}
        ]
    }
    rejected = await client.post(f"{BASE}/batch", json=long_bid, params={"requestid": "r1"})
    assert fault_code(rejected) == "2010"
