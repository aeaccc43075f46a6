"""Slack's own waits (a 429's Retry-After): until when a decision's call is held, and until when a pace budget is.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invite_requests") as batch:
        batch.add_column(sa.Column("slack_wait_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("pace_budgets") as batch:
        batch.add_column(sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pace_budgets") as batch:
        batch.drop_column("held_until")
    with op.batch_alter_table("invite_requests") as batch:
        batch.drop_column("slack_wait_until")
