"""distributed runtime: per-connection pass generations and shared rate budgets

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-05

The procrastinate job queue has its own schema, applied by procrastinate's schema
manager (`runtime.distributed.app.ensure_queue_schema`), not by this chain.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connection_passes",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("requested", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("passes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("running_by", sa.String(length=200), nullable=True),
        sa.Column("running_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_pass_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_connection_passes_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_connection_passes")),
    )
    op.create_table(
        "rate_budget_buckets",
        sa.Column("budget", sa.String(length=200), nullable=False),
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("used", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("budget", "bucket", name=op.f("pk_rate_budget_buckets")),
    )


def downgrade() -> None:
    op.drop_table("rate_budget_buckets")
    op.drop_table("connection_passes")
