"""Prices read from the hardware route, holds on waking (budgets), and the policy behind each action.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 20:28:01.577314
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("vendor", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("accelerator", sa.String(length=32), nullable=False),
        sa.Column("instance_type", sa.String(length=64), nullable=False),
        sa.Column("instance_size", sa.String(length=32), nullable=False),
        sa.Column("price_per_hour", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prices")),
    )
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.create_index("uq_prices_instance", ["vendor", "region", "instance_type", "instance_size"], unique=True)

    op.create_table(
        "holds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("endpoint_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["endpoints.id"], name=op.f("fk_holds_endpoint_id_endpoints"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index("ix_holds_endpoint_released", ["endpoint_id", "released_at"], unique=False)

    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_column("policy")

    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_endpoint_released")

    op.drop_table("holds")
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.drop_index("uq_prices_instance")

    op.drop_table("prices")
