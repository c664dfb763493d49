"""Queries of the rules service: the history of rule changes, and the cursor reset that
makes a removed filter's records come back (`operations.rules.service`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, select

from ledgerbridge.domain import System
from ledgerbridge.store import Tx, schema


@dataclass(frozen=True, slots=True)
class RuleChangeRow:
    id: int
    connection_id: int
    at: dt.datetime
    object_pair: str
    source: str
    summary: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def record_change(
    tx: Tx,
    connection_id: int,
    *,
    at: dt.datetime,
    object_pair: str,
    source: str,
    summary: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    """Append one change to the connection's rule history."""
    tx.connection.execute(
        schema.rule_changes.insert().values(
            connection_id=connection_id,
            at=at,
            object_pair=object_pair,
            source=source,
            summary=summary,
            before=dict(before) if before is not None else None,
            after=dict(after) if after is not None else None,
        )
    )


def list_changes(
    tx: Tx, connection_id: int, *, object_pair: str | None = None, limit: int = 100
) -> list[RuleChangeRow]:
    """The latest changes first."""
    table = schema.rule_changes
    query = select(table).where(table.c.connection_id == connection_id)
    if object_pair is not None:
        query = query.where(table.c.object_pair == object_pair)
    rows = tx.connection.execute(
        query.order_by(table.c.at.desc(), table.c.id.desc()).limit(limit)
    ).mappings()
    return [
        RuleChangeRow(
            id=row["id"],
            connection_id=row["connection_id"],
            at=row["at"],
            object_pair=row["object_pair"],
            source=row["source"],
            summary=row["summary"],
            before=dict(row["before"]) if row["before"] is not None else None,
            after=dict(row["after"]) if row["after"] is not None else None,
        )
        for row in rows
    ]


def reset_cursor(tx: Tx, connection_id: int, side: System, object_type: str) -> None:
    """Forget where the pair's reading of `side` stands: its next pass reads the side in
    full (linked records that did not change are not written again)."""
    table = schema.cursors
    tx.connection.execute(
        delete(table).where(
            and_(
                table.c.connection_id == connection_id,
                table.c.side == side.value,
                table.c.object_type == object_type,
            )
        )
    )
