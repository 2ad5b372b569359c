"""The top label in the language it was answered in (`top_label_local`, when not English).

Like 0001, adds the column only where a database from before migrations lacks it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("recognitions")}
    if "top_label_local" not in columns:
        op.add_column("recognitions", sa.Column("top_label_local", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recognitions") as batch:
        batch.drop_column("top_label_local")
