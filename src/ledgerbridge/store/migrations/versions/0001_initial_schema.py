"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 12:35:41.125757
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_ = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hubspot_portal_id", sa.String(length=32), nullable=True),
        sa.Column("qbo_realm_id", sa.String(length=32), nullable=True),
        sa.Column("hubspot_base_url", sa.String(length=500), nullable=False),
        sa.Column("qbo_base_url", sa.String(length=500), nullable=False),
        sa.Column("hubspot_tokens", sa.Text(), nullable=True),
        sa.Column("qbo_tokens", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), server_default="active", nullable=False),
        sa.Column("status_detail", sa.Text(), nullable=True),
        sa.Column("options", JSON_, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
    )
    op.create_table(
        "activity",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("details", JSON_, nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_activity_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_connection_id_at"), ["connection_id", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activity_connection_id_object_type_side_record_id"),
            ["connection_id", "object_type", "side", "record_id"],
            unique=False,
        )

    op.create_table(
        "cursors",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_cursors_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "side", "object_type", name=op.f("pk_cursors")),
    )
    op.create_table(
        "links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("hubspot_id", sa.String(length=64), nullable=False),
        sa.Column("qbo_id", sa.String(length=64), nullable=False),
        sa.Column("hubspot_version", sa.String(length=64), nullable=True),
        sa.Column("qbo_version", sa.String(length=64), nullable=True),
        sa.Column("hubspot_hash", sa.String(length=64), nullable=True),
        sa.Column("qbo_hash", sa.String(length=64), nullable=True),
        sa.Column("base", JSON_, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_links_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint(
            "connection_id",
            "object_type",
            "hubspot_id",
            name=op.f("uq_links_connection_id_object_type_hubspot_id"),
        ),
        sa.UniqueConstraint(
            "connection_id",
            "object_type",
            "qbo_id",
            name=op.f("uq_links_connection_id_object_type_qbo_id"),
        ),
    )
    op.create_table(
        "sync_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_category", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("excluded_by", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_sync_records_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_records")),
        sa.UniqueConstraint(
            "connection_id",
            "object_type",
            "side",
            "record_id",
            name=op.f("uq_sync_records_connection_id_object_type_side_record_id"),
        ),
    )
    with op.batch_alter_table("sync_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_records_connection_id_status_object_type"),
            ["connection_id", "status", "object_type"],
            unique=False,
        )

    op.create_table(
        "sync_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("object_pair", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config", JSON_, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_sync_rules_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_rules")),
        sa.UniqueConstraint(
            "connection_id", "object_pair", name=op.f("uq_sync_rules_connection_id_object_pair")
        ),
    )


def downgrade() -> None:
    op.drop_table("sync_rules")
    with op.batch_alter_table("sync_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_records_connection_id_status_object_type"))

    op.drop_table("sync_records")
    op.drop_table("links")
    op.drop_table("cursors")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_connection_id_object_type_side_record_id"))
        batch_op.drop_index(batch_op.f("ix_activity_connection_id_at"))

    op.drop_table("activity")
    op.drop_table("connections")
