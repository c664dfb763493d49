"""Opening the state store the way every command does (settings → key → store)."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ledgerbridge.errors import StoreError
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store, TokenCipher, load_or_create_key, make_engine
from ledgerbridge.store.locks import migrate_exclusively

SUPPORTED_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


def open_store(settings: Settings) -> Store:
    """The store at `settings.database_url` (migrated), with the token-encryption key.

    `StoreError` when the URL names a database ledgerbridge does not support or the
    database cannot be reached; `SecretKeyError` when the key is malformed."""
    url = settings.database_url
    shown = _shown(url)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in SUPPORTED_SCHEMES:
        raise StoreError(
            f"database URL {shown} is not supported: ledgerbridge keeps its state in "
            "SQLite or PostgreSQL (sqlite:///… or postgresql://…)"
        )
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    key = load_or_create_key(secret, settings.key_file)
    cipher = TokenCipher(key)
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


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url.split("://", 1)[0] + "://…") if "://" in url else repr(url)
