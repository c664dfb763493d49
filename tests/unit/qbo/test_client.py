from __future__ import annotations

import asyncio
import json
import random
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from ledgerbridge.qbo.batch import BatchOp, batch_request_id
from ledgerbridge.qbo.client import QboClient, default_budgets
from ledgerbridge.qbo.ids import request_id_for
from ledgerbridge.sync.errors import (
    ErrorCategory,
    TerminalError,
    TransientError,
)
from ledgerbridge.transport.oauth import StaticToken
from ledgerbridge.transport.retry import RetryPolicy

from .fakes import FakeTime

XML_429 = (
    '<?xml version="1.0"?><IntuitResponse><Fault type="SERVICE"><Error code="3001">'
    "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
    "</Error></Fault></IntuitResponse>"
)


class Api:
    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)  # type: ignore[no-any-return]


def over(transport: httpx.AsyncBaseTransport, **kwargs: Any) -> tuple[QboClient, FakeTime]:
    """A client of realm 123 over `transport`, on virtual time."""
    time = FakeTime()
    client = QboClient(
        httpx.AsyncClient(transport=transport),
        realm_id="123",
        tokens=StaticToken("tok"),
        base_url="https://qbo.test",
        retry=RetryPolicy(jitter=False),
        sleep=time.sleep,
        clock=time.clock,
        **kwargs,
    )
    return client, time


def make(handler: Any, **kwargs: Any) -> tuple[QboClient, Api, FakeTime]:
    api = Api(handler)
    client, time = over(httpx.MockTransport(api), **kwargs)
    return client, api, time


def test_request_ids_are_stable_and_short() -> None:
    one = request_id_for("link-1", "v3")
    assert one == request_id_for("link-1", "v3")
    assert one != request_id_for("link-1", "v4")
    assert one != request_id_for("link-1v", "3")  # parts are separated
    assert len(one) == 36
    assert len(request_id_for("x", length=50)) == 50
    with pytest.raises(ValueError):
        request_id_for()
    with pytest.raises(ValueError):
        request_id_for("x", length=51)


async def test_query_pages_with_startposition_and_maxresults() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        statement = request.url.params["query"]
        start = int(statement.split("STARTPOSITION ")[1].split()[0])
        size = int(statement.split("MAXRESULTS ")[1])
        rows = [{"Id": str(i)} for i in range(start, min(start + size, 2501))]
        return httpx.Response(200, json={"QueryResponse": {"Invoice": rows} if rows else {}})

    client, api, _ = make(handler)
    rows = await client.query_all("SELECT * FROM Invoice")
    assert [r["Id"] for r in rows] == [str(i) for i in range(1, 2501)]
    assert len(api.requests) == 3
    first = api.requests[0]
    assert first.url.path == "/v3/company/123/query"
    assert first.url.params["minorversion"] == "75"
    assert first.url.params["query"] == "SELECT * FROM Invoice STARTPOSITION 1 MAXRESULTS 1000"
    assert first.headers["authorization"] == "Bearer tok"
    assert "STARTPOSITION 2001 MAXRESULTS 1000" in api.requests[2].url.params["query"]
    with pytest.raises(ValueError):
        await client.query_all("SELECT * FROM Invoice MAXRESULTS 5")


async def test_count() -> None:
    client, api, _ = make(lambda r: httpx.Response(200, json={"QueryResponse": {"totalCount": 42}}))
    assert await client.count("Invoice", "Balance > '0'") == 42
    assert api.requests[0].url.params["query"] == "SELECT COUNT(*) FROM Invoice WHERE Balance > '0'"


async def test_xml_429_is_retried_after_the_documented_pause() -> None:
    """One 429 the budget did not predict gets a short pause; the third in a row is a real
    throttle and gets the documented 60 s (no Retry-After)."""
    answers = [httpx.Response(429, text=XML_429, headers={"Content-Type": "text/xml"})] * 3

    def handler(request: httpx.Request) -> httpx.Response:
        if answers:
            return answers.pop()
        return httpx.Response(200, json={"Invoice": {"Id": "1"}})

    client, api, time = make(handler)
    assert (await client.get("Invoice", "1"))["Id"] == "1"
    assert len(api.requests) == 4
    short_1, short_2, long = time.sleeps
    assert short_1 <= 1.0 and short_2 <= 2.0
    assert long == 60.0  # no Retry-After: QBO says wait 60 s


async def test_a_fault_inside_a_200_is_an_error() -> None:
    body = {
        "Fault": {
            "Error": [{"Message": "Duplicate Name Exists Error", "code": "6240"}],
            "type": "ValidationFault",
        }
    }
    client, _, _ = make(lambda r: httpx.Response(200, json=body))
    with pytest.raises(TerminalError) as info:
        await client.create("Customer", {"DisplayName": "A"}, request_id="r-1")
    assert info.value.category is ErrorCategory.DUPLICATE_DISPLAY_NAME


async def test_writes_carry_the_requestid_and_decimal_bodies() -> None:
    from decimal import Decimal

    client, api, _ = make(lambda r: httpx.Response(200, json={"Item": {"Id": "4"}}))
    await client.create("Item", {"UnitPrice": Decimal("19.99")}, request_id="abc")
    request = api.requests[0]
    assert request.url.path == "/v3/company/123/item"
    assert request.url.params["requestid"] == "abc"
    assert request.content == b'{"UnitPrice":19.99}'
    assert request.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        await client.create("Item", {}, request_id="x" * 51)
    with pytest.raises(ValueError):
        await client.get("../etc", "1")


async def test_void_shapes() -> None:
    client, api, _ = make(
        lambda r: httpx.Response(200, json={"Invoice": {"Id": "1"}, "Payment": {"Id": "2"}})
    )
    await client.void("Invoice", "1", "0", request_id="v1")
    await client.void("Payment", "2", "3", request_id="v2")
    invoice, payment = api.requests
    assert invoice.url.params["operation"] == "void"
    assert json.loads(invoice.content) == {"Id": "1", "SyncToken": "0"}
    assert payment.url.params["operation"] == "update"
    assert payment.url.params["include"] == "void"
    assert json.loads(payment.content) == {"Id": "2", "SyncToken": "3", "sparse": True}


async def test_stale_update_rereads_once_then_gives_a_transient_error() -> None:
    stale = {
        "Fault": {
            "Error": [{"Message": "Stale Object Error", "code": "5010"}],
            "type": "ValidationFault",
        }
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"Customer": {"Id": "1", "SyncToken": "7"}})
        return httpx.Response(400, json=stale)

    client, api, _ = make(handler)
    with pytest.raises(TransientError) as info:
        await client.update("Customer", {"Id": "1", "SyncToken": "2"}, request_id="u")
    assert info.value.category is ErrorCategory.STALE_OBJECT
    methods = [r.method for r in api.requests]
    assert methods == ["POST", "GET", "POST"]  # no blind retries of a stale write
    retried = json.loads(api.requests[2].content)
    assert retried["SyncToken"] == "7"
    assert retried["sparse"] is True
    assert api.requests[2].url.params["requestid"] != "u"


async def test_batch_matches_answers_by_bid_in_any_order() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["BatchItemRequest"]
        seen.append({"items": items, "requestid": request.url.params["requestid"]})
        answers = []
        for item in items:
            if item["Customer"]["DisplayName"] == "dup":
                answers.append(
                    {
                        "bId": item["bId"],
                        "Fault": {
                            "Error": [{"Message": "Duplicate Name Exists Error", "code": "6240"}],
                            "type": "ValidationFault",
                        },
                    }
                )
            else:
                answers.append(
                    {"bId": item["bId"], "Customer": {"Id": item["Customer"]["DisplayName"]}}
                )
        random.Random(len(seen)).shuffle(answers)
        return httpx.Response(200, json={"BatchItemResponse": answers})

    client, api, _ = make(handler)
    names = [str(i) for i in range(25)] + ["dup"] + [str(i) for i in range(25, 30)]
    ops = [
        BatchOp.create("Customer", {"DisplayName": n}, request_id=f"r{i}")
        for i, n in enumerate(names)
    ]
    results = await client.batch(ops, chunk_size=10)
    assert len(api.requests) == 4
    assert all(len(s["items"]) <= 10 for s in seen)
    assert all(len(item["bId"]) <= 10 for s in seen for item in s["items"])
    for name, result in zip(names, results, strict=True):
        if name == "dup":
            assert isinstance(result, TerminalError)
            assert result.category is ErrorCategory.DUPLICATE_DISPLAY_NAME
        else:
            assert result == {"Id": name}
    assert seen[0]["requestid"] == batch_request_id(ops[:10])
    assert len(seen[0]["requestid"]) <= 36
    assert batch_request_id(ops[:10]) != batch_request_id(ops[10:20])


async def test_a_failed_chunk_fails_its_items_and_the_next_chunk_still_runs() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(400, json={"Fault": {"Error": [{"code": "2010"}]}})
        items = json.loads(request.content)["BatchItemRequest"]
        return httpx.Response(
            200,
            json={
                "BatchItemResponse": [{"bId": i["bId"], "Customer": {"Id": "x"}} for i in items[1:]]
            },
        )

    client, _, _ = make(handler)
    ops = [BatchOp.create("Customer", {}, request_id=f"r{i}") for i in range(4)]
    results = await client.batch(ops, chunk_size=2)
    assert [type(r).__name__ for r in results] == [
        "TerminalError",
        "TerminalError",
        "TransientError",
        "dict",
    ]


async def test_batch_spends_the_batch_budget() -> None:
    client, api, time = make(
        lambda r: httpx.Response(200, json={"BatchItemResponse": []}), batch_size=1
    )
    ops = [BatchOp.query("SELECT * FROM Item", request_id=f"q{i}") for i in range(41)]
    await client.batch(ops)
    assert len(api.requests) == 41
    assert time.now - 1000.0 == pytest.approx(60.1)  # the 41st waited for the 40/min window


def test_batch_op_shapes() -> None:
    pay = BatchOp.void("Payment", "1", "2", request_id="p")
    assert pay.item("b0") == {
        "bId": "b0",
        "operation": "update",
        "optionsData": "void",
        "Payment": {"Id": "1", "SyncToken": "2", "sparse": True},
    }
    inv = BatchOp.void("Invoice", "1", "2", request_id="i")
    assert inv.item("b1")["operation"] == "void"
    assert BatchOp.delete("Invoice", "1", "2", request_id="d").item("b2")["operation"] == "delete"
    upd = BatchOp.update("Customer", {"Id": "1", "SyncToken": "0"}, request_id="u")
    assert upd.body["sparse"] is True
    with pytest.raises(ValueError):
        BatchOp.update("Customer", {"Id": "1"}, request_id="u")
    with pytest.raises(ValueError):
        BatchOp.create("Customer", {}, request_id="")


def test_default_budgets_follow_the_documented_limits() -> None:
    general, batch = default_budgets()
    # The documented 500 and 40 a minute, each request counted from its answer (which is
    # after QBO counted it), over a window 0.1 s longer than QBO's (the timer's grain).
    assert [(w.max_requests, w.per_seconds, w.until_answer) for w in general.windows] == [
        (500, 60.1, True)
    ]
    assert [(w.max_requests, w.per_seconds, w.until_answer) for w in batch.windows] == [
        (40, 60.1, True)
    ]


async def test_pdf_and_cdc() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/pdf"):
            assert request.headers["accept"] == "application/pdf"
            return httpx.Response(
                200, content=b"%PDF-1.4", headers={"Content-Type": "application/pdf"}
            )
        params = parse_qs(request.url.query.decode())
        assert params["entities"] == ["Invoice,Customer"]
        return httpx.Response(
            200, json={"CDCResponse": [{"QueryResponse": [{"Invoice": [{"Id": "1"}]}, {}]}]}
        )

    client, _, _ = make(handler)
    assert await client.pdf("Invoice", "1") == b"%PDF-1.4"
    pages = await client.cdc(["Invoice", "Customer"], "2026-01-01T00:00:00+00:00")
    assert pages == [{"Invoice": [{"Id": "1"}]}, {}]


async def test_writes_go_out_singly_when_the_batch_budget_is_spent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/batch"):
            return httpx.Response(200, json={"BatchItemResponse": []})
        body = json.loads(request.content)
        return httpx.Response(200, json={"Customer": {"Id": "9", **body}})

    client, api, time = make(handler, batch_size=1)
    queries = [BatchOp.query("SELECT * FROM Item", request_id=f"q{i}") for i in range(40)]
    await client.batch(queries)  # the 40 batches of this minute
    creates = [
        BatchOp.create("Customer", {"DisplayName": f"C{i}"}, request_id=f"c{i}") for i in range(2)
    ]
    results = await client.batch(creates, singles_when_busy=True)
    assert [r["DisplayName"] for r in results if isinstance(r, dict)] == ["C0", "C1"]
    singles = [r for r in api.requests if r.url.path.endswith("/customer")]
    assert sorted(parse_qs(r.url.query.decode())["requestid"][0] for r in singles) == ["c0", "c1"]
    assert time.now == 1000.0  # nobody waited for the batch window

    # 500 more: the general budget has 500 - 40 - 2 = 458 left, 20 of them kept for
    # reads; 438 go plain at once, the other 62 in batches that wait for the window.
    sent = len(api.requests)
    many = [
        BatchOp.create("Customer", {"DisplayName": f"M{i}"}, request_id=f"m{i}") for i in range(500)
    ]
    await client.batch(many, singles_when_busy=True)
    new = api.requests[sent:]
    plain = [r for r in new if r.url.path.endswith("/customer")]
    batches = [r for r in new if r.url.path.endswith("/batch")]
    assert (len(plain), len(batches)) == (438, 62)
    assert time.now > 1000.0  # the batches waited


async def test_a_pass_bigger_than_the_batch_window_spills_into_the_plain_budget() -> None:
    """(b) of the bench: 1,000 invoice creates with 26 batch slots left send 26 batches of
    30 and the other 220 plain at once, instead of waiting a minute for 8 batch slots."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/batch"):
            items = json.loads(request.content)["BatchItemRequest"]
            answers = [{"bId": i["bId"], "Invoice": {"Id": i["bId"]}} for i in items]
            return httpx.Response(200, json={"BatchItemResponse": answers})
        return httpx.Response(200, json={"Invoice": {"Id": "9"}})

    client, api, time = make(handler)
    queries = [BatchOp.query("SELECT * FROM Item", request_id=f"q{i}") for i in range(14)]
    await client.batch(queries, chunk_size=1)  # 14 batches of this minute spent
    assert len(api.requests) == 14
    ops = [BatchOp.create("Invoice", {}, request_id=f"i{i}") for i in range(1000)]
    results = await client.batch(ops, singles_when_busy=True)
    assert all(isinstance(r, dict) for r in results)
    new = api.requests[14:]
    assert sum(r.url.path.endswith("/batch") for r in new) == 26
    assert sum(r.url.path.endswith("/invoice") for r in new) == 220
    assert time.now == 1000.0  # nobody waited
    # Without `singles_when_busy`, all go in 34 batches: 8 wait a minute for the window.
    await client.batch([BatchOp.create("Invoice", {}, request_id=f"j{i}") for i in range(1000)])
    assert time.now > 1000.0


async def test_two_batch_calls_at_once_do_not_count_the_same_room() -> None:
    """Backfill turns in a pipeline apply at once: the second call sees the room less
    what the first has decided to send and not finished (most of it still waits for a
    concurrency slot, so the budget has not counted it), so together they send no more
    plain requests than the minute holds less the reads' reserve; the rest wait for
    batch slots."""
    gate = asyncio.Event()
    seen: list[httpx.Request] = []

    class Gated(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            await gate.wait()  # nothing is answered until both calls have decided
            if request.url.path.endswith("/batch"):
                items = json.loads(request.content)["BatchItemRequest"]
                answers = [{"bId": i["bId"], "Invoice": {"Id": i["bId"]}} for i in items]
                return httpx.Response(200, json={"BatchItemResponse": answers})
            return httpx.Response(200, json={"Invoice": {"Id": "9"}})

    client, time = over(Gated())

    def ops(tag: str) -> list[BatchOp]:
        return [BatchOp.create("Invoice", {}, request_id=f"{tag}{i}") for i in range(1000)]

    one = asyncio.create_task(client.batch(ops("a"), singles_when_busy=True))
    for _ in range(5):
        await asyncio.sleep(0)
    assert 0 < len(seen) <= 8  # the first call's first requests are in flight
    two = asyncio.create_task(client.batch(ops("b"), singles_when_busy=True))
    for _ in range(5):
        await asyncio.sleep(0)
    gate.set()
    results = await one + await two
    assert all(isinstance(r, dict) for r in results)
    # The first fits in 34 batches; the second sees 6 batch slots and 500 - 34 - 20 of
    # the minute (less a few of the first's that are both in flight and counted).
    plain = sum(r.url.path.endswith("/invoice") for r in seen)
    assert 440 - 8 <= plain <= 440
    assert sum(r.url.path.endswith("/batch") for r in seen) == 34 + -(-(1000 - plain) // 30)
    assert time.now > 1000.0  # the batches past the 40 waited for the window
    assert (client.promised.batches, client.promised.plain) == (0, 0)


def test_plain_share() -> None:
    from ledgerbridge.qbo.batch import plain_share

    assert plain_share(0, 30, 0, 500) == 0
    assert plain_share(600, 30, 20, 500) == 0  # 20 chunks fit the batch window
    assert plain_share(601, 30, 20, 500) == 1
    assert plain_share(1000, 30, 26, 446, reserve=20) == 220
    assert plain_share(1000, 30, 0, 100, reserve=20) == 80  # the rest waits for batches
    assert plain_share(10, 30, 0, 5, reserve=20) == 0  # no plain room left either


def test_a_single_write_goes_plain_and_keeps_the_batch_slot() -> None:
    from ledgerbridge.qbo.batch import plain_share

    assert plain_share(1, 30, 40, 500, reserve=20) == 1  # a batch of one saves nothing
    assert plain_share(1, 30, 40, 20, reserve=20) == 0  # no plain room: a batch
    assert plain_share(2, 30, 40, 500, reserve=20) == 0
