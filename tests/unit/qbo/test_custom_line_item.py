"""The "Custom line item" look-up (R-PRD-3) asks QBO once per pass at most: its absence is
trusted for `ABSENT_FOR` (a backfill of 10,000 invoices asked once per batch), never when
it is about to be created."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.side.invoices import ABSENT_FOR, QboInvoices
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import ObjectPair

RULE = wizard_defaults(ObjectPair.INVOICES_INVOICES)


class FakeClient:
    realm_id = "1"

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.queries = 0
        self.creates = 0

    async def query_all(self, statement: str, page_size: int = 1000) -> list[dict[str, Any]]:
        assert "Custom line item" in statement
        self.queries += 1
        await asyncio.sleep(0)  # the answer comes later: other tasks run meanwhile
        return list(self.items)

    async def create(self, entity: str, body: dict[str, Any], *, request_id: str) -> Any:
        self.creates += 1
        made = {**body, "Id": "77"}
        self.items.append(made)
        return made


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def _income() -> str:
    return "1"


def _invoices() -> tuple[QboInvoices, FakeClient, Clock]:
    client, clock = FakeClient(), Clock()
    return QboInvoices(cast(QboClient, client), _income, clock=clock), client, clock


async def test_absence_is_asked_once_within_the_ttl() -> None:
    invoices, client, clock = _invoices()
    for _ in range(10):  # ten passes of a backfill
        assert await invoices.custom_line_item(RULE) is None
        clock.now += 1
    assert client.queries == 1
    clock.now = ABSENT_FOR + 1  # a user may have made it meanwhile: ask again
    assert await invoices.custom_line_item(RULE) is None
    assert client.queries == 2


async def test_passes_asking_at_the_same_time_share_one_query() -> None:
    """A backfill's pipeline runs two passes at once: both ask as they start."""
    invoices, client, _ = _invoices()

    answers = await asyncio.gather(*(invoices.custom_line_item(RULE) for _ in range(2)))

    assert answers == [None, None]
    assert client.queries == 1


async def test_creating_always_asks_first_and_then_is_cached() -> None:
    invoices, client, _ = _invoices()
    assert await invoices.custom_line_item(RULE) is None
    client.items.append({"Id": "5", "Name": "Custom line item"})  # made by a user
    assert await invoices.custom_line_item(RULE, create=True) == "5"  # found, not created
    assert (client.queries, client.creates) == (2, 0)
    assert await invoices.custom_line_item(RULE) == "5"
    assert client.queries == 2


async def test_created_when_absent() -> None:
    invoices, client, _ = _invoices()
    assert await invoices.custom_line_item(RULE, create=True) == "77"
    assert await invoices.custom_line_item(RULE) == "77"
    assert (client.queries, client.creates) == (1, 1)
