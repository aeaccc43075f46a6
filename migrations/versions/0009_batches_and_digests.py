"""Bulk decisions (a batch and its items, and which batch an audit entry belongs to) and per-workspace backlog digests.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("progress_ts", sa.String(32), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_table(
        "batch_items",
        sa.Column("batch_id", _ID, nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_batch_items_batch_id_batches"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("batch_id", "request_id", name=op.f("pk_batch_items")),
    )
    with op.batch_alter_table("decision_log") as batch:
        batch.add_column(sa.Column("batch_id", sa.BigInteger(), nullable=True))
        batch.create_index("ix_decision_log_batch_id", ["batch_id"])
    op.create_table(
        "digests",
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_digests")),
    )
    with op.batch_alter_table("invite_requests") as batch:
        batch.add_column(sa.Column("in_digest", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("invite_requests") as batch:
        batch.drop_column("in_digest")
    op.drop_table("digests")
    with op.batch_alter_table("decision_log") as batch:
        batch.drop_index("ix_decision_log_batch_id")
        batch.drop_column("batch_id")
    op.drop_table("batch_items")
    op.drop_table("batches")
