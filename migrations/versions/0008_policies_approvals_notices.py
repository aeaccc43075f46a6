"""Policy verdicts on requests, the approvals a two-person rule collects, and the reminders and notices sent once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("invite_requests") as batch:
        batch.add_column(sa.Column("policy_rule", sa.String(64), nullable=True))
        batch.add_column(sa.Column("policy_verdict", sa.String(24), nullable=True))
        batch.add_column(sa.Column("policy_mode", sa.String(16), nullable=True))
        batch.add_column(sa.Column("approvals_needed", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("policy_agreed", sa.Boolean(), nullable=True))
    op.create_table(
        "approvals",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("approver_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["invite_requests.id"], name=op.f("fk_approvals_request_id_invite_requests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("request_id", "approver_id", name=op.f("uq_approvals_request_id")),
    )
    op.create_table(
        "request_notices",
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["invite_requests.id"], name=op.f("fk_request_notices_request_id_invite_requests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("request_id", "kind", name=op.f("pk_request_notices")),
    )


def downgrade() -> None:
    op.drop_table("request_notices")
    op.drop_table("approvals")
    with op.batch_alter_table("invite_requests") as batch:
        for column in ("policy_agreed", "approvals_needed", "policy_mode", "policy_verdict", "policy_rule"):
            batch.drop_column(column)
