"""The QBO Accounting API v3 client: one per connection (realm), on an injected httpx client.

Every request goes through `transport.http.send`: the connection's `RateBudget`s (QBO's
documented 500/min and 10 concurrent per realm; batches also spend a 40/min budget),
the bearer token, retries with backoff on transient failures, and `faults.classify`.

Idempotency: every write carries a caller-supplied `request_id` (QBO `requestid`,
≤50 characters, ≤36 for `/batch`). QBO answers a repeated requestid with the original
response, so a retry after a time-out never writes twice. `request_id_for(*parts)`
derives a stable id from the operation's identity (same logical write → same id).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from ledgerbridge.qbo import faults
from ledgerbridge.qbo.batch import BatchJournal, BatchOp, BatchResult, plain_share, run_batches
from ledgerbridge.qbo.codec_values import json_dumps, json_loads
from ledgerbridge.qbo.ids import check_request_id, request_id_for
from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    SyncError,
    TerminalError,
    TransientError,
)
from ledgerbridge.transport.budget import RateBudget, Window
from ledgerbridge.transport.http import send
from ledgerbridge.transport.oauth import TokenProvider
from ledgerbridge.transport.retry import RetryPolicy

PRODUCTION_URL = "https://quickbooks.api.intuit.com"
SANDBOX_URL = "https://sandbox-quickbooks.api.intuit.com"
MINOR_VERSION = "75"
MAX_RESULTS = 1000
THROTTLE_PAUSE = 60.0  # "On 429, wait 60 s" (limits page) when no Retry-After is given

Obj = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]


SAFETY_SECONDS = 1.0
"""The windows shared by workers (`runtime.distributed.budgets`) are this much longer
than QBO's: QBO counts a request when it arrives, they count it when it is sent, so a
window that ends exactly at the limit could draw a 429 (and a 429 costs a 60 s pause)
when latency varies."""
ANSWER_MARGIN_SECONDS = 0.1
"""A process's own windows count each request until its answer and then for a minute
from the answer (`Window.until_answer`), which is after QBO counted it whatever the
latency; this is only for the timer's grain."""
READ_RESERVE = 20
"""Requests of the 500-a-minute budget that plain writes leave for reads."""
SAFE_CONCURRENCY = 8
"""Below QBO's 10 concurrent: a slot is freed here when the answer arrives, which may be
before QBO has counted the request as done."""


def default_budgets(
    *, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep
) -> tuple[RateBudget, RateBudget]:
    """QBO's documented limits per realm (general 500/min and fewer than 10 concurrent,
    batch 40/min), each request counted for a minute from its answer."""
    minute = 60.0 + ANSWER_MARGIN_SECONDS
    general = RateBudget(
        [Window(500, minute, "minute", until_answer=True)],
        max_concurrency=SAFE_CONCURRENCY,
        clock=clock,
        sleep=sleep,
    )
    batch = RateBudget(
        [Window(40, minute, "batch_minute", until_answer=True)], clock=clock, sleep=sleep
    )
    return general, batch


def _entity_path(entity: str) -> str:
    if not entity.isalnum():
        raise ValueError(f"not a QBO entity name: {entity!r}")
    return entity.lower()


class _Stale(TerminalError):
    """A 5010 on a write: handled by re-reading the SyncToken, not by blind retries."""


class QboClient:
    """Async client for one QBO company (realm)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        realm_id: str,
        tokens: TokenProvider,
        base_url: str = PRODUCTION_URL,
        budget: RateBudget | None = None,
        batch_budget: RateBudget | None = None,
        retry: RetryPolicy | None = None,
        minorversion: str = MINOR_VERSION,
        batch_size: int = 30,
        throttle_pause: float = THROTTLE_PAUSE,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= batch_size <= 30:
            raise ValueError("QBO batches hold 1 to 30 items")
        self.http = http
        self.realm_id = realm_id
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        general, batches = default_budgets(clock=clock, sleep=sleep)
        self.budget = budget or general
        self.batch_budget = batch_budget or batches
        self.retry = retry or RetryPolicy()
        self.minorversion = minorversion
        self.batch_size = batch_size
        self.throttle_pause = throttle_pause
        self._sleep = sleep
        self.requests: dict[str, int] = {}  # HTTP requests sent, by kind (for tests, metrics)
        self.promised = _Promised()
        """Requests that `batch` calls running now decided to send and have not finished
        (see `batch`): the room a later call sees is the budgets' less these."""

    # ---- plumbing -----------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base_url}/v3/company/{self.realm_id}/{path}"

    def _classify(self, response: httpx.Response) -> SyncError | None:
        content_type = response.headers.get("content-type", "")
        if 200 <= response.status_code < 300 and "pdf" in content_type:
            return None
        error = faults.classify(response.status_code, response.content, content_type)
        if isinstance(error, TransientError) and error.category is ErrorCategory.STALE_OBJECT:
            return _Stale(error.category, error.detail, status=error.status, code=error.code)
        return error

    async def _call(
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        kind: str,
        params: dict[str, str] | None = None,
        json: Any = None,
        content: str | None = None,
        accept: str = "application/json",
        batch: bool = False,
    ) -> httpx.Response:
        query = {**(params or {}), "minorversion": self.minorversion}
        headers = {"Accept": accept}
        body: bytes | str | None = content
        if json is not None:
            body = json_dumps(json)  # Decimals as JSON numbers
            headers["Content-Type"] = "application/json"
        elif content is not None:
            headers["Content-Type"] = "application/text"

        def count(*_: object) -> None:
            self.requests[kind] = self.requests.get(kind, 0) + 1

        count()
        budgets = [self.batch_budget, self.budget] if batch else [self.budget]
        return await send(
            self.http,
            method,
            self.url(path),
            tokens=self.tokens,
            classify=self._classify,
            budget=budgets,
            policy=self.retry,
            params=query,
            content=body,
            headers=headers,
            default_retry_after=self.throttle_pause,
            sleep=self._sleep,
            on_retry=count,
        )

    @staticmethod
    def _body(response: httpx.Response) -> Obj:
        try:
            data = json_loads(response.content)
        except ValueError as exc:
            raise TransientError(
                ErrorCategory.SERVICE_UNAVAILABLE, "QBO answered with a body that is not JSON"
            ) from exc
        if not isinstance(data, dict):
            raise TerminalError(ErrorCategory.UNKNOWN, "QBO answered with an unexpected body")
        return data

    @staticmethod
    def _entity_of(body: Obj, entity: str) -> Obj:
        obj = body.get(entity)
        if not isinstance(obj, dict):
            raise TerminalError(ErrorCategory.UNKNOWN, f"QBO answer has no {entity} object")
        return obj

    # ---- reads --------------------------------------------------------------------------

    async def get(self, entity: str, entity_id: str) -> Obj:
        response = await self._call("GET", f"{_entity_path(entity)}/{entity_id}", kind="get")
        return self._entity_of(self._body(response), entity)

    async def company_info(self) -> Obj:
        response = await self._call("GET", f"companyinfo/{self.realm_id}", kind="get")
        return self._entity_of(self._body(response), "CompanyInfo")

    async def preferences(self) -> Obj:
        response = await self._call("GET", "preferences", kind="get")
        return self._entity_of(self._body(response), "Preferences")

    async def pdf(self, entity: str, entity_id: str) -> bytes:
        response = await self._call(
            "GET", f"{_entity_path(entity)}/{entity_id}/pdf", kind="pdf", accept="application/pdf"
        )
        return response.content

    async def query_page(self, statement: str) -> Obj:
        """One raw `QueryResponse` (the statement carries its own paging, if any)."""
        response = await self._call("GET", "query", kind="query", params={"query": statement})
        page = self._body(response).get("QueryResponse", {})
        return page if isinstance(page, dict) else {}

    async def query(self, statement: str, *, page_size: int = MAX_RESULTS) -> AsyncIterator[Obj]:
        """Every row of `SELECT * FROM E [WHERE …] [ORDERBY …]`, paged by STARTPOSITION/MAXRESULTS.

        Stops at the first page shorter than `page_size` (so 2,500 rows take 3 requests).
        """
        if not 1 <= page_size <= MAX_RESULTS:
            raise ValueError("MAXRESULTS must be between 1 and 1000")
        upper = statement.upper()
        if "STARTPOSITION" in upper or "MAXRESULTS" in upper:
            raise ValueError("query() adds STARTPOSITION and MAXRESULTS itself")
        start = 1
        while True:
            page = await self.query_page(
                f"{statement} STARTPOSITION {start} MAXRESULTS {page_size}"
            )
            rows = _rows(page)
            for row in rows:
                yield row
            if len(rows) < page_size:
                return
            start += len(rows)

    async def query_all(self, statement: str, *, page_size: int = MAX_RESULTS) -> list[Obj]:
        return [row async for row in self.query(statement, page_size=page_size)]

    async def count(self, entity: str, where: str | None = None) -> int:
        statement = f"SELECT COUNT(*) FROM {entity}" + (f" WHERE {where}" if where else "")
        total = (await self.query_page(statement)).get("totalCount", 0)
        return int(total)

    async def cdc(self, entities: Sequence[str], changed_since: str) -> list[Obj]:
        """The raw `CDCResponse[0].QueryResponse` list (one object per requested entity)."""
        params = {"entities": ",".join(entities), "changedSince": changed_since}
        body = self._body(await self._call("GET", "cdc", kind="cdc", params=params))
        responses = body.get("CDCResponse") or [{}]
        first = responses[0] if isinstance(responses, list) and responses else {}
        pages = first.get("QueryResponse", []) if isinstance(first, dict) else []
        return [p for p in pages if isinstance(p, dict)] if isinstance(pages, list) else []

    # ---- writes -------------------------------------------------------------------------

    async def _write(
        self,
        entity: str,
        body: Obj,
        *,
        request_id: str,
        operation: str | None = None,
        include: str | None = None,
    ) -> Obj:
        params = {"requestid": check_request_id(request_id)}
        if operation:
            params["operation"] = operation
        if include:
            params["include"] = include
        response = await self._call(
            "POST", _entity_path(entity), kind="write", params=params, json=body
        )
        return self._entity_of(self._body(response), entity)

    async def _write_fresh(
        self,
        entity: str,
        body: Obj,
        *,
        request_id: str,
        operation: str | None = None,
        include: str | None = None,
    ) -> Obj:
        """A write that needs the current SyncToken: on 5010, re-read it and try once more."""
        try:
            return await self._write(
                entity, body, request_id=request_id, operation=operation, include=include
            )
        except _Stale:
            current = await self.get(entity, str(body["Id"]))
            token = str(current.get("SyncToken", ""))
            retry_body = {**body, "SyncToken": token}
            # A new requestid: the first one may be remembered with its Fault.
            retry_id = request_id_for(request_id, "synctoken", token)
            try:
                return await self._write(
                    entity, retry_body, request_id=retry_id, operation=operation, include=include
                )
            except _Stale as again:
                raise TransientError(
                    ErrorCategory.STALE_OBJECT, again.detail, status=again.status, code=again.code
                ) from again

    async def create(self, entity: str, body: Obj, *, request_id: str) -> Obj:
        return await self._write(entity, body, request_id=request_id)

    async def update(self, entity: str, body: Obj, *, request_id: str, sparse: bool = True) -> Obj:
        """Update `body` (with Id and SyncToken); sparse by default (omitted fields are kept)."""
        if "Id" not in body or "SyncToken" not in body:
            raise ValueError("an update needs Id and SyncToken")
        payload = {**body, "sparse": sparse}
        return await self._write_fresh(entity, payload, request_id=request_id)

    async def void(self, entity: str, entity_id: str, sync_token: str, *, request_id: str) -> Obj:
        """Void a transaction (amounts go to zero; the record stays)."""
        body: Obj = {"Id": entity_id, "SyncToken": sync_token}
        if entity in ("Payment", "BillPayment"):
            body["sparse"] = True
            return await self._write_fresh(
                entity, body, request_id=request_id, operation="update", include="void"
            )
        return await self._write_fresh(entity, body, request_id=request_id, operation="void")

    async def delete(self, entity: str, entity_id: str, sync_token: str, *, request_id: str) -> Obj:
        body: Obj = {"Id": entity_id, "SyncToken": sync_token}
        return await self._write_fresh(entity, body, request_id=request_id, operation="delete")

    async def batch(
        self,
        ops: Sequence[BatchOp],
        *,
        chunk_size: int | None = None,
        journal: BatchJournal | None = None,
        singles_when_busy: bool = False,
    ) -> BatchResult:
        """Run many operations through `/batch` (≤30 a request, the chunks concurrently
        within the budgets); results in `ops` order. See `qbo.batch.run_batches`.

        `singles_when_busy`: decided from both budgets at the moment (`plain_share`):
        a single write goes plain (a batch of one saves nothing and spends a slot); the
        creates/updates that do not fit in the batches the 40-a-minute budget can start
        now go out as plain requests, each with its own requestid, as far as the
        500-a-minute budget has room for them (a few requests kept for reads); the rest
        wait for batch slots. So a pass never waits up to a minute for a batch slot
        while the plain budget could answer (steady state after a burst of 40 batches;
        the tail of a big backfill). The journal keeps each write in the form it first
        went out in (see `run_batches`).
        """
        size = chunk_size or self.batch_size
        if not 1 <= size <= 30:
            raise ValueError("QBO batches hold 1 to 30 items")

        async def post(payload: Obj, request_id: str) -> Obj:
            response = await self._call(
                "POST",
                "batch",
                kind="batch",
                params={"requestid": check_request_id(request_id, 36)},
                json=payload,
                batch=True,
            )
            return self._body(response)

        if not singles_when_busy:
            return await run_batches(ops, size, post, journal, single=self._single)
        # Two calls at once (backfill turns in a pipeline) must not both count the same
        # room: each takes the budgets' room less what calls still running have decided
        # to send (`promised`), and promises its own requests until each has finished.
        writes = sum(op.operation in ("create", "update") for op in ops)
        batch_room = self.batch_budget.room() - self.promised.batches
        plain_room = self.budget.room() - self.promised.plain
        singles = plain_share(writes, size, batch_room, plain_room, READ_RESERVE)
        chunks = -(-(len(ops) - singles) // size)
        mine = _Promised(chunks, chunks + singles)  # a batch spends the general budget too
        self.promised.add(mine)

        async def promised_post(payload: Obj, request_id: str) -> Obj:
            try:
                return await post(payload, request_id)
            finally:
                self.promised.settle(mine, batches=1, plain=1)

        async def promised_single(op: BatchOp) -> Obj | SyncError:
            try:
                return await self._single(op)
            finally:
                self.promised.settle(mine, batches=0, plain=1)

        try:
            return await run_batches(
                ops, size, promised_post, journal, single=promised_single, singles=singles
            )
        finally:
            self.promised.settle(mine, batches=mine.batches, plain=mine.plain)

    async def _single(self, op: BatchOp) -> Obj | SyncError:
        """One create or update as a plain request under the op's own requestid."""
        try:
            if op.operation == "create":
                return await self.create(op.entity, op.body, request_id=op.request_id)
            if op.operation != "update":
                raise ValueError(f"a {op.operation} goes in a batch")
            body = {k: v for k, v in op.body.items() if k != "sparse"}
            sparse = bool(op.body.get("sparse", True))
            return await self.update(op.entity, body, request_id=op.request_id, sparse=sparse)
        except AuthenticationError:
            raise
        except SyncError as error:
            return error


@dataclass(slots=True)
class _Promised:
    """Requests decided on and not finished: batches (each also one of the general
    budget) and general-budget requests."""

    batches: int = 0
    plain: int = 0

    def add(self, other: _Promised) -> None:
        self.batches += other.batches
        self.plain += other.plain

    def settle(self, mine: _Promised, *, batches: int, plain: int) -> None:
        """`mine` (a part of these) has finished that many requests (at most what it
        still promises: a call may send fewer than it planned, e.g. journaled chunks)."""
        batches, plain = min(batches, mine.batches), min(plain, mine.plain)
        mine.batches -= batches
        mine.plain -= plain
        self.batches -= batches
        self.plain -= plain


def _rows(page: Obj) -> list[Obj]:
    """The entity rows of a QueryResponse (the one list-valued key)."""
    for value in page.values():
        if isinstance(value, list):
            return [row for row in value if isinstance(row, dict)]
    return []
