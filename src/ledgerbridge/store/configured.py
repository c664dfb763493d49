"""Opening the state store the way every command does (settings → key → store)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ledgerbridge.errors import StoreError
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store, TokenCipher, load_or_create_key, make_engine
from ledgerbridge.store.locks import migrate_exclusively

SUPPORTED_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


def open_store(settings: Settings, *, existing: bool = False) -> Store:
    """The store at `settings.database_url` (migrated), with the token-encryption key.

    `existing`: a command that only works on state already there (reconcile, a backfill,
    …) is refused when the SQLite file does not exist, instead of creating an empty
    database and a key file wherever it was run.

    `StoreError` when the URL names a database ledgerbridge does not support, the
    database cannot be reached, or (`existing`) the SQLite file is not there;
    `SecretKeyError` when the key is malformed."""
    url = settings.database_url
    shown = _shown(url)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in SUPPORTED_SCHEMES:
        raise StoreError(
            f"database URL {shown} is not supported: ledgerbridge keeps its state in "
            "SQLite or PostgreSQL (sqlite:///… or postgresql://…)"
        )
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    # A given key is checked first (a malformed one is reported as such); the key file
    # is only read or made once the state is known to be there (or may be created).
    cipher = TokenCipher(load_or_create_key(secret, settings.key_file)) if secret else None
    missing = _missing_sqlite_file(url) if existing else None
    if missing is not None:
        raise StoreError(
            f"there is no ledgerbridge state at {missing} (database URL {shown}); "
            "nothing was created",
            fix="run the command in the folder where `ledgerbridge run` or `ledgerbridge "
            "connect` keeps its ledgerbridge.db, or point LEDGERBRIDGE_DATABASE_URL (or "
            "database_url in ledgerbridge.toml) at it; for a running `ledgerbridge demo`, "
            "add the --config it printed (`ledgerbridge demo` makes state to try)",
        )
    if cipher is None:
        cipher = TokenCipher(load_or_create_key(None, settings.key_file))
    try:
        engine = make_engine(url)
        try:
            migrate_exclusively(engine)  # PostgreSQL: web and worker processes start together
        except BaseException:
            engine.dispose()
            raise
        return Store(engine, cipher)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise StoreError(
            f"cannot open the database {shown}: {reason}",
            fix="start the database server (or correct the host, port, user and password "
            "in LEDGERBRIDGE_DATABASE_URL / database_url), then try again",
        ) from exc
    except ArgumentError as exc:
        raise StoreError(f"database URL {shown} is malformed: {exc}") from exc


def _missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file `url` names, when it does not exist (None for PostgreSQL, an
    in-memory database, or a file that is there)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # reported as malformed when opened
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path.absolute()  # where it was looked for


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url.split("://", 1)[0] + "://…") if "://" in url else repr(url)
