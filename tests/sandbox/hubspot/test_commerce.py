from __future__ import annotations

import httpx

from .conftest import sandbox_of

BASE = "/crm/v3/objects"


async def _create(client: httpx.AsyncClient, object_type: str, **props: str) -> str:
    r = await client.post(f"{BASE}/{object_type}", json={"properties": props})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _assoc(client: httpx.AsyncClient, a: str, a_id: str, b: str, b_id: str) -> None:
    r = await client.put(f"/crm/v4/objects/{a}/{a_id}/associations/default/{b}/{b_id}")
    assert r.status_code == 200, r.text


async def _invoice(client: httpx.AsyncClient, invoice_id: str) -> dict[str, str]:
    r = await client.get(
        f"{BASE}/invoices/{invoice_id}",
        params={
            "properties": "hs_subtotal,hs_tax,hs_amount_billed,hs_amount_paid,hs_balance_due,"
            "hs_invoice_status,hs_number,hs_invoice_source,hs_due_date,hs_invoice_date"
        },
    )
    props: dict[str, str] = r.json()["properties"]
    return props


async def test_currency_is_required_and_dates_are_defaulted(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{BASE}/invoices", json={"properties": {}})
    assert r.status_code == 400
    invoice_id = await _create(client, "invoices", hs_currency="USD")
    props = await _invoice(client, invoice_id)
    assert props["hs_invoice_status"] == "draft"
    assert props["hs_invoice_date"] < props["hs_due_date"]
    assert props["hs_invoice_source"] == "integration"


async def test_amounts_from_line_items_discount_tax_and_payments(client: httpx.AsyncClient) -> None:
    contact = await _create(client, "contacts", email="pay@x.com")
    invoice = await _create(client, "invoices", hs_currency="USD", hs_discount_amount="5")
    a = await _create(client, "line_items", name="A", quantity="3", price="10", discount="1")
    b = await _create(
        client,
        "line_items",
        name="B",
        quantity="1",
        price="200",
        hs_discount_percentage="10",
        hs_tax_amount="18",
    )
    assert (await client.get(f"{BASE}/line_items/{a}", params={"properties": "amount"})).json()[
        "properties"
    ]["amount"] == "27.00"
    for line in (a, b):
        await _assoc(client, "invoices", invoice, "line_items", line)
    await _assoc(client, "invoices", invoice, "contacts", contact)
    props = await _invoice(client, invoice)
    # 27 + 180 - 5 + 18
    assert props["hs_subtotal"] == "207.00"
    assert props["hs_amount_billed"] == "220.00"
    assert props["hs_balance_due"] == "220.00"
    r = await client.patch(
        f"{BASE}/invoices/{invoice}", json={"properties": {"hs_invoice_status": "open"}}
    )
    assert r.status_code == 200
    assert r.json()["properties"]["hs_number"].startswith("INV-")
    payment = await _create(
        client,
        "commerce_payments",
        hs_initial_amount="100",
        hs_latest_status="succeeded",
        hs_payment_source="invoice",
        hs_processor_type="stripe",
        hs_processing_fee="3.20",
    )
    await _assoc(client, "invoices", invoice, "commerce_payments", payment)
    props = await _invoice(client, invoice)
    assert (props["hs_amount_paid"], props["hs_balance_due"]) == ("100.00", "120.00")
    assert props["hs_invoice_status"] == "open"
    second = await _create(client, "commerce_payments", hs_initial_amount="120")
    await _assoc(client, "invoices", invoice, "commerce_payments", second)
    props = await _invoice(client, invoice)
    assert (props["hs_balance_due"], props["hs_invoice_status"]) == ("0.00", "paid")
    r = await client.get(
        f"{BASE}/commerce_payments/{payment}", params={"properties": "hs_net_amount"}
    )
    assert r.json()["properties"]["hs_net_amount"] == "96.80"
    # a refund re-opens the invoice
    await client.patch(
        f"{BASE}/commerce_payments/{second}", json={"properties": {"hs_refunds_amount": "20"}}
    )
    props = await _invoice(client, invoice)
    assert (props["hs_balance_due"], props["hs_invoice_status"]) == ("20.00", "open")


async def test_status_rules(client: httpx.AsyncClient) -> None:
    invoice = await _create(client, "invoices", hs_currency="USD")
    r = await client.patch(
        f"{BASE}/invoices/{invoice}", json={"properties": {"hs_invoice_status": "open"}}
    )
    assert r.status_code == 400  # needs a contact and line items first
    r = await client.patch(
        f"{BASE}/invoices/{invoice}", json={"properties": {"hs_invoice_status": "voided"}}
    )
    assert r.status_code == 200
    r = await client.patch(f"{BASE}/invoices/{invoice}", json={"properties": {"hs_title": "x"}})
    assert r.status_code == 400
    r = await client.post(
        f"{BASE}/invoices", json={"properties": {"hs_currency": "USD", "hs_invoice_status": "Open"}}
    )
    assert r.status_code == 400


async def test_invoice_made_in_hubspot_and_finalized_by_a_user(client: httpx.AsyncClient) -> None:
    r = await client.post("/_sandbox/objects/invoices", json={"properties": {"hs_currency": "EUR"}})
    invoice = r.json()["id"]
    assert r.json()["properties"]["hs_invoice_source"] == "hubspot"
    contact = await _create(client, "contacts", email="u@x.com")
    line = await _create(client, "line_items", name="L", quantity="1", price="5")
    await _assoc(client, "invoices", invoice, "contacts", contact)
    await _assoc(client, "invoices", invoice, "line_items", line)
    r = await client.post(f"/_sandbox/invoices/{invoice}/finalize")
    assert r.json()["properties"]["hs_invoice_status"] == "open"
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "hs_invoice_source", "operator": "EQ", "value": "hubspot"}
                ]
            }
        ]
    }
    r = await client.post(f"{BASE}/invoices/search", json=body)
    assert [x["id"] for x in r.json()["results"]] == [invoice]
    state = sandbox_of(client).state
    assert state.get("invoices", invoice).properties["hs_number"].startswith("INV-")


async def test_a_batch_of_lines_sums_each_invoice_once(client: httpx.AsyncClient) -> None:
    """Three lines created in one batch, each naming its invoice: the invoice's totals are
    those of all three, set once for the batch (one value in their history for it, as a
    calculated property that HubSpot updates after the write), not once per line and
    again per association."""
    invoice = await _create(client, "invoices", hs_currency="USD")
    to_invoice = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 410}]
    lines = [
        {
            "properties": {"name": f"L{n}", "quantity": "1", "price": str(10 * n)},
            "associations": [{"to": {"id": invoice}, "types": to_invoice}],
        }
        for n in (1, 2, 3)
    ]
    r = await client.post(f"{BASE}/line_items/batch/create", json={"inputs": lines})
    assert r.status_code == 201, r.text
    assert (await _invoice(client, invoice))["hs_subtotal"] == "60.00"
    r = await client.get(
        f"{BASE}/invoices/{invoice}", params={"propertiesWithHistory": "hs_subtotal"}
    )
    history = r.json()["propertiesWithHistory"]["hs_subtotal"]
    assert [h["value"] for h in history] == ["60.00", "0.00"]  # newest first
