"""PostgreSQL advisory locks and the per-connection pass generations of the distributed runtime.

One pass per connection at a time, across every worker process and machine:

* `AdvisoryLocks` holds session-level advisory locks (`pg_try_advisory_lock`) on ONE
  dedicated database session per worker process. A lock is held for the whole pass and
  released after it; when the worker dies (SIGKILL, lost machine), PostgreSQL ends its
  session and every lock it held is free at once — no lease to expire, no row left in
  `doing` to repair by hand.
* The generation counter (`connection_passes`): every ask for a pass (webhook, poll,
  retry) adds one to `requested`; a pass starts from the `requested` it read and, when it
  finishes, sets `done` to it. A change that arrives during a pass leaves `requested >
  done`, so the holder of the lock runs one more pass: never lost, never two at once.

Everything here takes a `Tx` (its SQLAlchemy connection is `tx.connection`), except the
lock session, which must outlive transactions.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ledgerbridge.store import schema
from ledgerbridge.store.migrate import at_head, migrate
from ledgerbridge.store.repository import Tx

__all__ = [
    "PASS_LOCKS",
    "AdvisoryLocks",
    "PassState",
    "begin_pass",
    "finish_pass",
    "migrate_exclusively",
    "pass_state",
    "request_pass",
    "request_passes",
]

PASS_LOCKS = 0x4C42_0001
"""Advisory-lock namespace (first key) of the pass locks; the second key is the connection id."""
MIGRATION_LOCK = 0x4C42_0002
"""Namespace of the lock that serialises schema set-up between processes starting together."""

passes = schema.connection_passes


class LockSessionLost(RuntimeError):
    """The database session that held the pass locks is gone (so are its locks)."""


class AdvisoryLocks:
    """Session-level advisory locks on one dedicated PostgreSQL session (thread-safe)."""

    def __init__(self, engine: Engine, namespace: int = PASS_LOCKS) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("advisory locks need PostgreSQL")
        self._engine = engine
        self._namespace = namespace
        self._mutex = threading.Lock()
        self._session: Connection | None = None
        self.held: set[int] = set()

    def _connection(self) -> Connection:
        if self._session is None or self._session.closed or self._session.invalidated:
            if self.held:
                lost, self.held = sorted(self.held), set()
                raise LockSessionLost(f"the lock session died holding locks {lost}")
            self._session = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._session

    def try_acquire(self, key: int) -> bool:
        """Take the lock of `key` now, or return False when it is held: by another session,
        or by this one (PostgreSQL's session locks are re-entrant, so a job of this process
        would otherwise get the lock a pass of this process holds)."""
        with self._mutex:
            if key in self.held:
                return False
            got = bool(
                self._connection()
                .execute(
                    text("SELECT pg_try_advisory_lock(:ns, :key)"),
                    {"ns": self._namespace, "key": key},
                )
                .scalar_one()
            )
            if got:
                self.held.add(key)
            return got

    def release(self, key: int) -> bool:
        """Free the lock of `key`; False when this session did not hold it (it was lost)."""
        with self._mutex:
            if key not in self.held:
                return False
            self.held.discard(key)
            freed = (
                self._connection()
                .execute(
                    text("SELECT pg_advisory_unlock(:ns, :key)"),
                    {"ns": self._namespace, "key": key},
                )
                .scalar_one()
            )
            return bool(freed)

    def close(self) -> None:
        """End the session, which frees every lock it still holds. The database connection
        is discarded, not returned to the pool: a pooled session would keep its locks."""
        with self._mutex:
            session, self._session = self._session, None
            self.held.clear()
            if session is None or session.closed:
                return
            try:
                session.execute(text("SELECT pg_advisory_unlock_all()"))
            except DBAPIError:
                pass  # a broken session: discarding it ends it, and its locks
            finally:
                session.invalidate()
                session.close()


@contextmanager
def exclusively(engine: Engine, namespace: int, key: int) -> Iterator[None]:
    """Hold a blocking advisory lock for the `with` block (PostgreSQL; no-op elsewhere)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as session:
        session.execute(text("SELECT pg_advisory_lock(:ns, :key)"), {"ns": namespace, "key": key})
        try:
            yield
        finally:
            session.execute(
                text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": namespace, "key": key}
            )


def migrate_exclusively(engine: Engine) -> None:
    """Alembic's upgrade, one process at a time (a web process and workers start together);
    nothing to wait for when the store is at the newest migration already."""
    if at_head(engine):
        return
    with exclusively(engine, MIGRATION_LOCK, 0):
        migrate(engine)


# -- generations ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PassState:
    connection_id: int
    requested: int
    done: int
    passes: int
    running_by: str | None
    running_since: dt.datetime | None
    last_pass_at: dt.datetime | None
    last_error: str | None
    failures: int
    not_before: dt.datetime | None

    @property
    def pending(self) -> bool:
        return self.requested > self.done


def _insert(tx: Tx) -> Any:
    """INSERT into `connection_passes` in the dialect's words (for ON CONFLICT)."""
    dialect = postgresql if tx.connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(passes)


def request_pass(tx: Tx, connection_id: int) -> int:
    """Ask for one more pass of the connection; returns its `requested` generation."""
    statement = _insert(tx).values(connection_id=connection_id, requested=1)
    statement = statement.on_conflict_do_update(
        index_elements=[passes.c.connection_id],
        set_={"requested": passes.c.requested + 1},
    ).returning(passes.c.requested)
    return int(tx.connection.execute(statement).scalar_one())


def request_passes(tx: Tx, connection_ids: list[int]) -> None:
    """`request_pass` for many connections in two statements (the periodic poll)."""
    if not connection_ids:
        return
    statement = _insert(tx).values([{"connection_id": c, "requested": 1} for c in connection_ids])
    tx.connection.execute(
        statement.on_conflict_do_update(
            index_elements=[passes.c.connection_id],
            set_={"requested": passes.c.requested + 1},
        )
    )


def pass_state(tx: Tx, connection_id: int) -> PassState | None:
    row = (
        tx.connection.execute(select(passes).where(passes.c.connection_id == connection_id))
        .mappings()
        .first()
    )
    return PassState(**row) if row else None


def begin_pass(tx: Tx, connection_id: int, worker: str, now: dt.datetime) -> int | None:
    """Mark the pass running (call with the connection's lock held); the generation it
    covers, or None when nothing is pending (`requested == done`)."""
    state = pass_state(tx, connection_id)
    if state is None or not state.pending:
        return None
    tx.connection.execute(
        update(passes)
        .where(passes.c.connection_id == connection_id)
        .values(running_by=worker[:200], running_since=now)
    )
    return state.requested


def finish_pass(
    tx: Tx,
    connection_id: int,
    generation: int | None,
    now: dt.datetime,
    *,
    error: str | None = None,
    backoff: Callable[[int], float] | None = None,
) -> PassState:
    """Record the end of a pass. On success `done` moves up to `generation`; on failure
    (`generation` None) `done` stays, `failures` goes up and `not_before` is set
    `backoff(failures)` seconds from `now` (none when `backoff` is None)."""
    values: dict[str, object] = {"running_by": None, "running_since": None}
    if generation is not None:
        values |= {
            "done": func.greatest(passes.c.done, generation)
            if tx.connection.dialect.name == "postgresql"
            else func.max(passes.c.done, generation),
            "passes": passes.c.passes + 1,
            "last_pass_at": now,
            "last_error": None,
            "failures": 0,
            "not_before": None,
        }
    else:
        state = pass_state(tx, connection_id)
        failures = (state.failures if state else 0) + 1
        values |= {"last_error": (error or "failed")[:2000], "failures": failures}
        if backoff is not None:
            values["not_before"] = now + dt.timedelta(seconds=backoff(failures))
    tx.connection.execute(
        update(passes).where(passes.c.connection_id == connection_id).values(**values)
    )
    state = pass_state(tx, connection_id)
    assert state is not None
    return state
