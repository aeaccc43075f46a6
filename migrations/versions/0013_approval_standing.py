"""An approval remembers where its approver acted (to check them again in the same terms) and why it stopped counting.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("actor_team", sa.String(32), nullable=True))
        batch.add_column(sa.Column("lapsed", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("lapsed")
        batch.drop_column("actor_team")
