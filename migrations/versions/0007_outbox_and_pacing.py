"""The outbox (durable Slack work) and the pace budgets replicas share; when a queued decision's call may go out.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_jobs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lane", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("key", sa.String(64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(128), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_jobs")),
    )
    op.create_index("ix_outbox_jobs_state_not_before", "outbox_jobs", ["state", "not_before"])
    op.create_index(op.f("ix_outbox_jobs_request_id"), "outbox_jobs", ["request_id"])
    op.create_index(op.f("ix_outbox_jobs_key"), "outbox_jobs", ["key"])
    op.create_table(
        "pace_budgets",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pace_budgets")),
    )
    with op.batch_alter_table("invite_requests") as batch:
        batch.add_column(sa.Column("call_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invite_requests") as batch:
        batch.drop_column("call_at")
    op.drop_table("pace_budgets")
    op.drop_index(op.f("ix_outbox_jobs_key"), table_name="outbox_jobs")
    op.drop_index(op.f("ix_outbox_jobs_request_id"), table_name="outbox_jobs")
    op.drop_index("ix_outbox_jobs_state_not_before", table_name="outbox_jobs")
    op.drop_table("outbox_jobs")
