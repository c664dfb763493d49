"""One contract for the QBO connector, run against the sandbox in-process and over real HTTP.

Request counts are asserted, never durations.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import ClassVar

import pytest

from ledgerbridge.domain import Invoice, InvoiceStatus, Line, Money, RecordRef, System
from ledgerbridge.qbo.batch import BatchOp
from ledgerbridge.qbo.changes import read_changes
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.codec import invoice_from_qbo, invoice_to_qbo
from ledgerbridge.qbo.ids import request_id_for
from ledgerbridge.sandbox.qbo.config import DEFAULT_REALM
from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    SyncError,
    TerminalError,
)
from ledgerbridge.transport.oauth import OAuthTokenManager, exchange_code
from ledgerbridge.transport.tokens import MemoryTokenStore, TokenSet

from .conftest import Env, EnvFactory

# Seed 4 makes the sandbox inject at least one 429, one 500 and one timeout after commit
# in this test's request sequence (measured: 39 batch requests, 3×429, 1×500, 1 timeout).
# The seed is one under which each kind of fault happens at least once (asserted below).
FAULTS = {"rate_429": 0.05, "rate_500": 0.02, "timeout_after_commit_rate": 0.01, "seed": 6}


async def customer_and_item(client: QboClient) -> tuple[str, str]:
    """Look-ups for invoice tests: 1 account query + 1 customer create + 1 item create."""
    accounts = await client.query_all("SELECT * FROM Account WHERE AccountType = 'Income'")
    customer = await client.create(
        "Customer", {"DisplayName": "Contract Co"}, request_id=request_id_for("cust")
    )
    item = await client.create(
        "Item",
        {
            "Name": "Consulting",
            "Type": "Service",
            "UnitPrice": 100,
            "IncomeAccountRef": {"value": accounts[0]["Id"]},
        },
        request_id=request_id_for("item"),
    )
    return customer["Id"], item["Id"]


def invoice_ops(count: int, customer_id: str, item_id: str, tag: str = "c") -> list[BatchOp]:
    ops = []
    for i in range(count):
        invoice = Invoice(
            currency="USD",
            number=f"{tag}-{i}",
            issue_date=dt.date(2026, 1, 15),
            customer=RecordRef(System.QUICKBOOKS, customer_id),
            lines=(
                Line(
                    description=f"Work {i}",
                    quantity=Decimal(2),
                    unit_price=Money(Decimal("12.34"), "USD"),
                    product=RecordRef(System.QUICKBOOKS, item_id),
                ),
            ),
        )
        ops.append(
            BatchOp.create(
                "Invoice", invoice_to_qbo(invoice), request_id=request_id_for(tag, "inv", str(i))
            )
        )
    return ops


def stored_invoices(env: Env) -> list[dict[str, object]]:
    return list(env.sandbox.realms[DEFAULT_REALM].table("Invoice").values())


class QboContract:
    mode: ClassVar[str]

    async def test_1000_invoices_under_faults_exactly_once(self, make_env: EnvFactory) -> None:
        env = await make_env(faults=FAULTS, read_timeout=0.5)
        customer_id, item_id = await customer_and_item(env.qbo)
        ops = invoice_ops(1000, customer_id, item_id)
        results = await env.qbo.batch(ops)
        errors = [r for r in results if isinstance(r, SyncError)]
        assert errors == []
        numbers = [str(inv["DocNumber"]) for inv in stored_invoices(env)]
        assert len(numbers) == 1000
        assert sorted(numbers) == sorted(f"c-{i}" for i in range(1000))  # none twice
        assert [r["DocNumber"] for r in results if isinstance(r, dict)] == [
            f"c-{i}" for i in range(1000)
        ]
        assert await env.qbo.count("Invoice") == 1000
        # the faults did happen, and the retries stayed idempotent
        statuses, timeouts = env.transport.statuses, env.transport.timeouts
        assert statuses[429] >= 1
        assert statuses[500] >= 1
        assert timeouts >= 1
        assert env.time.slept > 0

    async def test_creating_1000_invoices_takes_34_batch_requests(
        self, make_env: EnvFactory
    ) -> None:
        env = await make_env()
        customer_id, item_id = await customer_and_item(env.qbo)
        lookups = len(env.transport.requests)
        assert lookups == 3  # 1 account query + customer + item
        results = await env.qbo.batch(invoice_ops(1000, customer_id, item_id))
        assert all(isinstance(r, dict) for r in results)
        assert env.transport.count("/batch") == 34
        assert len(env.transport.requests) == lookups + 34

    async def test_reading_2500_invoices_takes_3_queries(self, make_env: EnvFactory) -> None:
        env = await make_env()
        customer_id, item_id = await customer_and_item(env.qbo)
        await env.qbo.batch(invoice_ops(2500, customer_id, item_id))
        before = env.transport.count("/query")
        rows = await env.qbo.query_all("SELECT * FROM Invoice")
        assert len(rows) == 2500
        assert len({row["Id"] for row in rows}) == 2500
        assert env.transport.count("/query") - before == 3

    async def test_batch_items_fail_on_their_own(self, make_env: EnvFactory) -> None:
        env = await make_env()
        ops = [
            BatchOp.create("Customer", {"DisplayName": "Same"}, request_id="a" * 10),
            BatchOp.create("Customer", {"DisplayName": "Other"}, request_id="b" * 10),
            BatchOp.create("Customer", {"DisplayName": "Bad:name"}, request_id="c" * 10),
            BatchOp.query("SELECT * FROM Customer", request_id="d" * 10),
        ]
        first = await env.qbo.batch(ops[:1])
        assert isinstance(first[0], dict)
        again = await env.qbo.batch(
            [BatchOp.create("Customer", {"DisplayName": "Same"}, request_id="e" * 10), *ops[1:]],
            chunk_size=2,
        )
        assert isinstance(again[0], TerminalError)
        assert again[0].category is ErrorCategory.DUPLICATE_DISPLAY_NAME
        assert isinstance(again[1], dict) and again[1]["DisplayName"] == "Other"
        assert isinstance(again[2], TerminalError)
        assert again[2].category is ErrorCategory.VALIDATION
        assert isinstance(again[3], dict)
        assert env.transport.count("/batch") == 3

    async def test_stale_update_rereads_the_sync_token(self, make_env: EnvFactory) -> None:
        env = await make_env()
        created = await env.qbo.create(
            "Customer", {"DisplayName": "Stale Ltd"}, request_id=request_id_for("stale")
        )
        await env.qbo.update(
            "Customer",
            {"Id": created["Id"], "SyncToken": created["SyncToken"], "Notes": "first"},
            request_id=request_id_for("stale", "u1"),
        )
        # a write with the old SyncToken: 5010, re-read, retried once with the new token
        updated = await env.qbo.update(
            "Customer",
            {"Id": created["Id"], "SyncToken": created["SyncToken"], "Notes": "second"},
            request_id=request_id_for("stale", "u2"),
        )
        assert updated["Notes"] == "second"
        assert updated["DisplayName"] == "Stale Ltd"  # sparse: the rest is kept
        assert updated["SyncToken"] == "2"

    async def test_void_delete_pdf_and_company(self, make_env: EnvFactory) -> None:
        env = await make_env()
        customer_id, item_id = await customer_and_item(env.qbo)
        [raw] = await env.qbo.batch(invoice_ops(1, customer_id, item_id, tag="v"))
        assert isinstance(raw, dict)
        assert invoice_from_qbo(raw).status is InvoiceStatus.OPEN
        pdf = await env.qbo.pdf("Invoice", raw["Id"])
        assert pdf.startswith(b"%PDF")
        voided = await env.qbo.void(
            "Invoice", raw["Id"], raw["SyncToken"], request_id=request_id_for("void", raw["Id"])
        )
        decoded = invoice_from_qbo(voided)
        assert decoded.status is InvoiceStatus.VOIDED
        assert decoded.total.is_zero
        assert len(decoded.lines) == 1
        second = await env.qbo.batch(invoice_ops(1, customer_id, item_id, tag="d"))
        doomed = second[0]
        assert isinstance(doomed, dict)
        await env.qbo.delete(
            "Invoice", doomed["Id"], doomed["SyncToken"], request_id=request_id_for("del")
        )
        with pytest.raises(TerminalError) as info:
            await env.qbo.get("Invoice", doomed["Id"])
        assert info.value.category is ErrorCategory.NOT_FOUND
        assert (await env.qbo.company_info())["CompanyName"]
        assert "SalesFormsPrefs" in await env.qbo.preferences()

    async def test_payment_applies_and_voids(self, make_env: EnvFactory) -> None:
        env = await make_env()
        customer_id, item_id = await customer_and_item(env.qbo)
        [invoice] = await env.qbo.batch(invoice_ops(1, customer_id, item_id, tag="p"))
        assert isinstance(invoice, dict)
        payment = await env.qbo.create(
            "Payment",
            {
                "CustomerRef": {"value": customer_id},
                "TotalAmt": invoice["TotalAmt"],
                "Line": [
                    {
                        "Amount": invoice["TotalAmt"],
                        "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                    }
                ],
            },
            request_id=request_id_for("pay"),
        )
        paid = invoice_from_qbo(await env.qbo.get("Invoice", invoice["Id"]))
        assert paid.status is InvoiceStatus.PAID
        assert paid.paid == paid.total
        await env.qbo.void(
            "Payment", payment["Id"], payment["SyncToken"], request_id=request_id_for("pv")
        )
        reopened = invoice_from_qbo(await env.qbo.get("Invoice", invoice["Id"]))
        assert reopened.status is InvoiceStatus.OPEN

    async def test_changes_by_cdc_and_by_query(self, make_env: EnvFactory) -> None:
        env = await make_env()
        customer_id, item_id = await customer_and_item(env.qbo)
        since = env.time.wall() - dt.timedelta(minutes=1)
        await env.time.sleep(60)
        results = await env.qbo.batch(invoice_ops(3, customer_id, item_id, tag="k"))
        gone = results[0]
        assert isinstance(gone, dict)
        await env.qbo.delete(
            "Invoice", gone["Id"], gone["SyncToken"], request_id=request_id_for("k-del")
        )
        now = env.time.wall()
        changes = await read_changes(env.qbo, ["Invoice", "Customer"], since, now)
        assert changes.method == "cdc"
        by_id = {(r.entity, r.id): r for r in changes.records}
        assert by_id[("Invoice", gone["Id"])].deleted
        assert not by_id[("Invoice", results[1]["Id"])].deleted  # type: ignore[index]
        assert ("Customer", customer_id) in by_id
        assert changes.next_cursor <= now
        assert changes.next_cursor >= since
        # an old cursor: the query fallback (deletes are invisible to a query)
        old = await read_changes(env.qbo, ["Invoice"], now - dt.timedelta(days=45), now)
        assert old.method == "query"
        assert {r.id for r in old.records} == {results[1]["Id"], results[2]["Id"]}  # type: ignore[index]
        full = await read_changes(env.qbo, ["Customer"], None, now)
        assert full.method == "full"
        assert [r.id for r in full.records] == [customer_id]

    async def test_rotated_refresh_token_survives_a_restart(
        self, make_env: EnvFactory, tmp_path: object
    ) -> None:
        env = await make_env()
        sandbox = env.sandbox
        code = sandbox.oauth.authorize(DEFAULT_REALM, "http://localhost/cb", env.time.wall())
        token_url = f"{env.base_url}/oauth2/v1/tokens/bearer"
        creds = {
            "client_id": sandbox.config.oauth_client_id,
            "client_secret": sandbox.config.oauth_client_secret,
        }
        store = MemoryTokenStore()
        await exchange_code(
            http=env.http,
            token_url=token_url,
            code=code,
            redirect_uri="http://localhost/cb",
            client_auth="basic",
            store=store,
            clock=env.time.wall,
            **creds,
        )
        first = store.tokens
        assert first is not None
        manager = OAuthTokenManager(
            http=env.http,
            token_url=token_url,
            store=store,
            client_auth="basic",
            clock=env.time.wall,
            **creds,
        )
        client = env.new_client(tokens=manager)
        assert (await client.company_info())["Id"] == "1"
        await env.time.sleep(3600)  # the access token expires: a refresh rotates the grant
        assert (await client.company_info())["Id"] == "1"
        rotated = store.tokens
        assert rotated is not None
        assert rotated.refresh_token != first.refresh_token
        # "restart": a fresh store reloaded from what was saved, a fresh manager and client
        saved = json.loads(json.dumps(rotated.to_json()))
        await env.time.sleep(3600)
        reloaded = MemoryTokenStore(TokenSet.from_json(saved))
        restarted = env.new_client(
            tokens=OAuthTokenManager(
                http=env.http,
                token_url=token_url,
                store=reloaded,
                client_auth="basic",
                clock=env.time.wall,
                **creds,
            )
        )
        assert (await restarted.company_info())["Id"] == "1"
        assert reloaded.saves == 1
        # the pre-rotation refresh token is dead: that grant is an authentication error
        stale = MemoryTokenStore(TokenSet(first.access_token, first.refresh_token, env.time.wall()))
        dead = env.new_client(
            tokens=OAuthTokenManager(
                http=env.http,
                token_url=token_url,
                store=stale,
                client_auth="basic",
                clock=env.time.wall,
                **creds,
            )
        )
        with pytest.raises(AuthenticationError):
            await dead.company_info()


class TestQboInProcess(QboContract):
    mode = "asgi"


class TestQboOverHttp(QboContract):
    mode = "http"
