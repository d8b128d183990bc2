"""The bureau desk's sign-in sessions.

Revision ID: 0003_desk
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

from roadworks.store.tables import UTCDateTime

revision = "0003_desk"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "desk_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("token_id", sa.Integer, nullable=False, index=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    )


def downgrade():
    op.drop_table("desk_sessions")
