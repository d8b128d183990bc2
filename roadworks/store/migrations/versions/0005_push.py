"""Partner push: the outbox `push_events`, `push_subscriptions`, their `push_deliveries` log and `closure_status`.

Revision ID: 0005_push
Revises: 0004_reports
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from roadworks.store.tables import UTCDateTime

revision = "0005_push"
down_revision = "0004_reports"
branch_labels = None
depends_on = None

Document = sa.JSON().with_variant(JSONB(), "postgresql")
Serial = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite numbers only INTEGER primary keys


def upgrade():
    op.create_table(
        "push_events",
        sa.Column("id", Serial, primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("pseq", sa.BigInteger),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("data", Document),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("token_id", sa.Integer, nullable=False, index=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", Document, nullable=False),
        sa.Column("filters", Document, nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("old_secret", sa.String(100)),
        sa.Column("old_secret_until", UTCDateTime),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("retry_at", UTCDateTime),
        sa.Column("failing_since", UTCDateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "push_deliveries",
        sa.Column("id", Serial, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("webhook_id", sa.String(80), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Float),
    )
    op.create_index("ix_push_deliveries_subscription", "push_deliveries", ["subscription_id", "id"])
    op.create_table(
        "closure_status",
        sa.Column("closure_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16)),
        sa.Column("next_check", UTCDateTime, index=True),
    )


def downgrade():
    for name in ("closure_status", "push_deliveries", "push_subscriptions", "push_events"):
        op.drop_table(name)
