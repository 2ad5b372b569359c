"""Saved judgement rules (`rules`: PUT /api/v1/rules/{name}, used as ?rule=NAME).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-20
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rules",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("rules")
