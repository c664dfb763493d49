"""The cursors table: where each side's change feed was last read."""

from __future__ import annotations

from sqlalchemy import select

from ledgerbridge.domain.refs import System
from ledgerbridge.store import schema
from ledgerbridge.store.base import TxBase, upsert


class CursorQueries(TxBase):
    """`Tx` methods on cursors."""

    def get_cursor(self, connection_id: int, side: System, object_type: str) -> str | None:
        table = schema.cursors
        value = self.connection.execute(
            select(table.c.value).where(
                table.c.connection_id == connection_id,
                table.c.side == side.value,
                table.c.object_type == object_type,
            )
        ).scalar()
        return str(value) if value is not None else None

    def set_cursor(self, connection_id: int, side: System, object_type: str, value: str) -> None:
        upsert(
            self.connection,
            schema.cursors,
            {
                "connection_id": connection_id,
                "side": side.value,
                "object_type": object_type,
                "value": value,
                "updated_at": self._clock(),
            },
            keys=("connection_id", "side", "object_type"),
            update_columns=("value", "updated_at"),
        )
