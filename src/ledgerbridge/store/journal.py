"""The write journal of QBO batches (`qbo.batch.BatchJournal`): request ids sent, so a
retried batch is not written twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import delete, select

from ledgerbridge.store import schema
from ledgerbridge.store.base import TxBase, id_chunks, upsert


class JournalQueries(TxBase):
    """`Tx` methods on the write journal."""

    def journal_writes(self, connection_id: int, entries: Sequence[tuple[str, str, str]]) -> None:
        """Remember (request id, batch id, slot) of writes about to be sent."""
        table = schema.write_journal
        now = self._clock()
        for request_id, batch_id, slot in entries:
            upsert(
                self.connection,
                table,
                {
                    "connection_id": connection_id,
                    "request_id": request_id,
                    "batch_id": batch_id,
                    "slot": slot,
                    "created_at": now,
                },
                keys=("connection_id", "request_id"),
                update_columns=("batch_id", "slot", "created_at"),
            )

    def journaled_writes(
        self, connection_id: int, request_ids: Collection[str]
    ) -> dict[str, tuple[str, str]]:
        table = schema.write_journal
        found: dict[str, tuple[str, str]] = {}
        for chunk in id_chunks(request_ids):
            rows = self.connection.execute(
                select(table.c.request_id, table.c.batch_id, table.c.slot).where(
                    table.c.connection_id == connection_id, table.c.request_id.in_(chunk)
                )
            )
            for request_id, batch_id, slot in rows:
                found[str(request_id)] = (str(batch_id), str(slot))
        return found

    def forget_writes(
        self,
        connection_id: int,
        request_ids: Collection[str] = (),
        *,
        older_than: dt.datetime | None = None,
    ) -> None:
        table = schema.write_journal
        for chunk in id_chunks(request_ids):
            self.connection.execute(
                delete(table).where(
                    table.c.connection_id == connection_id, table.c.request_id.in_(chunk)
                )
            )
        if older_than is not None:
            self.connection.execute(
                delete(table).where(
                    table.c.connection_id == connection_id, table.c.created_at < older_than
                )
            )
