"""The text read in each photo (`text`: the lines joined by newlines, searched; `text_lines`:
the lines with confidence and box as JSON), NULL where text was not asked for.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns with no default: on both backends the rows already there are not
    # rewritten (SQLite and PostgreSQL add such a column in the catalogue only).
    op.add_column("recognitions", sa.Column("text", sa.Text, nullable=True))
    op.add_column("recognitions", sa.Column("text_lines", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recognitions") as batch:
        batch.drop_column("text_lines")
        batch.drop_column("text")
