"""requests.served_by: which fallback answered a request (NULL: the endpoint itself), for issue 14's chains.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("served_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("served_by")
