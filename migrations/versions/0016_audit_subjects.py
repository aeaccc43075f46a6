"""decision_log names whom a direct invitation was for, and a decision made in Slack's admin pages has source `outside`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The outcome sync records when it finds a request decided in Slack's admin pages (app.core.sync).
_CLOSED_ELSEWHERE = "closed_elsewhere"


def upgrade() -> None:
    with op.batch_alter_table("decision_log") as batch:
        batch.add_column(sa.Column("team_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("invite_type", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        sa.text("UPDATE decision_log SET source = 'outside' WHERE source = 'sync' AND outcome = :outcome").bindparams(
            outcome=_CLOSED_ELSEWHERE
        )
    )


def downgrade() -> None:
    op.execute(
        sa.text("UPDATE decision_log SET source = 'sync' WHERE source = 'outside' AND outcome = :outcome").bindparams(
            outcome=_CLOSED_ELSEWHERE
        )
    )
    with op.batch_alter_table("decision_log") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("invite_type")
        batch.drop_column("email")
        batch.drop_column("team_id")
