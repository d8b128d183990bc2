"""The public change feed: `public_changes` numbers what anyone may see, without gaps.

`history.publishes_at` notes each hidden draft version's publication while it is still to come.

Existing history is replayed in sequence order through the same rules every write follows (store.repository
.Publicity), so a database migrated from 0001 numbers its past exactly as one written under 0002 would.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from roadworks.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("history") as batch:
        batch.add_column(sa.Column("publishes_at", UTCDateTime))
        batch.create_index("ix_history_publishes_at", ["publishes_at"])
    op.create_table(
        "public_changes",
        sa.Column("pseq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("scheduled", sa.Boolean, nullable=False),
    )
    op.create_index("ix_public_changes_resource", "public_changes", ["kind", "resource_id", "pseq"])
    op.create_index("ix_public_changes_written", "public_changes", ["scheduled", "at"])
    _replay(op.get_bind())


def _replay(conn) -> None:
    """Number the existing history as its writes would have: publications due at each write come first."""
    from roadworks.store.repository import Publicity
    from roadworks.store.tables import history

    publicity = Publicity(conn)
    query = sa.select(history.c.seq, history.c.kind, history.c.resource_id, history.c.action, history.c.at,
                      history.c.snapshot).order_by(history.c.seq)
    for row in conn.execute(query).all():
        publicity.publish_due(row.at)
        publicity.record(row.seq, row.kind, row.resource_id, row.action, row.at, row.snapshot)
    # Publications due by now are numbered by the first writer or feed reader, at their own instants.


def downgrade():
    op.drop_table("public_changes")
    with op.batch_alter_table("history") as batch:
        batch.drop_index("ix_history_publishes_at")
        batch.drop_column("publishes_at")
