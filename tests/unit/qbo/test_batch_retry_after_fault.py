"""A write QBO refused (an item fault in a batch) goes out again under a new batch
requestid: QBO stores a batch's whole answer, faults included, under its requestid,
and creates keep their key across passes (a crash retry must replay, not re-create)."""

from __future__ import annotations

from typing import Any

from ledgerbridge.qbo.batch import run_batches
from ledgerbridge.sync.errors import SyncError

from .test_batch_journal import Journal, Qbo, create, names

Obj = dict[str, Any]


class Refusing(Qbo):
    """Faults every item while `refusing` (e.g. a company setting the user then fixes)."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing = True
        self.request_ids: list[str] = []

    async def post(self, payload: Obj, request_id: str) -> Obj:
        self.request_ids.append(request_id)
        if self.refusing and request_id not in self.replies:
            for item in payload["BatchItemRequest"]:
                item["Customer"]["DisplayName"] = "bad-" + item["Customer"]["DisplayName"]
        return await super().post(payload, request_id)


async def test_a_refused_create_sent_again_with_the_same_key_is_executed_again() -> None:
    qbo, journal = Refusing(), Journal()
    refused = await run_batches([create("a")], 30, qbo.post, journal)
    assert isinstance(refused[0], SyncError)
    assert journal.entries == {}  # it did not happen: forgotten

    qbo.refusing = False
    again = await run_batches([create("a")], 30, qbo.post, journal)
    assert names(again) == ["a"]
    assert qbo.customers == ["a"]
    assert qbo.request_ids[0] != qbo.request_ids[1]


async def test_a_chunk_lost_in_a_crash_still_replays_under_its_remembered_requestid() -> None:
    qbo, journal = Refusing(), Journal()
    qbo.refusing = False
    qbo.lose_answers = True
    await run_batches([create("a")], 30, qbo.post, journal)
    qbo.lose_answers = False
    again = await run_batches([create("a")], 30, qbo.post, journal)
    assert names(again) == ["a"]
    assert qbo.customers == ["a"]
    assert qbo.request_ids[0] == qbo.request_ids[1]
