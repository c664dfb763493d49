"""The procrastinate `App` of the distributed runtime, on a psycopg connector.

The web process only defers jobs with it (`Deferrer`); `ledgerbridge worker` processes
run them (`runtime.distributed.worker`). Both build the same app with `create_app(settings)`
so that the task names and the periodic schedules agree.

The queue's own tables are procrastinate's schema, applied by procrastinate's schema
manager (`ensure_queue_schema`) the first time a process of the distributed runtime starts
— not by our Alembic chain: procrastinate ships its schema and its version-to-version
migrations itself, and copying them into our chain would fork them. Upgrading
procrastinate means applying its migrations (`procrastinate schema --migrations-path`).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector
from procrastinate.schema import SchemaManager

from ledgerbridge.settings import Settings

__all__ = ["conninfo", "create_app", "ensure_queue_schema"]

log = logging.getLogger(__name__)

QUEUE_SCHEMA_LOCK = 0x4C42_0004
"""Advisory-lock key that serialises applying the queue schema (processes start together)."""


def conninfo(database_url: str) -> str:
    """A libpq URL from our SQLAlchemy one (`postgresql+psycopg://` → `postgresql://`)."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or not scheme.startswith("postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://…")
    return f"postgresql://{rest}"


def create_app(settings: Settings, **pool: Any) -> App:
    """The app with every task and periodic schedule registered (open it before use)."""
    from ledgerbridge.runtime.distributed.tasks import register_tasks

    connector = PsycopgConnector(conninfo=conninfo(settings.database_url), **pool)
    app = App(connector=connector, periodic_defaults={"max_delay": 600})
    register_tasks(app, settings)
    return app


async def ensure_queue_schema(settings: Settings) -> bool:
    """Apply procrastinate's schema (its schema manager's SQL) when the database has none
    yet, one process at a time; True when this call applied it."""
    url = conninfo(settings.database_url)
    async with await psycopg.AsyncConnection.connect(url) as db, db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock(%s)", (QUEUE_SCHEMA_LOCK,))
        cursor = await db.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        row = await cursor.fetchone()
        if row is not None and row[0]:
            return False
        log.info("applying procrastinate's queue schema")
        await db.execute(SchemaManager.get_schema())
        return True
