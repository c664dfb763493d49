"""The query language subset: operators, ordering, paging across 2,500 rows, count."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from ledgerbridge.sandbox.qbo import Sandbox
from ledgerbridge.sandbox.qbo.query import parse
from tests.sandbox.qbo.conftest import BASE, REALM, Api, fault_code


def _bulk_customers(sandbox: Sandbox, count: int) -> None:
    realm = sandbox.realms[REALM]
    for n in range(count):
        realm.insert(
            "Customer",
            {
                "DisplayName": f"Bulk {n:04d}",
                "Active": True,
                "Balance": Decimal(n % 7),
                "CompanyName": f"Co {n % 10}",
            },
            sandbox.now(),
        )


async def test_paging_2500_rows_with_startposition_and_maxresults(
    api: Api, sandbox: Sandbox
) -> None:
    _bulk_customers(sandbox, 2500)
    assert (await api.query("SELECT COUNT(*) FROM Customer"))["totalCount"] == 2500
    seen: list[str] = []
    start = 1
    while True:
        page = await api.query(
            f"SELECT * FROM Customer ORDERBY DisplayName STARTPOSITION {start} MAXRESULTS 1000"
        )
        rows = page.get("Customer", [])
        if not rows:
            assert page == {}
            break
        assert page["startPosition"] == start and page["maxResults"] == len(rows)
        seen.extend(r["DisplayName"] for r in rows)
        start += len(rows)
    assert len(seen) == 2500 and len(set(seen)) == 2500
    assert seen == sorted(seen)
    capped = await api.query("SELECT * FROM Customer MAXRESULTS 5000")
    assert len(capped["Customer"]) == 1000
    default = await api.query("select * from Customer")
    assert len(default["Customer"]) == 100


async def test_operators(api: Api, sandbox: Sandbox) -> None:
    _bulk_customers(sandbox, 30)

    async def names(where: str) -> list[str]:
        page = await api.query(f"SELECT * FROM Customer WHERE {where} ORDERBY DisplayName")
        return [r["DisplayName"] for r in page.get("Customer", [])]

    assert await names("DisplayName = 'Bulk 0003'") == ["Bulk 0003"]
    assert await names("DisplayName IN ('Bulk 0001', 'Bulk 0002', 'nope')") == [
        "Bulk 0001",
        "Bulk 0002",
    ]
    assert len(await names("DisplayName LIKE 'Bulk 001%'")) == 10
    assert len(await names("DisplayName LIKE '%9'")) == 3
    assert await names("Balance > 5 AND DisplayName < 'Bulk 0010'") == ["Bulk 0006"]
    assert len(await names("Balance >= 6")) == 4
    assert len(await names("Balance <= 0")) == 5
    assert len(await names("Id < '4'")) == 3
    assert len(await names("MetaData.LastUpdatedTime >= '2026-03-01T00:00:00Z'")) == 30
    assert await names("CompanyName = 'Co 3' AND Balance < 3") == ["Bulk 0023"]


async def test_refs_booleans_order_desc_and_inactive(api: Api) -> None:
    a = await api.customer("Zed")
    b = await api.customer("Amy")
    await api.ok("Customer", {"Id": b["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    item = await api.item("Q")
    inv = await api.invoice(a["Id"], item["Id"])
    page = await api.query(f"SELECT * FROM Invoice WHERE CustomerRef = '{a['Id']}'")
    assert [r["Id"] for r in page["Invoice"]] == [inv["Id"]]
    active = await api.query("SELECT * FROM Customer ORDER BY DisplayName DESC")
    assert [r["DisplayName"] for r in active["Customer"]] == ["Zed"]
    everyone = await api.query("SELECT * FROM Customer WHERE Active IN (true, false)")
    assert len(everyone["Customer"]) == 2
    inactive = await api.query("SELECT * FROM Customer WHERE Active = false")
    assert [r["DisplayName"] for r in inactive["Customer"]] == ["Amy (deleted)"]
    escaped = await api.customer("O'Brien")
    found = await api.query("SELECT * FROM Customer WHERE DisplayName = 'O\\'Brien'")
    assert found["Customer"][0]["Id"] == escaped["Id"]


async def test_post_query_as_python_quickbooks_sends_it(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{BASE}/query",
        content=b"SELECT *, Sku FROM Item",
        headers={"Content-Type": "application/text"},
    )
    assert response.status_code == 200
    assert response.json()["QueryResponse"] == {}


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'",
        "SELECT * FROM customer",
        "SELECT * FROM Customer WHERE",
        "DELETE FROM Customer",
        "SELECT * FROM Customer WHERE Balance != 3",
        "SELECT * FROM Customer MAXRESULTS ten",
    ],
)
async def test_parse_errors_are_4000(client: httpx.AsyncClient, text: str) -> None:
    response = await client.get(f"{BASE}/query", params={"query": text})
    assert response.status_code == 400
    assert fault_code(response) == "4000"


def test_parser_structure() -> None:
    query = parse(
        "select count(*) from Invoice where TotalAmt >= 10.5 and DocNumber like 'A%' "
        "orderby TxnDate desc, Id startposition 11 maxresults 20"
    )
    assert query.count and query.entity == "Invoice"
    assert [(c.path, c.op) for c in query.where] == [("TotalAmt", ">="), ("DocNumber", "LIKE")]
    assert query.where[0].value == Decimal("10.5")
    assert query.order == [("TxnDate", True), ("Id", False)]
    assert (query.start, query.max_results) == (11, 20)
