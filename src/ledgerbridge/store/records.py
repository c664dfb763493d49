"""Sync records (each record's current status) and the append-only activity log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from ledgerbridge.domain.refs import System
from ledgerbridge.store import schema
from ledgerbridge.store.base import TxBase, row_as, upsert_many
from ledgerbridge.store.rows import ActivityRow, RecordStatus, SyncRecordRow


@dataclass(frozen=True, slots=True)
class RecordStatusEntry:
    """One record's status for `Tx.set_record_statuses`."""

    object_type: str
    side: System
    record_id: str
    status: RecordStatus
    label: str | None = None
    error_category: str | None = None
    detail: str | None = None
    excluded_by: str | None = None


@dataclass(frozen=True, slots=True)
class ActivityRowIn:
    """One audit line for `Tx.append_activities`."""

    object_type: str
    side: System
    record_id: str
    direction: str
    operation: str
    outcome: str
    details: Mapping[str, Any] | None = None


class RecordQueries(TxBase):
    """`Tx` methods on sync records and activity."""

    def set_record_status(
        self,
        connection_id: int,
        object_type: str,
        side: System,
        record_id: str,
        status: RecordStatus,
        *,
        label: str | None = None,
        error_category: str | None = None,
        detail: str | None = None,
        excluded_by: str | None = None,
    ) -> None:
        """The record's current status: synced, failed (category, detail) or excluded (filter)."""
        entry = RecordStatusEntry(
            object_type, side, record_id, status, label, error_category, detail, excluded_by
        )
        self.set_record_statuses(connection_id, [entry])

    def set_record_statuses(self, connection_id: int, entries: Sequence[RecordStatusEntry]) -> None:
        """`set_record_status` for many records in one statement (attempts counted in SQL)."""
        table = schema.sync_records
        now = self._clock()
        rows = [
            {
                "connection_id": connection_id,
                "object_type": e.object_type,
                "side": e.side.value,
                "record_id": e.record_id,
                "label": e.label,
                "status": e.status.value,
                "error_category": e.error_category,
                "detail": e.detail,
                "excluded_by": e.excluded_by,
                "attempts": 1,
                "first_seen_at": now,
                "last_attempt_at": now,
                "last_synced_at": now if e.status is RecordStatus.SYNCED else None,
            }
            for e in entries
        ]
        upsert_many(
            self.connection,
            table,
            rows,
            ("connection_id", "object_type", "side", "record_id"),
            lambda new: {
                "status": new.status,
                "error_category": new.error_category,
                "detail": new.detail,
                "excluded_by": new.excluded_by,
                "last_attempt_at": new.last_attempt_at,
                "attempts": table.c.attempts + 1,
                "label": func.coalesce(new.label, table.c.label),
                "last_synced_at": func.coalesce(new.last_synced_at, table.c.last_synced_at),
            },
        )

    def list_records(
        self,
        connection_id: int,
        *,
        object_type: str | None = None,
        status: RecordStatus | None = None,
        side: System | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[SyncRecordRow]:
        table = schema.sync_records
        query = select(table).where(table.c.connection_id == connection_id)
        if object_type is not None:
            query = query.where(table.c.object_type == object_type)
        if status is not None:
            query = query.where(table.c.status == status.value)
        if side is not None:
            query = query.where(table.c.side == side.value)
        query = query.order_by(table.c.last_attempt_at.desc(), table.c.id.desc())
        rows = self.connection.execute(query.offset(offset).limit(limit)).mappings()
        return [row_as(SyncRecordRow, row, status=RecordStatus(row["status"])) for row in rows]

    def count_records(self, connection_id: int) -> dict[str, dict[RecordStatus, int]]:
        """{object type: {status: count}} for the sync overview (R-HLT-3)."""
        table = schema.sync_records
        rows = self.connection.execute(
            select(table.c.object_type, table.c.status, func.count())
            .where(table.c.connection_id == connection_id)
            .group_by(table.c.object_type, table.c.status)
        )
        counts: dict[str, dict[RecordStatus, int]] = {}
        for object_type, status, count in rows:
            counts.setdefault(object_type, {})[RecordStatus(status)] = int(count)
        return counts

    # -- activity (append-only audit log) ----------------------------------------------------

    def append_activity(
        self,
        connection_id: int,
        *,
        object_type: str,
        side: System,
        record_id: str,
        direction: str,
        operation: str,
        outcome: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.connection.execute(
            schema.activity.insert().values(
                connection_id=connection_id,
                at=self._clock(),
                object_type=object_type,
                side=side.value,
                record_id=record_id,
                direction=direction,
                operation=operation,
                outcome=outcome,
                details=dict(details or {}),
            )
        )

    def append_activities(self, connection_id: int, entries: Sequence[ActivityRowIn]) -> None:
        """`append_activity` for many entries in one statement."""
        if not entries:
            return
        now = self._clock()
        self.connection.execute(
            schema.activity.insert(),
            [
                {
                    "connection_id": connection_id,
                    "at": now,
                    "object_type": e.object_type,
                    "side": e.side.value,
                    "record_id": e.record_id,
                    "direction": e.direction,
                    "operation": e.operation,
                    "outcome": e.outcome,
                    "details": dict(e.details or {}),
                }
                for e in entries
            ],
        )

    def list_activity(
        self,
        connection_id: int,
        *,
        object_type: str | None = None,
        side: System | None = None,
        record_id: str | None = None,
        limit: int = 100,
    ) -> list[ActivityRow]:
        table = schema.activity
        query = select(table).where(table.c.connection_id == connection_id)
        if object_type is not None:
            query = query.where(table.c.object_type == object_type)
        if side is not None:
            query = query.where(table.c.side == side.value)
        if record_id is not None:
            query = query.where(table.c.record_id == record_id)
        rows = self.connection.execute(query.order_by(table.c.id.desc()).limit(limit)).mappings()
        return [row_as(ActivityRow, row, details=dict(row["details"])) for row in rows]
