"""QBO `/batch`: operations in chunks of ≤30, answers matched back by `bId`.

Items of one batch are independent (no item sees another's result; order is not
guaranteed), so answers are matched by `bId`, never by position. bIds are short
("b0".."b29": with a `requestid` they must be ≤10 characters). The batch's requestid
is derived from its items' request ids, so re-sending the same chunk (after a time-out
that hid a commit) returns the original answer instead of writing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ledgerbridge.qbo import faults
from ledgerbridge.qbo.ids import check_request_id, request_id_for
from ledgerbridge.sync.errors import (
    AuthenticationError,
    ErrorCategory,
    SyncError,
    TransientError,
)

Obj = dict[str, Any]
Operation = Literal["create", "update", "delete", "void", "query"]
BatchResult = list[Obj | SyncError]
Post = Callable[[Obj, str], Awaitable[Obj]]


@dataclass(frozen=True, slots=True)
class BatchOp:
    """One batch item. For `query`, `statement` is the query and `entity` is "Query"."""

    entity: str
    operation: Operation
    request_id: str
    body: Obj = field(default_factory=dict)
    options: str | None = None  # optionsData, e.g. "void" to void a Payment by update
    statement: str | None = None

    def __post_init__(self) -> None:
        check_request_id(self.request_id)

    @classmethod
    def create(cls, entity: str, body: Obj, *, request_id: str) -> BatchOp:
        return cls(entity, "create", request_id, body)

    @classmethod
    def update(cls, entity: str, body: Obj, *, request_id: str, sparse: bool = True) -> BatchOp:
        if "Id" not in body or "SyncToken" not in body:
            raise ValueError("an update needs Id and SyncToken")
        return cls(entity, "update", request_id, {**body, "sparse": sparse})

    @classmethod
    def delete(cls, entity: str, entity_id: str, sync_token: str, *, request_id: str) -> BatchOp:
        return cls(entity, "delete", request_id, {"Id": entity_id, "SyncToken": sync_token})

    @classmethod
    def void(cls, entity: str, entity_id: str, sync_token: str, *, request_id: str) -> BatchOp:
        body: Obj = {"Id": entity_id, "SyncToken": sync_token}
        if entity in ("Payment", "BillPayment"):
            return cls(entity, "update", request_id, {**body, "sparse": True}, options="void")
        return cls(entity, "void", request_id, body)

    @classmethod
    def query(cls, statement: str, *, request_id: str) -> BatchOp:
        return cls("Query", "query", request_id, statement=statement)

    def item(self, bid: str) -> Obj:
        if self.operation == "query":
            return {"bId": bid, "Query": self.statement}
        item: Obj = {"bId": bid, "operation": self.operation, self.entity: self.body}
        if self.options:
            item["optionsData"] = self.options
        return item


def batch_request_id(ops: Sequence[BatchOp]) -> str:
    """The requestid of a chunk: a digest of its items' request ids, in order."""
    return request_id_for("batch", *(op.request_id for op in ops))


def parse_batch_response(ops: Sequence[BatchOp], body: Obj) -> BatchResult:
    """Match `BatchItemResponse` entries back to `ops` by bId ("b<index>")."""
    answers: dict[str, Obj] = {}
    for answer in body.get("BatchItemResponse") or []:
        if isinstance(answer, dict) and "bId" in answer:
            answers[str(answer["bId"])] = answer
    results: BatchResult = []
    for index, op in enumerate(ops):
        answer = answers.get(f"b{index}")
        if answer is None:
            results.append(
                TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "the batch had no answer for it")
            )
        elif "Fault" in answer:
            results.append(faults.error_from_fault(answer["Fault"]))
        elif op.operation == "query":
            page = answer.get("QueryResponse")
            results.append(page if isinstance(page, dict) else {})
        elif isinstance(answer.get(op.entity), dict):
            results.append(answer[op.entity])
        else:
            results.append(
                TransientError(ErrorCategory.UNKNOWN, f"the batch answer has no {op.entity}")
            )
    return results


async def run_batches(ops: Sequence[BatchOp], size: int, post: Post) -> BatchResult:
    """Send `ops` in chunks of `size`, one after the other; results in `ops` order.

    A chunk that fails as a whole (after the transport's retries) gives its error to each
    of its items, and the next chunk is still tried, except for an `AuthenticationError`,
    which stops everything (the whole connection needs a reconnect).
    """
    results: BatchResult = []
    for start in range(0, len(ops), size):
        chunk = ops[start : start + size]
        payload = {"BatchItemRequest": [op.item(f"b{i}") for i, op in enumerate(chunk)]}
        try:
            body = await post(payload, batch_request_id(chunk))
        except AuthenticationError:
            raise
        except SyncError as error:
            results.extend(error for _ in chunk)
            continue
        results.extend(parse_batch_response(chunk, body))
    return results
