"""Which workspaces the org-wide app may act in (team_access_granted / _revoked), and why a request's requesters were
not told by DM.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team_access",
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("said_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_access")),
    )
    with op.batch_alter_table("invite_requests") as batch:
        batch.add_column(sa.Column("requesters_untold", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invite_requests") as batch:
        batch.drop_column("requesters_untold")
    op.drop_table("team_access")
