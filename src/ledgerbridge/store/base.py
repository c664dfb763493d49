"""What every table family's queries share: the transaction's connection, cipher and
clock (`TxBase`), and the dialect-neutral upsert and id-chunking helpers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from ledgerbridge.store.crypto import TokenCipher

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    Row = TypeVar("Row", bound=DataclassInstance)
else:
    Row = TypeVar("Row")

Clock = Callable[[], dt.datetime]
ID_CHUNK = 500
"""Ids per `IN (...)` list (well under SQLite's and PostgreSQL's parameter limits)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TxBase:
    """The state of one transaction; the table families' query mixins build on it."""

    def __init__(self, connection: Connection, cipher: TokenCipher, clock: Clock) -> None:
        self.connection = connection
        self._cipher = cipher
        self._clock = clock


def upsert(
    connection: Connection,
    table: Any,
    values: Mapping[str, Any],
    keys: Sequence[str],
    update_columns: Sequence[str],
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE, on SQLite and PostgreSQL."""
    upsert_many(
        connection, table, [values], keys, lambda new: {name: new[name] for name in update_columns}
    )


def id_chunks(ids: Collection[str]) -> Iterator[list[str]]:
    """The distinct `ids`, sorted, in lists of `ID_CHUNK` (one `IN (…)` query each)."""
    values = sorted(set(ids))
    for start in range(0, len(values), ID_CHUNK):
        yield values[start : start + ID_CHUNK]


def upsert_many(
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


def row_as(cls: type[Row], row: RowMapping, **values: Any) -> Row:
    """The dataclass `cls` from the columns of `row` named like its fields; `values` for
    the fields that need converting (enums, copies of JSON columns)."""
    names = [f.name for f in dataclasses.fields(cls)]
    return cls(**{name: values[name] if name in values else row[name] for name in names})
