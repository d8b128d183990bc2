"""SQLAlchemy Core tables; alembic's migrations create them and these describe them."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()
Document = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.types.TypeDecorator):
    """Stores instants in UTC and hands them back time-zone aware on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused by the store")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


counters = sa.Table(
    "counters", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

projects = sa.Table(
    "projects", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("agency", sa.String(200), nullable=False, index=True),
    sa.Column("doc", Document, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("deleted_at", UTCDateTime),
)

closures = sa.Table(
    "closures", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("doc", Document, nullable=False),
    sa.Column("road", sa.String(200), nullable=False),
    sa.Column("min_lon", sa.Float, nullable=False),
    sa.Column("min_lat", sa.Float, nullable=False),
    sa.Column("max_lon", sa.Float, nullable=False),
    sa.Column("max_lat", sa.Float, nullable=False),
    sa.Column("length_m", sa.Float, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("deleted_at", UTCDateTime),
)

history = sa.Table(
    "history", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("resource_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("changes", Document, nullable=False),
    sa.Column("snapshot", Document),
    # A hidden closure version's publication instant, while it is still to come: cleared when the version
    # goes public (and gets its public number) or is replaced first.
    sa.Column("publishes_at", UTCDateTime),
    sa.Index("ix_history_resource", "kind", "resource_id", "version"),
    sa.Index("ix_history_publishes_at", "publishes_at"),
)

# The change feed as the public sees it: every history row (or publication of one) in the order it became
# visible to everyone, numbered without gaps. `seq` names the history row shown; one row can be shown twice
# (a published closure sent back to draft is a public deletion when written, and an update when published).
public_changes = sa.Table(
    "public_changes", metadata,
    sa.Column("pseq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("resource_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),  # when it became public: the write, or the publication
    sa.Column("scheduled", sa.Boolean, nullable=False),  # a publication that came with time, not a write
    sa.Index("ix_public_changes_resource", "kind", "resource_id", "pseq"),
    sa.Index("ix_public_changes_written", "scheduled", "at"),
)

tokens = sa.Table(
    "tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("agency", sa.String(200)),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)

# The bureau desk's sign-ins: a session id (stored hashed, like tokens) standing for one token until it expires.
desk_sessions = sa.Table(
    "desk_sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("token_id", sa.Integer, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)

idempotency = sa.Table(
    "idempotency", metadata,
    sa.Column("token_id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("headers", Document, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)


# ---- Partner push (roadworks.push): the outbox, subscriptions, their delivery log and closures' last statuses.

# The outbox: one row per public change (written in that change's transaction) or status change (written by the
# status scheduler), numbered in commit order (every insert holds the change counter's lock). Fan-out to the
# subscriptions happens in the delivery workers, never in the write.
push_events = sa.Table(
    "push_events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("resource_id", sa.String(64), nullable=False),
    sa.Column("pseq", sa.BigInteger),  # the public change shown (changes), null for a status change
    sa.Column("at", UTCDateTime, nullable=False),  # when it happened (the write, the publication, the boundary)
    sa.Column("created_at", UTCDateTime, nullable=False),  # wall-clock instant of the insert: lag is measured from it
    sa.Column("data", Document),  # a status change's old and new status
)

push_subscriptions = sa.Table(
    "push_subscriptions", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("token_id", sa.Integer, nullable=False, index=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", Document, nullable=False),
    sa.Column("filters", Document, nullable=False),  # {"bbox"?, "project"?, "road"?}
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("old_secret", sa.String(100)),  # still signed with until old_secret_until (rotation overlap)
    sa.Column("old_secret_until", UTCDateTime),
    sa.Column("state", sa.String(16), nullable=False),  # active, paused, failing
    sa.Column("cursor", sa.BigInteger, nullable=False),  # the last event id done with (delivered or not matching)
    sa.Column("attempts", sa.Integer, nullable=False),  # failed attempts at the event after the cursor
    sa.Column("retry_at", UTCDateTime),
    sa.Column("failing_since", UTCDateTime),  # the first failed attempt at the event after the cursor
    sa.Column("last_error", sa.Text),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", UTCDateTime),  # wall clock: a worker that died lets go when it passes
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

push_deliveries = sa.Table(
    "push_deliveries", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("subscription_id", sa.String(40), nullable=False),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("webhook_id", sa.String(80), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # delivered, failed, gave-up
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Float),
    sa.Index("ix_push_deliveries_subscription", "subscription_id", "id"),
)

# Each published closure's status as last announced, and when to look again (its next change or publication).
closure_status = sa.Table(
    "closure_status", metadata,
    sa.Column("closure_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16)),  # null: not public yet
    sa.Column("next_check", UTCDateTime, index=True),
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)

# Residents' reports (api/reports.py). Not part of the change sequence's history or the public change feed;
# the contact is erased 180 days after a report is closed, and the key is kept only as its hash.
reports = sa.Table(
    "reports", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("closure_id", sa.String(64), index=True),
    sa.Column("project_id", sa.String(64), index=True),  # the closure's, or the nearest closure's
    sa.Column("agency", sa.String(200), index=True),  # responsible when no project is (null: administrators)
    sa.Column("lon", sa.Float),
    sa.Column("lat", sa.Float),
    sa.Column("point_given", sa.Boolean, nullable=False),  # the reporter's point, not the closure's middle
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
    sa.Column("closed_at", UTCDateTime),  # when it was resolved or rejected
    sa.Column("contact_erased_at", UTCDateTime),
    sa.Index("ix_reports_new_first", "created_at", "id"),
    sa.Index("ix_reports_closure_state", "closure_id", "state"),
)

report_history = sa.Table(
    "report_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report_id", sa.String(32), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("changes", Document, nullable=False),  # never the contact itself
)
