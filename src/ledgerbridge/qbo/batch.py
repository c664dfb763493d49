"""QBO `/batch`: operations in chunks of ≤30, answers matched back by `bId`.

Items of one batch are independent (no item sees another's result; order is not
guaranteed), so answers are matched by `bId`, never by position. bIds are short
("b0".."b29": with a `requestid` they must be ≤10 characters). The batch's requestid
is derived from its items' request ids (and, with a write journal, a fresh salt per
new chunk: see `_chunks`), so re-sending the same chunk (after a time-out that hid a
commit, or a crash: the journal) returns the original answer instead of writing twice.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

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
Single = Callable[["BatchOp"], Awaitable["Obj | SyncError"]]
"""Send one write alone (its own requestid); a write's own failure is returned."""


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
    return parse_answers([(op, f"b{index}") for index, op in enumerate(ops)], body)


def parse_answers(slots: Sequence[tuple[BatchOp, str]], body: Obj) -> BatchResult:
    """Match `BatchItemResponse` entries back to (op, bId) pairs by bId."""
    answers: dict[str, Obj] = {}
    for answer in body.get("BatchItemResponse") or []:
        if isinstance(answer, dict) and "bId" in answer:
            answers[str(answer["bId"])] = answer
    results: BatchResult = []
    for op, bid in slots:
        answer = answers.get(bid)
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


class BatchJournal(Protocol):
    """Where each write's batch was sent, kept across crashes (write-ahead).

    A batch's requestid is a digest of its items, so it only replays when the very same
    chunk is sent again. After a crash the next pass may compose its chunks differently
    (new changes arrived, an item is gone); a write already sent inside an old chunk must
    then go out again *in that chunk* (same requestid, same bId), or a create would run
    twice. `remember` is durable before the chunk is posted; `recall` finds the chunk of
    each request id; `forget` drops entries whose write is known not to have happened.
    """

    async def recall(self, request_ids: Collection[str]) -> Mapping[str, tuple[str, str]]:
        """request id → (batch requestid, bId) for those sent before."""
        ...

    async def remember(self, entries: Sequence[tuple[str, str, str]]) -> None:
        """(request id, batch requestid, bId) of chunks about to be sent."""
        ...

    async def forget(self, request_ids: Collection[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class _Chunk:
    request_id: str
    slots: list[tuple[int, BatchOp, str]]  # (index in ops, op, bId)

    def payload(self) -> Obj:
        return {"BatchItemRequest": [op.item(bid) for _, op, bid in self.slots]}


def _chunks(
    ops: Sequence[BatchOp],
    size: int,
    recalled: Mapping[str, tuple[str, str]],
    salt: str | None = None,
) -> list[_Chunk]:
    """Writes sent before go in their old chunk; the rest in fresh chunks of `size`.

    With a `salt` (a journal is kept), a fresh chunk's requestid also digests it: QBO
    stores a batch's whole answer, item faults included, under its requestid, so a
    write the journal forgot after a fault (it did not happen) and sends again in a
    chunk of the same items must not get the old requestid, or QBO replays the fault.
    A crash is covered by the journal (the chunk's requestid is remembered before it
    is posted), and the transport's own retries re-post under the same requestid."""
    old: dict[str, list[tuple[int, BatchOp, str]]] = {}
    fresh: list[tuple[int, BatchOp]] = []
    for index, op in enumerate(ops):
        where = recalled.get(op.request_id) if op.operation != "query" else None
        if where is None:
            fresh.append((index, op))
        else:
            old.setdefault(where[0], []).append((index, op, where[1]))
    chunks = [_Chunk(request_id, slots) for request_id, slots in old.items()]
    for start in range(0, len(fresh), size):
        part = fresh[start : start + size]
        chunk_ops = [op for _, op in part]
        slots = [(index, op, f"b{i}") for i, (index, op) in enumerate(part)]
        request_id = (
            batch_request_id(chunk_ops)
            if salt is None
            else request_id_for("batch", salt, *(op.request_id for op in chunk_ops))
        )
        chunks.append(_Chunk(request_id, slots))
    return chunks


SINGLE = "single"
"""The journal's batch id of a write sent as a plain request (its own requestid)."""


def plain_share(ops: int, size: int, batch_room: int, plain_room: int, reserve: int = 0) -> int:
    """How many of `ops` writes to send as plain requests now rather than in batches:
    a single write goes plain while the general budget has room for it (a batch of one
    saves no request: it costs one of the general budget too, and takes one of the 40
    batch slots of the minute for nothing); none while the batch budget has room for
    every chunk; else those that do not fit in the batches that can start now
    (`batch_room`), as far as the general budget (`plain_room`, which each of those
    batches also spends one of) has room for them, keeping `reserve` requests for reads.
    The rest wait for batch slots."""
    if ops <= 0:
        return 0
    if ops == 1 and plain_room - reserve >= 1:
        return 1
    if -(-ops // size) <= batch_room:
        return 0
    overflow = ops - max(batch_room, 0) * size
    return max(0, min(overflow, plain_room - max(batch_room, 0) - reserve))


async def run_batches(
    ops: Sequence[BatchOp],
    size: int,
    post: Post,
    journal: BatchJournal | None = None,
    *,
    single: Single | None = None,
    singles: int = 0,
) -> BatchResult:
    """Send `ops` in chunks of `size`, all chunks at once (the transport's budgets pace
    them); results in `ops` order.

    A chunk that fails as a whole (after the transport's retries) gives its error to each
    of its items, and the other chunks still count, except for an `AuthenticationError`,
    which is raised after every chunk has finished (the connection needs a reconnect).
    With a `journal`, writes sent before are re-sent in their old chunk (see
    `BatchJournal`), and new chunks are remembered before they are posted.

    `single` sends one write as a plain request under its own requestid. `singles` of
    the fresh creates/updates (the last ones; see `plain_share`) go that way instead of
    in a batch; they are journaled as `SINGLE`, so after a crash they go out singly again
    (same requestid), never in a new batch.
    """
    writes = [op.request_id for op in ops if op.operation != "query"]
    recalled = await journal.recall(writes) if journal is not None and writes else {}
    alone = _singles(ops, recalled, singles if single is not None else 0)
    if alone and single is None:
        raise ValueError("writes journaled as single requests need `single`")
    singled = set(alone)
    salt = secrets.token_hex(8) if journal is not None else None
    chunks = _chunks([op for i, op in enumerate(ops) if i not in singled], size, recalled, salt)
    positions = [i for i in range(len(ops)) if i not in singled]
    if journal is not None:
        await _remember(journal, ops, chunks, alone, recalled)
    results: list[Obj | SyncError | None] = [None] * len(ops)
    unsent: set[str] = set()

    async def by_itself(index: int) -> None:
        assert single is not None
        results[index] = await single(ops[index])

    async def one(chunk: _Chunk) -> None:
        try:
            body = await post(chunk.payload(), chunk.request_id)
        except AuthenticationError:
            raise
        except SyncError as error:
            for index, _, _ in chunk.slots:
                results[positions[index]] = error
            return
        answers = parse_answers([(op, bid) for _, op, bid in chunk.slots], body)
        present = _answered(body)
        for (index, op, bid), answer in zip(chunk.slots, answers, strict=True):
            results[positions[index]] = answer
            if bid not in present:
                unsent.add(op.request_id)  # not in that chunk's (original) answer

    calls = [one(c) for c in chunks] + [by_itself(i) for i in alone]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    if journal is not None:
        await _forget_unwritten(journal, ops, results, unsent)
    return [r if r is not None else _missing() for r in results]


def _singles(
    ops: Sequence[BatchOp], recalled: Mapping[str, tuple[str, str]], count: int
) -> list[int]:
    """The positions of the writes to send as plain requests: those journaled as
    `SINGLE`, plus the last `count` fresh creates/updates."""
    alone = [i for i, op in enumerate(ops) if recalled.get(op.request_id, ("",))[0] == SINGLE]
    fresh = [
        i
        for i, op in enumerate(ops)
        if op.operation in ("create", "update") and op.request_id not in recalled
    ]
    return sorted(alone + (fresh[-count:] if count > 0 else []))


async def _remember(
    journal: BatchJournal,
    ops: Sequence[BatchOp],
    chunks: Sequence[_Chunk],
    alone: Sequence[int],
    recalled: Mapping[str, tuple[str, str]],
) -> None:
    """Journal the new writes (their chunk and slot, or `SINGLE`) before they are sent."""
    entries = [
        (op.request_id, chunk.request_id, bid)
        for chunk in chunks
        for _, op, bid in chunk.slots
        if op.operation != "query" and op.request_id not in recalled
    ]
    entries += [
        (ops[i].request_id, SINGLE, "-") for i in alone if ops[i].request_id not in recalled
    ]
    if entries:
        await journal.remember(entries)


async def _forget_unwritten(
    journal: BatchJournal,
    ops: Sequence[BatchOp],
    results: Sequence[Obj | SyncError | None],
    unsent: set[str],
) -> None:
    """A write that answered with a Fault did not happen: a later try may go fresh. So
    did one its chunk's answer does not mention (a replayed chunk first sent without it)."""
    done = {
        op.request_id
        for op, result in zip(ops, results, strict=True)
        if op.operation != "query"
        and isinstance(result, SyncError)
        and not isinstance(result, TransientError)
    }
    if done or unsent:
        await journal.forget(done | unsent)


def _answered(body: Obj) -> set[str]:
    return {
        str(answer["bId"])
        for answer in body.get("BatchItemResponse") or []
        if isinstance(answer, dict) and "bId" in answer
    }


def _missing() -> SyncError:
    return TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "the batch was not sent")
