"""Every business-rule Fault, the Fault JSON shape and the 401 body."""

from __future__ import annotations

import httpx

from ledgerbridge.sandbox.qbo import Sandbox
from tests.sandbox.qbo.conftest import BASE, REALM, Api, fault_code


def _sales_line(item_id: str, **detail: object) -> dict[str, object]:
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": 100,
        "SalesItemLineDetail": {"ItemRef": {"value": item_id}, **detail},
    }


async def test_fault_shape(api: Api) -> None:
    response = await api.post("Invoice", {"Line": []})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"Fault", "time"}
    assert body["Fault"]["type"] == "ValidationFault"
    error = body["Fault"]["Error"][0]
    assert set(error) >= {"Message", "Detail", "code"}
    assert error["code"] == "2020" and error["element"] == "CustomerRef"


async def test_display_name_unique_across_customers_vendors_employees(api: Api) -> None:
    await api.customer("Shared Name")
    for entity in ("Customer", "Vendor", "Employee"):
        clash = await api.post(entity, {"DisplayName": "shared name"})
        assert clash.status_code == 400 and fault_code(clash) == "6240", entity
        assert clash.json()["Fault"]["Error"][0]["Message"] == "Duplicate Name Exists Error"
    vendor = await api.ok("Vendor", {"DisplayName": "Vendor Only"})
    clash = await api.post("Customer", {"DisplayName": "Vendor Only"})
    assert fault_code(clash) == "6240"
    renamed = await api.post(
        "Customer",
        {"Id": "1", "SyncToken": "0", "sparse": True, "DisplayName": vendor["DisplayName"]},
    )
    assert fault_code(renamed) == "6240"


async def test_duplicate_doc_number_only_with_custom_numbers(api: Api, sandbox: Sandbox) -> None:
    customer = await api.customer("Doc")
    item = await api.item("Doc item")
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "Line": [_sales_line(item["Id"])],
        "DocNumber": "A-1",
    }
    await api.ok("Invoice", body)
    await api.ok("Invoice", body)  # custom numbers off: no check
    sandbox.realms[REALM].settings.custom_txn_numbers = True
    dup = await api.post("Invoice", body)
    assert dup.status_code == 400 and fault_code(dup) == "6210"
    assert "DocNumber=A-1" in dup.json()["Fault"]["Error"][0]["Detail"]
    allowed = await api.post("Invoice", body, include="allowduplicatedocnum")
    assert allowed.status_code == 200
    unnumbered = await api.ok("Invoice", {**body, "DocNumber": None})
    assert "DocNumber" not in unnumbered


async def test_invalid_reference_2500_and_inactive_610(api: Api, client: httpx.AsyncClient) -> None:
    customer = await api.customer("Refs")
    missing_item = await api.post(
        "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [_sales_line("424242")]}
    )
    assert fault_code(missing_item) == "2500"
    assert missing_item.json()["Fault"]["Error"][0]["element"] == (
        "Line.SalesItemLineDetail.ItemRef"
    )
    missing_customer = await api.post(
        "Invoice", {"CustomerRef": {"value": "999"}, "Line": [_sales_line("1")]}
    )
    assert fault_code(missing_customer) == "2500"
    item = await api.item("Retired")
    await api.ok("Item", {"Id": item["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    inactive = await api.post(
        "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [_sales_line(item["Id"])]}
    )
    assert fault_code(inactive) == "610"
    not_found = await client.get(f"{BASE}/customer/31337")
    assert not_found.status_code == 400 and fault_code(not_found) == "610"
    assert not_found.json()["Fault"]["Error"][0]["Message"] == "Object Not Found"
    update_missing = await api.post(
        "Customer", {"Id": "31337", "SyncToken": "0", "DisplayName": "x"}
    )
    assert fault_code(update_missing) == "610"


async def test_tax_required_for_non_us_company(api: Api, client: httpx.AsyncClient) -> None:
    customer = await api.customer("Maple")
    item = await api.item("Poutine")
    changed = await client.patch(f"/_sandbox/realms/{REALM}/settings", json={"country": "CA"})
    assert changed.json()["country"] == "CA"
    body = {"CustomerRef": {"value": customer["Id"]}, "Line": [_sales_line(item["Id"])]}
    untaxed = await api.post("Invoice", body)
    assert untaxed.status_code == 400 and fault_code(untaxed) == "6000"
    assert "tax" in untaxed.json()["Fault"]["Error"][0]["Detail"].lower()
    taxed = await api.ok(
        "Invoice", {**body, "Line": [_sales_line(item["Id"], TaxCodeRef={"value": "2"})]}
    )
    assert taxed["TxnTaxDetail"]["TotalTax"] == 5  # 5 % GST on 100
    assert taxed["TotalAmt"] == 105
    bad_code = await api.post(
        "Invoice", {**body, "Line": [_sales_line(item["Id"], TaxCodeRef={"value": "77"})]}
    )
    assert fault_code(bad_code) == "2500"


async def test_service_date_required_with_revenue_recognition(api: Api, sandbox: Sandbox) -> None:
    customer = await api.customer("Deferred")
    item = await api.item("Subscription")
    sandbox.realms[REALM].settings.revenue_recognition = True
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "Line": [_sales_line(item["Id"], ServiceDate="2026-03-01"), _sales_line(item["Id"])],
    }
    missing = await api.post("Invoice", body)
    assert missing.status_code == 400 and fault_code(missing) == "6000"
    error = missing.json()["Fault"]["Error"][0]
    assert "Service Date" in error["Detail"]
    assert error["element"] == "Line.SalesItemLineDetail.ServiceDate"
    body["Line"][1] = _sales_line(item["Id"], ServiceDate="2026-03-02")  # type: ignore[index]
    assert (await api.post("Invoice", body)).status_code == 200


async def test_amount_must_match_qty_times_price(api: Api) -> None:
    customer = await api.customer("Math")
    item = await api.item("Calc")
    wrong = await api.post(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [_sales_line(item["Id"], Qty=2, UnitPrice=30)],
        },
    )
    assert fault_code(wrong) == "6070"


async def test_401_body_for_missing_and_bad_token(client: httpx.AsyncClient) -> None:
    for headers in ({"Authorization": "Bearer nope"}, {"Authorization": ""}):
        response = await client.get(f"{BASE}/customer/1", headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["fault"]["type"] == "AUTHENTICATION"
        error = body["fault"]["error"][0]
        assert error["code"] == "3200"
        assert error["message"] == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
        assert "requestId" in body and isinstance(body["time"], int)


async def test_unknown_realm_is_403(client: httpx.AsyncClient) -> None:
    response = await client.get("/v3/company/42/customer/1")
    assert response.status_code == 403
    assert response.json()["Fault"]["type"] == "AuthorizationFault"


async def test_malformed_body_and_unknown_entity(client: httpx.AsyncClient) -> None:
    bad = await client.post(f"{BASE}/customer", content=b"{not json")
    assert bad.status_code == 400 and fault_code(bad) == "2010"
    unknown = await client.post(f"{BASE}/spaceship", json={"Name": "x"})
    assert fault_code(unknown) == "2010"
