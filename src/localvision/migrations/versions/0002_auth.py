"""Users, API keys, web sessions and the session secret; who made each history row (`user`).

Like 0001, creates only what a database from before migrations lacks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = sa.inspect(op.get_bind())
    if "user" not in {c["name"] for c in have.get_columns("recognitions")}:
        op.add_column("recognitions", sa.Column("user", sa.String(64), nullable=True))
        op.create_index("ix_recognitions_user", "recognitions", ["user"])
    if not have.has_table("users"):
        op.create_table(
            "users",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("username", sa.String(64), nullable=False, unique=True),
            sa.Column("password_hash", sa.String(255), nullable=True),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        )
    if not have.has_table("api_keys"):
        op.create_table(
            "api_keys",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(128), nullable=True),
            sa.Column("username", sa.String(64), nullable=False),
            sa.Column("prefix", sa.String(16), nullable=False),
            sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        )
        op.create_index("ix_api_keys_username", "api_keys", ["username"])
    if not have.has_table("sessions"):
        op.create_table(
            "sessions",
            sa.Column("token_hash", sa.String(64), primary_key=True),
            sa.Column("username", sa.String(64), nullable=False),
            sa.Column("csrf", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        )
        op.create_index("ix_sessions_username", "sessions", ["username"])
        op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    if not have.has_table("auth_secrets"):
        op.create_table(
            "auth_secrets",
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("value", sa.String(255), nullable=False),
        )


def downgrade() -> None:
    for table in ("auth_secrets", "sessions", "api_keys", "users"):
        op.drop_table(table)
    op.drop_index("ix_recognitions_user", "recognitions")
    with op.batch_alter_table("recognitions") as batch:
        batch.drop_column("user")
