"""Intent before act and a fenced lease: who acted and when a started action completed; the lease's epoch.

Existing rows keep their data: old actions are complete (no ``completed_at``), old leases start at epoch 0.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("detail", sa.Text(), nullable=True))
        batch_op.create_index("ix_actions_outcome", ["outcome"], unique=False)
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_column("epoch")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_outcome")
        batch_op.drop_column("detail")
        batch_op.drop_column("completed_at")
        batch_op.drop_column("holder")
