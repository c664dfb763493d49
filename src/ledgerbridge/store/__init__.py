"""The state store: connections, rules, links, cursors, sync records, activity."""

from ledgerbridge.store.crypto import SecretKeyError, TokenCipher, generate_key, load_or_create_key
from ledgerbridge.store.migrate import migrate
from ledgerbridge.store.repository import Store, StoreTokenStore, Tx, make_engine
from ledgerbridge.store.rows import (
    ActivityRow,
    ConnectionRow,
    ConnectionStatus,
    LinkRow,
    RecordStatus,
    RuleRow,
    SyncRecordRow,
)

__all__ = [
    "ActivityRow",
    "ConnectionRow",
    "ConnectionStatus",
    "LinkRow",
    "RecordStatus",
    "RuleRow",
    "SecretKeyError",
    "Store",
    "StoreTokenStore",
    "SyncRecordRow",
    "TokenCipher",
    "Tx",
    "generate_key",
    "load_or_create_key",
    "make_engine",
    "migrate",
]
