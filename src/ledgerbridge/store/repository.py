"""Queries and writes of the state store. SQLite (WAL) and PostgreSQL alike.

`Store.begin()` gives a `Tx`: everything done through it commits together or
not at all, which is how a sync pass records links, sync records, activity and
cursors in one transaction (ARCHITECTURE.md, step 5).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, create_engine, delete, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.pool import StaticPool

from ledgerbridge.domain.refs import System
from ledgerbridge.store import schema
from ledgerbridge.store.crypto import TokenCipher
from ledgerbridge.store.migrate import migrate
from ledgerbridge.store.rows import (
    ActivityRow,
    ConnectionRow,
    ConnectionStatus,
    LinkRow,
    RecordStatus,
    RuleRow,
    SyncRecordRow,
)
from ledgerbridge.transport.tokens import TokenSet

Clock = Callable[[], dt.datetime]
ID_CHUNK = 500
"""Ids per `IN (...)` list (well under SQLite's and PostgreSQL's parameter limits)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if in_memory else None,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


class Store:
    def __init__(self, engine: Engine, cipher: TokenCipher, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.cipher = cipher
        self.clock = clock

    @classmethod
    def open(
        cls, url: str, cipher: TokenCipher, *, run_migrations: bool = True, clock: Clock = utc_now
    ) -> Store:
        engine = make_engine(url)
        if run_migrations:
            migrate(engine)
        return cls(engine, cipher, clock)

    @contextmanager
    def begin(self) -> Iterator[Tx]:
        """A read-write transaction: commits on success, rolls back on any exception."""
        with self.engine.begin() as connection:
            yield Tx(connection, self.cipher, self.clock)

    def token_store(self, connection_id: int, system: System) -> StoreTokenStore:
        return StoreTokenStore(self, connection_id, system)

    def close(self) -> None:
        self.engine.dispose()


class StoreTokenStore:
    """The `TokenStore` of one connection and service, encrypted in the store."""

    def __init__(self, store: Store, connection_id: int, system: System) -> None:
        self._store, self._connection_id, self._system = store, connection_id, system

    def _load(self) -> TokenSet | None:
        with self._store.begin() as tx:
            return tx.load_tokens(self._connection_id, self._system)

    def _save(self, tokens: TokenSet) -> None:
        with self._store.begin() as tx:
            tx.save_tokens(self._connection_id, self._system, tokens)

    async def load(self) -> TokenSet | None:
        return await asyncio.to_thread(self._load)

    async def save(self, tokens: TokenSet) -> None:
        await asyncio.to_thread(self._save, tokens)


def _upsert(
    connection: Connection,
    table: Any,
    values: Mapping[str, Any],
    keys: Sequence[str],
    update_columns: Sequence[str],
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE, on SQLite and PostgreSQL."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: statement.excluded[name] for name in update_columns},
    )
    connection.execute(statement)


def _id_chunks(ids: Collection[str]) -> Iterator[list[str]]:
    """The distinct `ids`, sorted, in lists of `ID_CHUNK` (one `IN (…)` query each)."""
    values = sorted(set(ids))
    for start in range(0, len(values), ID_CHUNK):
        yield values[start : start + ID_CHUNK]


def _upsert_many(
    connection: Connection,
    table: Any,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    set_: Callable[[Any], Mapping[str, Any]],
) -> None:
    """One INSERT … ON CONFLICT (keys) DO UPDATE statement run for many rows
    (executemany): a pass's thousand links cost one statement, not a thousand."""
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_=dict(set_(statement.excluded))
    )
    connection.execute(statement, [dict(r) for r in rows])


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


def _token_column(system: System) -> str:
    return "hubspot_tokens" if system is System.HUBSPOT else "qbo_tokens"


class Tx:
    """Everything the store does, inside one transaction."""

    def __init__(self, connection: Connection, cipher: TokenCipher, clock: Clock) -> None:
        self.connection = connection
        self._cipher = cipher
        self._clock = clock

    # -- connections ---------------------------------------------------------------------

    def create_connection(
        self,
        *,
        name: str,
        hubspot_base_url: str,
        qbo_base_url: str,
        hubspot_portal_id: str | None = None,
        qbo_realm_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> int:
        now = self._clock()
        result = self.connection.execute(
            schema.connections.insert().values(
                name=name,
                hubspot_portal_id=hubspot_portal_id,
                qbo_realm_id=qbo_realm_id,
                hubspot_base_url=hubspot_base_url,
                qbo_base_url=qbo_base_url,
                status=ConnectionStatus.ACTIVE.value,
                options=dict(options or {}),
                created_at=now,
                updated_at=now,
            )
        )
        primary_key = result.inserted_primary_key
        assert primary_key is not None
        return int(primary_key[0])

    @staticmethod
    def _connection(row: RowMapping) -> ConnectionRow:
        return ConnectionRow(
            id=row["id"],
            name=row["name"],
            hubspot_portal_id=row["hubspot_portal_id"],
            qbo_realm_id=row["qbo_realm_id"],
            hubspot_base_url=row["hubspot_base_url"],
            qbo_base_url=row["qbo_base_url"],
            status=ConnectionStatus(row["status"]),
            status_detail=row["status_detail"],
            options=dict(row["options"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def get_connection(self, connection_id: int) -> ConnectionRow | None:
        row = (
            self.connection.execute(
                select(schema.connections).where(schema.connections.c.id == connection_id)
            )
            .mappings()
            .first()
        )
        return self._connection(row) if row else None

    def list_connections(self) -> list[ConnectionRow]:
        rows = self.connection.execute(select(schema.connections).order_by("id")).mappings()
        return [self._connection(row) for row in rows]

    def update_connection(
        self,
        connection_id: int,
        *,
        status: ConnectionStatus | None = None,
        status_detail: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = {"updated_at": self._clock()}
        if status is not None:
            values["status"] = status.value
            values["status_detail"] = status_detail
        if options is not None:
            values["options"] = dict(options)
        self.connection.execute(
            update(schema.connections)
            .where(schema.connections.c.id == connection_id)
            .values(**values)
        )

    # -- tokens (encrypted at rest) ----------------------------------------------------------

    def save_tokens(self, connection_id: int, system: System, tokens: TokenSet) -> None:
        self.connection.execute(
            update(schema.connections)
            .where(schema.connections.c.id == connection_id)
            .values(
                {_token_column(system): self._cipher.encrypt(tokens), "updated_at": self._clock()}
            )
        )

    def load_tokens(self, connection_id: int, system: System) -> TokenSet | None:
        column = schema.connections.c[_token_column(system)]
        blob = self.connection.execute(
            select(column).where(schema.connections.c.id == connection_id)
        ).scalar()
        return self._cipher.decrypt(blob) if blob else None

    # -- rules -------------------------------------------------------------------------------

    def save_rule(
        self, connection_id: int, object_pair: str, config: Mapping[str, Any], enabled: bool = True
    ) -> None:
        now = self._clock()
        _upsert(
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
        return [
            RuleRow(
                id=row["id"],
                connection_id=row["connection_id"],
                object_pair=row["object_pair"],
                enabled=row["enabled"],
                config=dict(row["config"]),
                updated_at=row["updated_at"],
            )
            for row in rows
        ]

    # -- links -------------------------------------------------------------------------------

    @staticmethod
    def _link(row: RowMapping) -> LinkRow:
        return LinkRow(
            connection_id=row["connection_id"],
            object_type=row["object_type"],
            hubspot_id=row["hubspot_id"],
            qbo_id=row["qbo_id"],
            hubspot_version=row["hubspot_version"],
            qbo_version=row["qbo_version"],
            hubspot_hash=row["hubspot_hash"],
            qbo_hash=row["qbo_hash"],
            base=dict(row["base"]),
            origin=row["origin"],
            updated_at=row["updated_at"],
        )

    def find_link(
        self,
        connection_id: int,
        object_type: str,
        *,
        hubspot_id: str | None = None,
        qbo_id: str | None = None,
    ) -> LinkRow | None:
        table = schema.links
        if (hubspot_id is None) == (qbo_id is None):
            raise ValueError("find a link by exactly one of hubspot_id or qbo_id")
        side_match = table.c.hubspot_id == hubspot_id if hubspot_id else table.c.qbo_id == qbo_id
        row = (
            self.connection.execute(
                select(table).where(
                    table.c.connection_id == connection_id,
                    table.c.object_type == object_type,
                    side_match,
                )
            )
            .mappings()
            .first()
        )
        return self._link(row) if row else None

    def list_links(self, connection_id: int, object_type: str | None = None) -> list[LinkRow]:
        table = schema.links
        query = select(table).where(table.c.connection_id == connection_id)
        if object_type is not None:
            query = query.where(table.c.object_type == object_type)
        return [
            self._link(r) for r in self.connection.execute(query.order_by(table.c.id)).mappings()
        ]

    def find_links(
        self,
        connection_id: int,
        object_type: str,
        *,
        hubspot_ids: Collection[str] = (),
        qbo_ids: Collection[str] = (),
    ) -> list[LinkRow]:
        """The links of `object_type` whose HubSpot id is in `hubspot_ids` or whose QBO id
        is in `qbo_ids`, ordered by id (each at most once). Uses the unique indexes, in
        chunks of `ID_CHUNK` ids per query."""
        table = schema.links
        found: dict[int, RowMapping] = {}
        for column, wanted in ((table.c.hubspot_id, hubspot_ids), (table.c.qbo_id, qbo_ids)):
            for chunk in _id_chunks(wanted):
                rows = self.connection.execute(
                    select(table).where(
                        table.c.connection_id == connection_id,
                        table.c.object_type == object_type,
                        column.in_(chunk),
                    )
                ).mappings()
                for row in rows:
                    found.setdefault(int(row["id"]), row)
        return [self._link(found[key]) for key in sorted(found)]

    def link_base_values(
        self, connection_id: int, object_type: str, name: str
    ) -> list[tuple[str, str, str]]:
        """(HubSpot id, QBO id, value) of the links of `object_type` whose base snapshot
        holds a text value under `name`, without reading the snapshots themselves."""
        table = schema.links
        value = table.c.base[name].as_string()
        rows = self.connection.execute(
            select(table.c.hubspot_id, table.c.qbo_id, value)
            .where(
                table.c.connection_id == connection_id,
                table.c.object_type == object_type,
                value.is_not(None),
            )
            .order_by(table.c.id)
        )
        return [(str(h), str(q), str(v)) for h, q, v in rows]

    def link_id_pairs(
        self, connection_id: int, object_types: Collection[str]
    ) -> list[tuple[str, str, str]]:
        """(object type, HubSpot id, QBO id) of the links of `object_types`: the ids only."""
        table = schema.links
        rows = self.connection.execute(
            select(table.c.object_type, table.c.hubspot_id, table.c.qbo_id)
            .where(
                table.c.connection_id == connection_id,
                table.c.object_type.in_(sorted(set(object_types))),
            )
            .order_by(table.c.id)
        )
        return [(str(t), str(h), str(q)) for t, h, q in rows]

    def save_link(self, link: LinkRow) -> None:
        """Insert or update the pair, keyed on (connection, object type, HubSpot id)."""
        self.save_links([link])

    def save_links(self, links: Sequence[LinkRow]) -> None:
        """`save_link` for many pairs in one statement."""
        now = self._clock()
        rows = [
            {
                "connection_id": link.connection_id,
                "object_type": link.object_type,
                "hubspot_id": link.hubspot_id,
                "qbo_id": link.qbo_id,
                "hubspot_version": link.hubspot_version,
                "qbo_version": link.qbo_version,
                "hubspot_hash": link.hubspot_hash,
                "qbo_hash": link.qbo_hash,
                "base": dict(link.base),
                "origin": link.origin,
                "created_at": now,
                "updated_at": now,
            }
            for link in links
        ]
        columns = ("qbo_id", "hubspot_version", "qbo_version", "hubspot_hash", "qbo_hash")
        _upsert_many(
            self.connection,
            schema.links,
            rows,
            ("connection_id", "object_type", "hubspot_id"),
            lambda new: {
                **{name: new[name] for name in columns},
                "base": new["base"],
                "updated_at": new["updated_at"],
            },
        )

    def delete_link(self, connection_id: int, object_type: str, hubspot_id: str) -> None:
        table = schema.links
        self.connection.execute(
            table.delete().where(
                table.c.connection_id == connection_id,
                table.c.object_type == object_type,
                table.c.hubspot_id == hubspot_id,
            )
        )

    # -- cursors -----------------------------------------------------------------------------

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
        _upsert(
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

    # -- write journal (QBO batches, `qbo.batch.BatchJournal`) --------------------------------

    def journal_writes(self, connection_id: int, entries: Sequence[tuple[str, str, str]]) -> None:
        """Remember (request id, batch id, slot) of writes about to be sent."""
        table = schema.write_journal
        now = self._clock()
        for request_id, batch_id, slot in entries:
            _upsert(
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
        for chunk in _id_chunks(request_ids):
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
        for chunk in _id_chunks(request_ids):
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

    # -- sync records ------------------------------------------------------------------------

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
        table = schema.sync_records
        now = self._clock()
        key = (
            table.c.connection_id == connection_id,
            table.c.object_type == object_type,
            table.c.side == side.value,
            table.c.record_id == record_id,
        )
        existing = self.connection.execute(select(table.c.attempts).where(*key)).first()
        values: dict[str, Any] = {
            "status": status.value,
            "error_category": error_category,
            "detail": detail,
            "excluded_by": excluded_by,
            "last_attempt_at": now,
        }
        if label is not None:
            values["label"] = label
        if status is RecordStatus.SYNCED:
            values["last_synced_at"] = now
        if existing is None:
            self.connection.execute(
                table.insert().values(
                    connection_id=connection_id,
                    object_type=object_type,
                    side=side.value,
                    record_id=record_id,
                    first_seen_at=now,
                    attempts=1,
                    **values,
                )
            )
        else:
            self.connection.execute(
                update(table).where(*key).values(attempts=existing[0] + 1, **values)
            )

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
        _upsert_many(
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
        return [
            SyncRecordRow(
                connection_id=row["connection_id"],
                object_type=row["object_type"],
                side=row["side"],
                record_id=row["record_id"],
                label=row["label"],
                status=RecordStatus(row["status"]),
                error_category=row["error_category"],
                detail=row["detail"],
                excluded_by=row["excluded_by"],
                attempts=row["attempts"],
                first_seen_at=row["first_seen_at"],
                last_attempt_at=row["last_attempt_at"],
                last_synced_at=row["last_synced_at"],
            )
            for row in rows
        ]

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
        return [
            ActivityRow(
                id=row["id"],
                connection_id=row["connection_id"],
                at=row["at"],
                object_type=row["object_type"],
                side=row["side"],
                record_id=row["record_id"],
                direction=row["direction"],
                operation=row["operation"],
                outcome=row["outcome"],
                details=dict(row["details"]),
            )
            for row in rows
        ]
