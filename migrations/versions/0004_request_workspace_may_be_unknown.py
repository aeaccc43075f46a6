"""A request's workspace may be unknown for a while: an org-wide event can name only the org (E…).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invite_requests") as batch:
        batch.alter_column("team_id", existing_type=sa.String(32), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE invite_requests SET team_id = '' WHERE team_id IS NULL")  # keep the rows; '' reads as unknown
    with op.batch_alter_table("invite_requests") as batch:
        batch.alter_column("team_id", existing_type=sa.String(32), nullable=False)
