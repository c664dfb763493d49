"""workflow_runs: one row per HubSpot workflow action execution (callbackId)

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("qbo_entity", sa.String(length=32), nullable=True),
        sa.Column("qbo_id", sa.String(length=64), nullable=True),
        sa.Column("doc_number", sa.String(length=64), nullable=True),
        sa.Column("qbo_url", sa.String(length=500), nullable=True),
        sa.Column("hubspot_document_id", sa.String(length=64), nullable=True),
        sa.Column("error_category", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("deliveries", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_workflow_runs_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_runs")),
        sa.UniqueConstraint(
            "connection_id", "callback_id", name=op.f("uq_workflow_runs_connection_id_callback_id")
        ),
    )
    op.create_index(
        op.f("ix_workflow_runs_connection_id_object_type_object_id"),
        "workflow_runs",
        ["connection_id", "object_type", "object_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_workflow_runs_connection_id_object_type_object_id"), table_name="workflow_runs"
    )
    op.drop_table("workflow_runs")
