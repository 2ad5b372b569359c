"""The history table as the first release made it.

Databases made before migrations existed (no alembic_version table) already have it, maybe with
the columns later revisions add: so this revision and the next two, which replay what
`metadata.create_all` once did, create only what is missing. Revisions after 0003 are ordinary.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("recognitions"):
        return
    op.create_table(
        "recognitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("predictions", sa.Text, nullable=False),
        sa.Column("top_label", sa.String(128), nullable=True),
        sa.Column("top_probability", sa.Float, nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("client", sa.String(128), nullable=True),
    )
    op.create_index("ix_recognitions_created_at", "recognitions", ["created_at"])
    op.create_index("ix_recognitions_batch_id", "recognitions", ["batch_id"])


def downgrade() -> None:
    op.drop_table("recognitions")
