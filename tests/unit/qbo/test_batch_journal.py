"""`run_batches` with a write journal: writes sent before go out again in their old chunk."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ledgerbridge.qbo.batch import BatchOp, run_batches
from ledgerbridge.sync.errors import ErrorCategory, SyncError, TransientError

Obj = dict[str, Any]


class Journal:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, str]] = {}

    async def recall(self, request_ids: Collection[str]) -> Mapping[str, tuple[str, str]]:
        return {r: self.entries[r] for r in request_ids if r in self.entries}

    async def remember(self, entries: Sequence[tuple[str, str, str]]) -> None:
        for request_id, batch, bid in entries:
            self.entries[request_id] = (batch, bid)

    async def forget(self, request_ids: Collection[str]) -> None:
        for request_id in request_ids:
            self.entries.pop(request_id, None)


class Qbo:
    """Executes batches, replays a known requestid; can lose the answer after the commit."""

    def __init__(self) -> None:
        self.replies: dict[str, Obj] = {}
        self.customers: list[str] = []
        self.lose_answers = False
        self.in_flight = 0
        self.most_in_flight = 0

    async def post(self, payload: Obj, request_id: str) -> Obj:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0)
        self.in_flight -= 1
        if request_id not in self.replies:
            answers = []
            for item in payload["BatchItemRequest"]:
                name = item["Customer"]["DisplayName"]
                if name.startswith("bad"):
                    fault = {
                        "Error": [{"Message": "Invalid", "code": "2020"}],
                        "type": "Validation",
                    }
                    answers.append({"bId": item["bId"], "Fault": fault})
                    continue
                self.customers.append(name)
                customer = {"Id": str(len(self.customers)), "DisplayName": name}
                answers.append({"bId": item["bId"], "Customer": customer})
            self.replies[request_id] = {"BatchItemResponse": answers}
        if self.lose_answers:
            raise TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "timed out after the commit")
        return self.replies[request_id]


def create(name: str) -> BatchOp:
    return BatchOp.create("Customer", {"DisplayName": name}, request_id=f"key-{name}")


def names(results: Sequence[Obj | SyncError]) -> list[str | None]:
    return [r["DisplayName"] if isinstance(r, dict) else None for r in results]


async def test_a_chunk_lost_in_a_crash_is_replayed_even_when_the_next_pass_differs() -> None:
    qbo, journal = Qbo(), Journal()
    qbo.lose_answers = True
    lost = await run_batches([create("a"), create("b")], 30, qbo.post, journal)
    assert all(isinstance(r, TransientError) for r in lost)
    assert qbo.customers == ["a", "b"]  # written, the answers lost

    qbo.lose_answers = False
    results = await run_batches([create("c"), create("a"), create("b")], 30, qbo.post, journal)
    assert names(results) == ["c", "a", "b"]
    assert qbo.customers == ["a", "b", "c"]  # a and b were not created again


async def test_without_a_journal_the_new_composition_would_write_twice() -> None:
    qbo = Qbo()
    qbo.lose_answers = True
    await run_batches([create("a"), create("b")], 30, qbo.post)
    qbo.lose_answers = False
    await run_batches([create("c"), create("a"), create("b")], 30, qbo.post)
    assert qbo.customers == ["a", "b", "c", "a", "b"]  # why the journal exists


async def test_a_write_that_faulted_is_forgotten_and_goes_out_fresh_next_time() -> None:
    qbo, journal = Qbo(), Journal()
    results = await run_batches([create("bad"), create("ok")], 30, qbo.post, journal)
    assert isinstance(results[0], SyncError) and names(results)[1] == "ok"
    assert set(journal.entries) == {"key-ok"}


async def test_an_old_chunk_sent_without_a_write_lets_that_write_go_fresh() -> None:
    qbo, journal = Qbo(), Journal()
    await journal.remember([("key-a", "old-chunk", "b0"), ("key-b", "old-chunk", "b1")])
    first = await run_batches([create("a")], 30, qbo.post, journal)  # chunk never sent before
    assert names(first) == ["a"]
    replay = await run_batches([create("b")], 30, qbo.post, journal)
    assert isinstance(replay[0], TransientError)  # the replay does not mention b
    assert "key-b" not in journal.entries
    again = await run_batches([create("b")], 30, qbo.post, journal)
    assert names(again) == ["b"]
    assert qbo.customers == ["a", "b"]


async def test_chunks_are_sent_concurrently_and_answers_keep_the_order() -> None:
    qbo = Qbo()
    ops = [create(f"n{i:02}") for i in range(75)]
    results = await run_batches(ops, 30, qbo.post)
    assert names(results) == [f"n{i:02}" for i in range(75)]
    assert qbo.most_in_flight == 3


async def test_a_write_sent_singly_goes_singly_again_after_a_crash() -> None:
    qbo, journal = Qbo(), Journal()
    replies: dict[str, Obj] = {}

    async def single(op: BatchOp) -> Obj | SyncError:
        if op.request_id not in replies:  # QBO replays a known requestid
            qbo.customers.append(op.body["DisplayName"])
            replies[op.request_id] = {"Id": str(len(qbo.customers)), **op.body}
        if qbo.lose_answers:
            return TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "timed out")
        return replies[op.request_id]

    qbo.lose_answers = True
    await run_batches([create("a")], 30, qbo.post, journal, single=single, singles=1)
    assert journal.entries["key-a"][0] == "single"
    qbo.lose_answers = False
    # The batch budget has room now: new writes go in a batch, but "a" goes singly again.
    results = await run_batches([create("c"), create("a")], 30, qbo.post, journal, single=single)
    assert names(results) == ["c", "a"]
    assert qbo.customers == ["a", "c"]
