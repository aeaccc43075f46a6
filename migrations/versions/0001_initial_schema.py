"""Invite requests, the cards posted for them, the decision log and leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "invite_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("team_name", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("real_name", sa.String(255), nullable=True),
        sa.Column("requester_ids", sa.JSON(), nullable=False),
        sa.Column("channel_ids", sa.JSON(), nullable=False),
        sa.Column("invite_type", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("date_created", UTC, nullable=False),
        sa.Column("date_expire", UTC, nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("decided_by", sa.String(32), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("decision_source", sa.String(16), nullable=True),
        sa.Column("deny_reason", sa.Text(), nullable=True),
        sa.Column("claim_owner", sa.String(64), nullable=True),
        sa.Column("claim_action", sa.String(16), nullable=True),
        sa.Column("claim_actor", sa.String(32), nullable=True),
        sa.Column("claim_source", sa.String(16), nullable=True),
        sa.Column("claimed_at", UTC, nullable=True),
        sa.Column("first_seen", UTC, nullable=False),
        sa.Column("last_seen", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invite_requests")),
    )
    op.create_index(op.f("ix_invite_requests_status"), "invite_requests", ["status"])
    op.create_index(op.f("ix_invite_requests_team_id"), "invite_requests", ["team_id"])

    op.create_table(
        "request_cards",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("reserved_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["invite_requests.id"],
            name=op.f("fk_request_cards_request_id_invite_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_cards")),
        sa.UniqueConstraint("request_id", "channel", name=op.f("uq_request_cards_request_id")),
    )

    op.create_table(
        "decision_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.String(32), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_log")),
    )
    op.create_index("ix_decision_log_request_id_at", "decision_log", ["request_id", "at"])

    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_decision_log_request_id_at", table_name="decision_log")
    op.drop_table("decision_log")
    op.drop_table("request_cards")
    op.drop_index(op.f("ix_invite_requests_team_id"), table_name="invite_requests")
    op.drop_index(op.f("ix_invite_requests_status"), table_name="invite_requests")
    op.drop_table("invite_requests")
