"""The state store's tables (SQLAlchemy Core). The schema itself is created by the
Alembic migrations in `migrations/`; a test checks both agree."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ledgerbridge.store.types import JsonType, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

connections = Table(
    "connections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("hubspot_portal_id", String(32)),
    Column("qbo_realm_id", String(32)),
    Column("hubspot_base_url", String(500), nullable=False),
    Column("qbo_base_url", String(500), nullable=False),
    # Fernet ciphertexts of the JSON token sets; never plain text.
    Column("hubspot_tokens", Text),
    Column("qbo_tokens", Text),
    Column("status", String(32), nullable=False, server_default="active"),
    Column("status_detail", Text),
    Column("options", JsonType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

sync_rules = Table(
    "sync_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "connection_id", Integer, ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
    ),
    Column("object_pair", String(32), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("config", JsonType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("connection_id", "object_pair"),
)

links = Table(
    "links",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "connection_id", Integer, ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
    ),
    Column("object_type", String(32), nullable=False),
    Column("hubspot_id", String(64), nullable=False),
    Column("qbo_id", String(64), nullable=False),
    Column("hubspot_version", String(64)),
    Column("qbo_version", String(64)),
    Column("hubspot_hash", String(64)),
    Column("qbo_hash", String(64)),
    Column("base", JsonType, nullable=False),
    # The side the pair was first created on; NULL when linked by matching.
    Column("origin", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("connection_id", "object_type", "hubspot_id"),
    UniqueConstraint("connection_id", "object_type", "qbo_id"),
)

cursors = Table(
    "cursors",
    metadata,
    Column(
        "connection_id",
        Integer,
        ForeignKey("connections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("side", String(16), primary_key=True),
    Column("object_type", String(32), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

write_journal = Table(
    "write_journal",
    metadata,
    Column(
        "connection_id",
        Integer,
        ForeignKey("connections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("request_id", String(64), primary_key=True),
    Column("batch_id", String(64), nullable=False),
    Column("slot", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "connection_id", "created_at"),
)
"""Which QBO batch (requestid, bId) each write went out in, written before the batch is
sent, so that after a crash the write is re-sent in the same batch (`qbo.batch`)."""

sync_records = Table(
    "sync_records",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "connection_id", Integer, ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
    ),
    Column("object_type", String(32), nullable=False),
    Column("side", String(16), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("label", String(300)),
    Column("status", String(16), nullable=False),
    Column("error_category", String(64)),
    Column("detail", Text),
    Column("excluded_by", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_attempt_at", UTCDateTime, nullable=False),
    Column("last_synced_at", UTCDateTime),
    # The retry schedule of a failed record (store.retries; migration 0007).
    Column("retries", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime),
    UniqueConstraint("connection_id", "object_type", "side", "record_id"),
    Index(None, "connection_id", "status", "object_type"),
)

activity = Table(
    "activity",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "connection_id", Integer, ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("side", String(16), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("details", JsonType, nullable=False),
    Index(None, "connection_id", "object_type", "side", "record_id"),
    Index(None, "connection_id", "at"),
)

workflow_runs = Table(
    "workflow_runs",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "connection_id", Integer, ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
    ),
    # HubSpot's callbackId: one execution of one action for one enrolled record.
    Column("callback_id", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("qbo_entity", String(32)),
    Column("qbo_id", String(64)),
    Column("doc_number", String(64)),
    Column("qbo_url", String(500)),
    # R-WF-4: the HubSpot record of the QBO document (its synced invoice), once associated
    # with the enrolled deal or quote.
    Column("hubspot_document_id", String(64)),
    Column("error_category", String(64)),
    Column("detail", Text),
    Column("deliveries", Integer, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("connection_id", "callback_id"),
    Index(None, "connection_id", "object_type", "object_id"),
)
"""One row per HubSpot workflow action execution (R-WF): a re-delivered execution (same
callbackId) finds its row and never runs twice."""

rule_changes = Table(
    "rule_changes",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "connection_id", Integer, ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("object_pair", String(32), nullable=False),
    # Where the change came from: cli, file, api, dashboard, demo.
    Column("source", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("before", JsonType),
    Column("after", JsonType),
    Index(None, "connection_id", "at"),
)
"""Every change of a sync rule (R-CON-4…7 history): when, what, from where."""

# -- the dashboard: sign-in, API tokens, people's actions (`store.accounts`) ----------------

admin_account = Table(
    "admin_account",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False),
    # argon2id hash (PHC string); NULL until `ledgerbridge admin set-password`.
    Column("password_hash", Text),
    # Signs session cookies; replaced when the password changes (every session ends).
    Column("session_secret", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""The one administrator of this installation (the dashboard's sign-in)."""

auth_tokens = Table(
    "auth_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    # "api": a script's bearer token; "signin": a one-time sign-in link.
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    # SHA-256 of the token: the token itself is shown once and never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("connection_id", Integer),
    Column("target", String(300)),
    Column("details", JsonType, nullable=False),
    Index(None, "at"),
)
"""What people did: sign-ins (and refused ones), retries, dismissals, rule changes, connects."""

dismissals = Table(
    "dismissals",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "connection_id", Integer, ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
    ),
    Column("object_type", String(32), nullable=False),
    Column("side", String(16), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("error_category", String(64)),
    Column("detail", Text),
    Column("dismissed_at", UTCDateTime, nullable=False),
    Column("dismissed_by", String(200), nullable=False),
    Index(None, "connection_id", "object_type", "side", "record_id"),
)
"""Failures a person dismissed: hidden from the failures page while the record still fails
with the same category, and kept for good as history."""

# The dashboard's record list (newest first) and failures grouped by category.
Index(None, sync_records.c.connection_id, sync_records.c.last_attempt_at)
Index(
    None,
    sync_records.c.connection_id,
    sync_records.c.status,
    sync_records.c.error_category,
    sync_records.c.last_attempt_at,
)

connection_passes = Table(
    "connection_passes",
    metadata,
    Column(
        "connection_id",
        Integer,
        ForeignKey("connections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # The generation counter of the distributed runtime: `requested` goes up on every ask
    # for a pass (webhook, poll); `done` is the `requested` a finished pass started from.
    Column("requested", BigInteger, nullable=False, server_default="0"),
    Column("done", BigInteger, nullable=False, server_default="0"),
    Column("passes", BigInteger, nullable=False, server_default="0"),
    Column("running_by", String(200)),
    Column("running_since", UTCDateTime),
    Column("last_pass_at", UTCDateTime),
    Column("last_error", Text),
    # Failed passes in a row, and no pass before `not_before` (the backoff).
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("not_before", UTCDateTime),
)

rate_budget_buckets = Table(
    "rate_budget_buckets",
    metadata,
    # Requests claimed from one shared rate budget ("qbo:<realm>:minute") in one bucket
    # (a tenth of the budget's window) by every worker together.
    Column("budget", String(200), primary_key=True),
    Column("bucket", BigInteger, primary_key=True, autoincrement=False),
    Column("used", Integer, nullable=False, server_default="0"),
)
