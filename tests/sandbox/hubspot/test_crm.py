from __future__ import annotations

import httpx

from .conftest import sandbox_of

BASE = "/crm/v3/objects"


async def _unique_prop(client: httpx.AsyncClient, object_type: str) -> None:
    r = await client.post(
        f"/crm/v3/properties/{object_type}",
        json={
            "name": "ledgerbridge_qbo_id",
            "label": "QBO id",
            "type": "string",
            "fieldType": "text",
            "groupName": "information",
            "hasUniqueValue": True,
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["hasUniqueValue"] is True


async def test_requests_without_a_valid_token_get_401(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{BASE}/contacts", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert r.json()["category"] == "INVALID_AUTHENTICATION"


async def test_patch_rejects_unknown_and_read_only_properties(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{BASE}/invoices", json={"properties": {"hs_currency": "USD"}})
    invoice_id = r.json()["id"]
    for props in ({"nope": "1"}, {"hs_amount_billed": "5"}, {"hs_invoice_source": "hubspot"}):
        r = await client.patch(f"{BASE}/invoices/{invoice_id}", json={"properties": props})
        assert r.status_code == 400
        body = r.json()
        assert body["category"] == "VALIDATION_ERROR"
        assert body["status"] == "error" and body["correlationId"]


async def test_property_values_are_strings_and_timestamps_maintained(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(f"{BASE}/products", json={"properties": {"name": "A", "price": 12.5}})
    assert r.status_code == 201
    body = r.json()
    assert body["properties"]["price"] == "12.5"
    assert body["properties"]["hs_object_id"] == body["id"]
    assert body["properties"]["hs_createdate"].endswith("Z")
    sandbox_of(client).config.clock.advance(5)  # type: ignore[attr-defined]
    r = await client.patch(f"{BASE}/products/{body['id']}", json={"properties": {"price": ""}})
    updated = r.json()
    assert "price" not in updated["properties"] or updated["properties"]["price"] is None
    assert updated["updatedAt"] > body["updatedAt"]
    assert updated["properties"]["hs_lastmodifieddate"] == updated["updatedAt"]


async def test_batch_create_reports_partial_failures_with_207(client: httpx.AsyncClient) -> None:
    await _unique_prop(client, "contacts")
    r = await client.post(
        f"{BASE}/contacts/batch/create",
        json={
            "inputs": [
                {"properties": {"email": "a@x.com", "ledgerbridge_qbo_id": "1"}},
                {"properties": {"email": "b@x.com", "ledgerbridge_qbo_id": "1"}},
                {"properties": {"email": "c@x.com", "bogus": "1"}},
            ]
        },
    )
    assert r.status_code == 207
    body = r.json()
    assert body["status"] == "COMPLETE"
    assert len(body["results"]) == 1
    assert body["numErrors"] == 2
    categories = sorted(e["category"] for e in body["errors"])
    assert categories == ["CONFLICT", "VALIDATION_ERROR"]


async def test_batch_update_and_read_partial_failures(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{BASE}/contacts", json={"properties": {"email": "x@y.com"}})
    cid = r.json()["id"]
    r = await client.post(
        f"{BASE}/contacts/batch/update",
        json={
            "inputs": [
                {"id": cid, "properties": {"firstname": "X"}},
                {"id": "999999", "properties": {"firstname": "Y"}},
            ]
        },
    )
    assert r.status_code == 207
    assert r.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    r = await client.post(
        f"{BASE}/contacts/batch/read", json={"inputs": [{"id": cid}, {"id": "424242"}]}
    )
    assert r.status_code == 207
    assert r.json()["errors"][0]["context"] == {"ids": ["424242"]}
    r = await client.post(
        f"{BASE}/contacts/batch/read", json={"inputs": [{"id": str(i)} for i in range(101)]}
    )
    assert r.status_code == 400


async def test_upsert_by_unique_property_is_idempotent(client: httpx.AsyncClient) -> None:
    await _unique_prop(client, "invoices")
    inputs = [
        {"id": "Q-1", "idProperty": "ledgerbridge_qbo_id", "properties": {"hs_currency": "USD"}},
        {"id": "Q-2", "idProperty": "ledgerbridge_qbo_id", "properties": {"hs_currency": "EUR"}},
    ]
    first = await client.post(f"{BASE}/invoices/batch/upsert", json={"inputs": inputs})
    assert first.status_code == 200
    assert [x["new"] for x in first.json()["results"]] == [True, True]
    second = await client.post(f"{BASE}/invoices/batch/upsert", json={"inputs": inputs})
    assert [x["new"] for x in second.json()["results"]] == [False, False]
    assert len(sandbox_of(client).state.live("invoices")) == 2
    dup = await client.post(
        f"{BASE}/invoices",
        json={"properties": {"hs_currency": "USD", "ledgerbridge_qbo_id": "Q-1"}},
    )
    assert dup.status_code == 409
    assert dup.json()["category"] == "CONFLICT"
    read = await client.get(f"{BASE}/invoices/Q-2", params={"idProperty": "ledgerbridge_qbo_id"})
    assert read.status_code == 200
    dupes = await client.post(
        f"{BASE}/invoices/batch/upsert", json={"inputs": [inputs[0], inputs[0]]}
    )
    assert dupes.status_code == 400


async def test_list_paging_and_archive(client: httpx.AsyncClient) -> None:
    ids = []
    for i in range(5):
        r = await client.post(f"{BASE}/companies", json={"properties": {"name": f"C{i}"}})
        ids.append(r.json()["id"])
    r = await client.get(f"{BASE}/companies", params={"limit": 3})
    page = r.json()
    assert [x["id"] for x in page["results"]] == ids[:3]
    r = await client.get(
        f"{BASE}/companies", params={"limit": 3, "after": page["paging"]["next"]["after"]}
    )
    assert [x["id"] for x in r.json()["results"]] == ids[3:]
    assert "paging" not in r.json()
    assert (await client.delete(f"{BASE}/companies/{ids[0]}")).status_code == 204
    assert (await client.get(f"{BASE}/companies/{ids[0]}")).status_code == 404
    archived = await client.get(f"{BASE}/companies", params={"archived": "true"})
    assert [x["id"] for x in archived.json()["results"]] == [ids[0]]


async def test_associations_v4_labels_and_batch(client: httpx.AsyncClient) -> None:
    c = (await client.post(f"{BASE}/contacts", json={"properties": {"email": "l@x.com"}})).json()
    co = (await client.post(f"{BASE}/companies", json={"properties": {"name": "L"}})).json()
    labels = await client.get("/crm/v4/associations/contacts/companies/labels")
    assert {x["typeId"] for x in labels.json()["results"]} == {1, 279}
    r = await client.put(
        f"/crm/v4/objects/contacts/{c['id']}/associations/companies/{co['id']}",
        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
    )
    assert r.status_code == 201
    assert r.json()["labels"] == ["Primary"]
    r = await client.post(
        "/crm/v4/associations/companies/contacts/batch/read",
        json={"inputs": [{"id": co["id"]}, {"id": "777"}]},
    )
    assert r.status_code == 207
    assert r.json()["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 2
    v3 = await client.get(f"{BASE}/contacts/{c['id']}", params={"associations": "companies"})
    assert v3.json()["associations"]["companies"]["results"][0]["id"] == co["id"]
    r = await client.post(
        "/crm/v4/associations/contacts/companies/batch/archive",
        json={"inputs": [{"from": {"id": c["id"]}, "to": [{"id": co["id"]}]}]},
    )
    assert r.status_code == 204
    listed = await client.get(f"/crm/v4/objects/companies/{co['id']}/associations/contacts")
    assert listed.json()["results"] == []
    bad = await client.put(
        f"/crm/v4/objects/contacts/{c['id']}/associations/companies/{co['id']}",
        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 409}],
    )
    assert bad.status_code == 400
