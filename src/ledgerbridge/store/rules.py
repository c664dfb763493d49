"""The sync rules table: one rule per connection and object pair."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, select, update

from ledgerbridge.store import schema
from ledgerbridge.store.base import TxBase, row_as, upsert
from ledgerbridge.store.rows import RuleRow


class RuleQueries(TxBase):
    """`Tx` methods on sync rules."""

    def save_rule(
        self, connection_id: int, object_pair: str, config: Mapping[str, Any], enabled: bool = True
    ) -> None:
        now = self._clock()
        upsert(
            self.connection,
            schema.sync_rules,
            {
                "connection_id": connection_id,
                "object_pair": object_pair,
                "enabled": enabled,
                "config": dict(config),
                "created_at": now,
                "updated_at": now,
            },
            keys=("connection_id", "object_pair"),
            update_columns=("enabled", "config", "updated_at"),
        )

    def set_rule_enabled(self, connection_id: int, object_pair: str, enabled: bool) -> bool:
        table = schema.sync_rules
        result = self.connection.execute(
            update(table)
            .where(and_(table.c.connection_id == connection_id, table.c.object_pair == object_pair))
            .values(enabled=enabled, updated_at=self._clock())
        )
        return result.rowcount > 0

    def list_rules(self, connection_id: int) -> list[RuleRow]:
        table = schema.sync_rules
        rows = self.connection.execute(
            select(table).where(table.c.connection_id == connection_id).order_by(table.c.id)
        ).mappings()
        return [row_as(RuleRow, row, config=dict(row["config"])) for row in rows]
