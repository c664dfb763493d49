from __future__ import annotations

from decimal import Decimal

import httpx

from tests.sandbox.qbo.conftest import BASE, Api, fault_code


async def test_customer_create_read_shape(api: Api) -> None:
    created = await api.customer("Ada Lovelace", PrimaryEmailAddr={"Address": "ada@example.com"})
    assert created["Id"].isdigit()
    assert created["SyncToken"] == "0"
    assert created["DisplayName"] == "Ada Lovelace"
    assert created["FullyQualifiedName"] == "Ada Lovelace"
    assert created["Active"] is True
    assert created["Balance"] == 0
    assert created["MetaData"]["CreateTime"] == "2026-03-02T15:00:00+00:00"
    assert created["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    read = await api.get("Customer", created["Id"])
    assert read == created


async def test_invoice_computes_lines_totals_and_defaults(api: Api) -> None:
    customer = await api.customer(
        "Bob", PrimaryEmailAddr={"Address": "bob@example.com"}, BillAddr={"Line1": "1 Main St"}
    )
    item = await api.item("Widget")
    line = {
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 3, "UnitPrice": 19.99},
    }
    discount = {
        "DetailType": "DiscountLineDetail",
        "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
    }
    invoice = await api.ok(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [line, discount],
            "TxnTaxDetail": {"TotalTax": 4.5},
        },
    )
    lines = invoice["Line"]
    assert [entry["DetailType"] for entry in lines] == [
        "SalesItemLineDetail",
        "SubTotalLineDetail",
        "DiscountLineDetail",
    ]
    assert lines[0]["Amount"] == 59.97
    assert lines[0]["Id"] == "1" and lines[0]["LineNum"] == 1
    assert lines[0]["SalesItemLineDetail"]["ItemRef"] == {"value": item["Id"], "name": "Widget"}
    assert lines[1]["Amount"] == 59.97
    assert lines[2]["Amount"] == 6.0
    assert invoice["TotalAmt"] == 58.47  # 59.97 - 6.00 + 4.50
    assert invoice["Balance"] == 58.47
    assert invoice["DocNumber"] == "1001"
    assert invoice["TxnDate"] == "2026-03-02"
    assert invoice["CustomerRef"] == {"value": customer["Id"], "name": "Bob"}
    assert invoice["BillEmail"] == {"Address": "bob@example.com"}
    assert invoice["BillAddr"]["Line1"] == "1 Main St"
    second = await api.invoice(customer["Id"], item["Id"])
    assert second["DocNumber"] == "1002"
    assert (await api.get("Customer", customer["Id"]))["Balance"] == 158.47


async def test_payment_reduces_invoice_balance_and_links(api: Api) -> None:
    customer = await api.customer("Carol")
    item = await api.item("Gadget")
    invoice = await api.invoice(customer["Id"], item["Id"], qty=2, price="50")
    payment = await api.ok(
        "Payment",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": 70,
            "Line": [{"Amount": 60, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
        },
    )
    assert payment["UnappliedAmt"] == 10
    updated = await api.get("Invoice", invoice["Id"])
    assert updated["Balance"] == 40
    assert updated["SyncToken"] == "1"
    assert updated["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    assert (await api.get("Customer", customer["Id"]))["Balance"] == 30
    too_much = await api.post(
        "Payment",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": 50,
            "Line": [{"Amount": 50, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
        },
    )
    assert too_much.status_code == 400 and fault_code(too_much) == "6000"


async def test_sparse_and_full_update(api: Api) -> None:
    customer = await api.customer("Dan", CompanyName="Dan Co", Notes="vip")
    sparse = await api.ok(
        "Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "regular"}
    )
    assert sparse["SyncToken"] == "1"
    assert sparse["CompanyName"] == "Dan Co" and sparse["Notes"] == "regular"
    full = await api.ok("Customer", {"Id": customer["Id"], "SyncToken": "1", "DisplayName": "Dan"})
    assert "CompanyName" not in full and "Notes" not in full  # omitted fields are cleared
    assert full["SyncToken"] == "2"


async def test_stale_sync_token_is_5010(api: Api) -> None:
    customer = await api.customer("Eve")
    await api.ok("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"})
    stale = await api.post(
        "Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "y"}
    )
    assert stale.status_code == 400
    body = stale.json()
    assert body["Fault"]["type"] == "ValidationFault"
    assert body["Fault"]["Error"][0]["code"] == "5010"
    assert body["Fault"]["Error"][0]["Message"] == "Stale Object Error"
    assert "time" in body


async def test_invoice_void_keeps_lines_and_zeroes_amounts(api: Api) -> None:
    customer = await api.customer("Fay")
    item = await api.item("Thing")
    invoice = await api.invoice(customer["Id"], item["Id"], PrivateNote="first")
    voided = await api.ok("Invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="void")
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert len(voided["Line"]) == len(invoice["Line"])
    assert all(line["Amount"] == 0 for line in voided["Line"])
    assert voided["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] == item["Id"]
    assert voided["PrivateNote"].startswith("Voided")
    assert voided["SyncToken"] == "1"


async def test_payment_void_restores_invoice_balance(api: Api) -> None:
    customer = await api.customer("Gus")
    item = await api.item("Part")
    invoice = await api.invoice(customer["Id"], item["Id"])
    payment = await api.ok(
        "Payment",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": 100,
            "Line": [
                {"Amount": 100, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    assert (await api.get("Invoice", invoice["Id"]))["Balance"] == 0
    blocked = await api.post("Invoice", {"Id": invoice["Id"], "SyncToken": "1"}, operation="void")
    assert fault_code(blocked) == "6000"
    voided = await api.ok(
        "Payment",
        {"Id": payment["Id"], "SyncToken": "0", "sparse": True},
        operation="update",
        include="void",
    )
    assert voided["TotalAmt"] == 0
    assert voided["PrivateNote"] == "Voided"
    assert (await api.get("Invoice", invoice["Id"]))["Balance"] == 100


async def test_delete_transaction_and_not_on_lists(api: Api, client: httpx.AsyncClient) -> None:
    customer = await api.customer("Hal")
    item = await api.item("Bolt")
    invoice = await api.invoice(customer["Id"], item["Id"])
    deleted = await api.ok("Invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="delete")
    assert deleted == {"Id": invoice["Id"], "status": "Deleted", "domain": "QBO"}
    missing = await client.get(f"{BASE}/invoice/{invoice['Id']}")
    assert missing.status_code == 400 and fault_code(missing) == "610"
    refused = await api.post(
        "Customer", {"Id": customer["Id"], "SyncToken": "0"}, operation="delete"
    )
    assert fault_code(refused) == "500"
    deactivated = await api.ok(
        "Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False}
    )
    assert deactivated["Active"] is False
    assert deactivated["DisplayName"] == "Hal (deleted)"


async def test_other_entities_round_trip(api: Api) -> None:
    customer = await api.customer("Ida")
    item = await api.item("Svc", price="10")
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": 10,
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1, "UnitPrice": 10},
    }
    base = {"CustomerRef": {"value": customer["Id"]}, "Line": [line]}
    estimate = await api.ok("Estimate", base)
    assert estimate["TxnStatus"] == "Pending" and estimate["TotalAmt"] == 10
    receipt = await api.ok("SalesReceipt", base)
    assert receipt["Balance"] == 0
    assert receipt["DepositToAccountRef"]["name"] == "Undeposited Funds"
    memo = await api.ok("CreditMemo", base)
    assert memo["RemainingCredit"] == 10
    refund = await api.post("RefundReceipt", base)
    assert fault_code(refund) == "2020"
    bank = await api.query("SELECT * FROM Account WHERE AccountType = 'Bank'")
    refund_ok = await api.ok(
        "RefundReceipt", {**base, "DepositToAccountRef": {"value": bank["Account"][0]["Id"]}}
    )
    assert refund_ok["TotalAmt"] == 10
    expense = await api.ok(
        "Purchase",
        {
            "AccountRef": {"value": bank["Account"][0]["Id"]},
            "PaymentType": "Cash",
            "Line": [
                {
                    "Amount": 42.5,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "12"}},
                }
            ],
        },
    )
    assert expense["TotalAmt"] == 42.5
    term = await api.ok("Term", {"Name": "Net 45", "DueDays": 45})
    assert term["Type"] == "STANDARD"
    method = await api.ok("PaymentMethod", {"Name": "Wire"})
    assert method["Active"] is True
    account = await api.ok("Account", {"Name": "Consulting income", "AccountType": "Income"})
    assert account["Classification"] == "Revenue"


async def test_company_info_and_preferences(client: httpx.AsyncClient) -> None:
    info = await client.get(f"{BASE}/companyinfo/1000000001")
    assert info.json()["CompanyInfo"]["Country"] == "US"
    prefs = (await client.get(f"{BASE}/preferences")).json()["Preferences"]
    assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is False
    updated = await client.post(
        f"{BASE}/preferences",
        json={
            "Id": "1",
            "SyncToken": prefs["SyncToken"],
            "sparse": True,
            "SalesFormsPrefs": {"CustomTxnNumbers": True},
        },
    )
    assert updated.status_code == 200
    assert updated.json()["Preferences"]["SalesFormsPrefs"]["CustomTxnNumbers"] is True


async def test_amounts_are_decimal_inside(api: Api, sandbox: object) -> None:
    customer = await api.customer("Jo")
    item = await api.item("Cent", price="0.1")
    invoice = await api.invoice(customer["Id"], item["Id"], qty=3, price="0.1")
    assert invoice["TotalAmt"] == 0.3
    stored = sandbox.realms["1000000001"].get("Invoice", invoice["Id"])  # type: ignore[attr-defined]
    assert stored["TotalAmt"] == Decimal("0.30")
