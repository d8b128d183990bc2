"""Residents' reports and their own history (outside the change feed).

Revision ID: 0004_reports
Revises: 0003_desk
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from roadworks.store.tables import UTCDateTime

revision = "0004_reports"
down_revision = "0003_desk"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("closure_id", sa.String(64), index=True),
        sa.Column("project_id", sa.String(64), index=True),
        sa.Column("agency", sa.String(200), index=True),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        sa.Column("point_given", sa.Boolean, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("contact", sa.String(254)),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reply", sa.Text),
        sa.Column("group_id", sa.String(32), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime),
        sa.Column("contact_erased_at", UTCDateTime),
    )
    op.create_index("ix_reports_new_first", "reports", ["created_at", "id"])
    op.create_index("ix_reports_closure_state", "reports", ["closure_id", "state"])
    op.create_table(
        "report_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String(32), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("changes", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    )


def downgrade():
    op.drop_table("report_history")
    op.drop_index("ix_reports_closure_state", "reports")
    op.drop_index("ix_reports_new_first", "reports")
    op.drop_table("reports")
