"""Opening the state store the way every command does (settings → key → store)."""

from __future__ import annotations

from ledgerbridge.settings import Settings
from ledgerbridge.store import Store, TokenCipher, load_or_create_key, make_engine
from ledgerbridge.store.locks import migrate_exclusively


def open_store(settings: Settings) -> Store:
    """The store at `settings.database_url` (migrated), with the token-encryption key."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    key = load_or_create_key(secret, settings.key_file)
    engine = make_engine(settings.database_url)
    migrate_exclusively(engine)  # PostgreSQL: web and worker processes may start together
    return Store(engine, TokenCipher(key))
