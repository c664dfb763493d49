"""write_journal: the QBO batch each write went out in (crash-safe batch idempotency)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "write_journal",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_write_journal_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "request_id", name=op.f("pk_write_journal")),
    )
    op.create_index(
        op.f("ix_write_journal_connection_id_created_at"),
        "write_journal",
        ["connection_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_write_journal_connection_id_created_at"), table_name="write_journal")
    op.drop_table("write_journal")
