"""PDF of sales forms and the send operation."""

from __future__ import annotations

import httpx

from ledgerbridge.sandbox.qbo.pdf import render
from tests.sandbox.qbo.conftest import BASE, Api, fault_code


async def test_invoice_and_estimate_pdf(api: Api, client: httpx.AsyncClient) -> None:
    customer = await api.customer("Pdf Paula")
    item = await api.item("Printed work", price="80")
    invoice = await api.invoice(customer["Id"], item["Id"], qty=2, price="80")
    response = await client.get(
        f"{BASE}/invoice/{invoice['Id']}/pdf", headers={"Accept": "application/pdf"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and response.content.rstrip().endswith(b"%%EOF")
    for text in (
        b"INVOICE",
        invoice["DocNumber"].encode(),
        b"Pdf Paula",
        b"Printed work",
        b"160.00",
    ):
        assert text in response.content
    await api.ok("Invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="void")
    voided = await client.get(f"{BASE}/invoice/{invoice['Id']}/pdf")
    assert b"VOIDED" in voided.content
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 80,
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
    }
    estimate = await api.ok("Estimate", {"CustomerRef": {"value": customer["Id"]}, "Line": [line]})
    est_pdf = await client.get(f"{BASE}/estimate/{estimate['Id']}/pdf")
    assert b"ESTIMATE" in est_pdf.content
    missing = await client.get(f"{BASE}/invoice/999/pdf")
    assert missing.status_code == 400 and fault_code(missing) == "610"
    unsupported = await client.get(f"{BASE}/customer/{customer['Id']}/pdf")
    assert fault_code(unsupported) == "500"


async def test_send_sets_email_status(api: Api, client: httpx.AsyncClient) -> None:
    customer = await api.customer("Mail Mo", PrimaryEmailAddr={"Address": "mo@example.com"})
    item = await api.item("Mailed")
    invoice = await api.invoice(customer["Id"], item["Id"])
    sent = await client.post(
        f"{BASE}/invoice/{invoice['Id']}/send",
        params={"sendTo": "boss@example.com"},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert sent.status_code == 200
    body = sent.json()["Invoice"]
    assert body["EmailStatus"] == "EmailSent"
    assert body["BillEmail"] == {"Address": "boss@example.com"}
    assert body["SyncToken"] == "1"


def test_a_pdf_is_stamped_with_its_document_s_last_change() -> None:
    """The same version of a document renders to the same bytes (the PDF carried the
    clock's second, so two reads across a second boundary differed)."""
    doc = {
        "Id": "7",
        "DocNumber": "1007",
        "CustomerRef": {"value": "1", "name": "Ann"},
        "Line": [],
        "TotalAmt": 0,
        "MetaData": {"LastUpdatedTime": "2026-01-15T01:02:03-08:00"},
    }
    first = render("Invoice", doc, "Sandbox Company", voided=False)
    assert b"/CreationDate (D:20260115010203-08'00')" in first
    assert render("Invoice", doc, "Sandbox Company", voided=False) == first
