"""The backfill window of a QBO company (`sync.window.WindowReader`): queries on
`MetaData.CreateTime`, in creation order, one query a page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ledgerbridge.qbo.changes import qbo_datetime, ql_string
from ledgerbridge.qbo.codec_values import datetime_of
from ledgerbridge.qbo.side.entities import ENTITIES
from ledgerbridge.sync.window import EPOCH, Entry, Span

if TYPE_CHECKING:
    from ledgerbridge.qbo.side.port import QboSide

QBO_CREATED = "MetaData.CreateTime"


class QboWindow:
    """The window of a QBO company: `SELECT * … WHERE MetaData.CreateTime >= … ORDERBY
    MetaData.CreateTime MAXRESULTS n` (one query a page; inactive names are left out)."""

    max_page = 1000

    def __init__(self, side: QboSide) -> None:
        self.side = side

    def floor(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(dt.UTC).replace(microsecond=0)

    def _where(self, op: str, at: dt.datetime, until: dt.datetime | None) -> str:
        where = f"{QBO_CREATED} {op} '{qbo_datetime(at)}'"
        if until is not None:
            where += f" AND {QBO_CREATED} <= '{qbo_datetime(until)}'"
        return where

    def _entries(self, span: Span, page: dict[str, Any], *, tie: bool = False) -> list[Entry]:
        found = page.get(ENTITIES[span.rule.object_pair])
        rows: Sequence[dict[str, Any]] = found if isinstance(found, list) else []
        out = []
        for row in rows:
            if "Id" not in row:
                continue
            created = datetime_of((row.get("MetaData") or {}).get("CreateTime")) or EPOCH
            wanted = span.wanted(str(row["Id"]))
            record = self.side.side_record(span.rule, row) if wanted else None
            out.append(Entry(str(row["Id"]), created, record, tie))
        return out

    async def query(
        self, span: Span, after: dt.datetime, limit: int, *, strict: bool = False
    ) -> list[Entry]:
        entity = ENTITIES[span.rule.object_pair]
        where = self._where(">" if strict else ">=", after, span.until)
        statement = f"SELECT * FROM {entity} WHERE {where} ORDERBY {QBO_CREATED} MAXRESULTS {limit}"
        return self._entries(span, await self.side.client.query_page(statement))

    async def tie(self, span: Span, at: dt.datetime, *, after: str, limit: int) -> list[Entry]:
        entity = ENTITIES[span.rule.object_pair]
        where = self._where("=", at, span.until)
        if after:
            where += f" AND Id > {ql_string(after)}"
        statement = f"SELECT * FROM {entity} WHERE {where} ORDERBY Id MAXRESULTS {limit}"
        return self._entries(span, await self.side.client.query_page(statement), tie=True)

    async def count(self, span: Span, after: dt.datetime) -> int:
        entity = ENTITIES[span.rule.object_pair]
        return await self.side.client.count(entity, self._where(">=", after, span.until))
