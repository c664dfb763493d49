"""The state store: `Store` (engine, migrations, transactions) and `Tx`.

`Store.begin()` gives a `Tx`: everything done through it commits together or
not at all, which is how a sync pass records links, sync records, activity and
cursors in one transaction (ARCHITECTURE.md, step 5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from ledgerbridge.domain.refs import System
from ledgerbridge.domain.tokens import TokenSet
from ledgerbridge.store.base import Clock, utc_now
from ledgerbridge.store.connections import ConnectionQueries
from ledgerbridge.store.crypto import TokenCipher
from ledgerbridge.store.cursors import CursorQueries
from ledgerbridge.store.journal import JournalQueries
from ledgerbridge.store.links import LinkQueries
from ledgerbridge.store.migrate import migrate
from ledgerbridge.store.records import ActivityRowIn, RecordQueries, RecordStatusEntry
from ledgerbridge.store.rules import RuleQueries


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

    @property
    def one_connection(self) -> bool:
        """Every transaction shares one connection (in-memory SQLite): two threads must
        not use the store at the same time."""
        return isinstance(self.engine.pool, StaticPool)

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


class Tx(ConnectionQueries, RuleQueries, LinkQueries, CursorQueries, JournalQueries, RecordQueries):
    """Everything the store does, inside one transaction. Each table family's queries live
    in their own module (connections, rules, links, cursors, journal, records + activity);
    `Tx` composes them, so every caller keeps writing `tx.save_links(...)`."""


__all__ = [
    "ActivityRowIn",
    "Clock",
    "RecordStatusEntry",
    "Store",
    "StoreTokenStore",
    "Tx",
    "make_engine",
    "utc_now",
]
