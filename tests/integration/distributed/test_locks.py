"""The pass locks on a real PostgreSQL server: one holder across sessions (workers), not
re-entrant within one, and free the moment the holder's session ends (a dead worker)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ledgerbridge.store import make_engine
from ledgerbridge.store.locks import AdvisoryLocks

pytestmark = pytest.mark.postgres


def test_a_pass_lock_has_one_holder_and_dies_with_its_session(postgres_url: str) -> None:
    engines = [make_engine(postgres_url) for _ in range(3)]  # three worker processes' pools
    first, second, third = (AdvisoryLocks(engine) for engine in engines)
    try:
        assert first.try_acquire(7) is True
        assert second.try_acquire(7) is False  # another worker holds it
        assert first.try_acquire(7) is False  # and a second job of the same worker too
        assert second.try_acquire(8) is True  # other connections are free
        with engines[0].connect() as db:  # PostgreSQL sees one lock per held connection
            held = db.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"))
            assert held.scalar_one() == 2
        first.close()  # a worker that stops frees its locks
        assert second.try_acquire(7) is True
        assert second.release(7) is True and second.release(8) is True
        assert second.release(9) is False  # never held

        assert third.try_acquire(9) is True
        with engines[0].connect() as db:  # the holder's session dies (its worker is killed)
            pid = db.execute(
                text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 9")
            ).scalar_one()
            ended = db.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
            assert ended.scalar_one() is True
        assert second.try_acquire(9) is True  # free at once, nothing to expire or repair
    finally:
        for locks in (first, second, third):
            locks.close()
        for engine in engines:
            engine.dispose()
