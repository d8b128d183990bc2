"""Partner push storage: subscriptions, the outbox read by delivery workers, their delivery log, closure statuses."""

from __future__ import annotations

import select
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from .repository import Store, announce
from .tables import closure_status, history, public_changes, push_deliveries, push_events, push_subscriptions, utcnow

KEPT_DELIVERIES = 50  # log rows kept per subscription
_S = push_subscriptions.c


@dataclass(frozen=True)
class Outcome:
    """What one worker round did for one subscription, recorded with the others in one transaction."""

    subscription_id: str
    cursor: int
    attempts: int
    retry_at: datetime | None
    failing_since: datetime | None
    last_error: str | None
    state: str | None  # a new state (failing), or None to keep it
    deliveries: list[dict]


class PushStore:
    """Every query of partner push; writes of the outbox go through the store's write lock (commit order)."""

    def __init__(self, store: Store):
        self.store = store
        self.engine = store.engine

    def _begin(self):
        """A write transaction that takes SQLite's write lock up front (a deferred one could fail as locked)."""
        return _Begun(self.engine)

    # ------------------------------------------------------------------ subscriptions

    def add(self, values: dict[str, Any]) -> dict:
        with self._begin() as conn:
            last = _last_event(conn)  # a new subscription hears what happens from now on
            conn.execute(push_subscriptions.insert().values(cursor=last, attempts=0, version=1, **values))
        return self.get(values["id"])

    def get(self, id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(push_subscriptions).where(_S.id == id)).mappings().first()
        return None if row is None else dict(row)

    def subscriptions(self, token_id: int | None, limit: int) -> list[dict]:
        query = sa.select(push_subscriptions).order_by(_S.created_at, _S.id).limit(limit)
        if token_id is not None:
            query = query.where(_S.token_id == token_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def update(self, id: str, version: int | None, values: dict[str, Any]) -> dict | None:
        """Change a subscription if it is still at `version` (None: any); None when it was not."""
        query = push_subscriptions.update().where(_S.id == id)
        if version is not None:
            query = query.where(_S.version == version)
        with self._begin() as conn:
            done = conn.execute(query.values(version=_S.version + 1, **values)).rowcount
        return self.get(id) if done else None

    def remove(self, id: str, version: int | None) -> bool:
        query = push_subscriptions.delete().where(_S.id == id)
        if version is not None:
            query = query.where(_S.version == version)
        with self._begin() as conn:
            done = conn.execute(query).rowcount
            if done:
                conn.execute(push_deliveries.delete().where(push_deliveries.c.subscription_id == id))
        return bool(done)

    def deliveries(self, id: str, limit: int, failed_only: bool = False) -> list[dict]:
        d = push_deliveries.c
        query = sa.select(push_deliveries).where(d.subscription_id == id).order_by(d.id.desc()).limit(limit)
        if failed_only:
            query = query.where(d.outcome != "delivered")
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def last_event(self) -> int:
        with self.engine.connect() as conn:
            return _last_event(conn)

    def failing_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(push_subscriptions)
                                .where(_S.state == "failing")).scalar_one()

    # ------------------------------------------------------------------ delivery workers

    def claim(self, owner: str, lease_until: datetime, now: datetime, limit: int,
              exclude: Iterable[str] = ()) -> list[dict]:
        """Lease the active subscriptions that have events to send and no retry pending, none another holds."""
        wall = utcnow()
        pending = sa.and_(_S.state == "active", _S.cursor < sa.select(sa.func.coalesce(sa.func.max(push_events.c.id), 0))
                          .scalar_subquery(),
                          sa.or_(_S.retry_at.is_(None), _S.retry_at <= now),
                          sa.or_(_S.lease_until.is_(None), _S.lease_until < wall))
        skip = list(exclude)
        if skip:
            pending = sa.and_(pending, _S.id.not_in(skip))
        with self.engine.connect() as conn:  # a read first: an idle poll takes no write lock
            if conn.execute(sa.select(_S.id).where(pending).limit(1)).first() is None:
                return []
        query = sa.select(_S.id).where(pending).order_by(_S.id).limit(limit)
        with self._begin() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)  # workers on other hosts take the others
            ids = [r.id for r in conn.execute(query)]
            if not ids:
                return []
            conn.execute(push_subscriptions.update().where(_S.id.in_(ids))
                         .values(lease_owner=owner, lease_until=lease_until))
            return [dict(r) for r in conn.execute(sa.select(push_subscriptions).where(_S.id.in_(ids))).mappings()]

    def events_after(self, cursor: int, limit: int) -> list[dict]:
        e = push_events.c
        query = sa.select(push_events).where(e.id > cursor).order_by(e.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def public_rows(self, pseqs: list[int]) -> list[dict]:
        """These public changes as GET /changes reads them (store.public_changes_since's row shape)."""
        if not pseqs:
            return []
        shown = public_changes
        query = (sa.select(history, shown.c.pseq, shown.c.action.label("shown_action"), shown.c.at.label("shown_at"))
                 .join(shown, shown.c.seq == history.c.seq).where(shown.c.pseq.in_(pseqs)).order_by(shown.c.pseq))
        with self.engine.connect() as conn:
            return [dict(r, action=r["shown_action"], at=r["shown_at"], written_at=r["at"], written_action=r["action"])
                    for r in conn.execute(query).mappings()]

    def record(self, owner: str, outcomes: list[Outcome]) -> None:
        """Every outcome of a round, and the leases given back, in one transaction."""
        if not outcomes:
            return
        rows = [d for o in outcomes for d in o.deliveries]
        mine = sa.and_(_S.id == sa.bindparam("sid"), _S.lease_owner == owner)
        moved = [dict(sid=o.subscription_id, cursor=o.cursor, attempts=o.attempts, retry_at=o.retry_at,
                      failing_since=o.failing_since, last_error=o.last_error) for o in outcomes]
        failing = [dict(sid=o.subscription_id, new_state=o.state) for o in outcomes if o.state is not None]
        with self._begin() as conn:
            conn.execute(push_subscriptions.update().where(mine).values(
                cursor=sa.bindparam("cursor"), attempts=sa.bindparam("attempts"), retry_at=sa.bindparam("retry_at"),
                failing_since=sa.bindparam("failing_since"), last_error=sa.bindparam("last_error"),
                lease_owner=None, lease_until=None), moved)
            if failing:  # a subscription paused meanwhile stays paused
                conn.execute(push_subscriptions.update().where(_S.id == sa.bindparam("sid"), _S.state == "active")
                             .values(state=sa.bindparam("new_state")), failing)
            if rows:
                conn.execute(push_deliveries.insert(), rows)

    def release(self, owner: str) -> None:
        """Give back every lease of `owner` (a worker stopping)."""
        with self._begin() as conn:
            conn.execute(push_subscriptions.update().where(_S.lease_owner == owner)
                         .values(lease_owner=None, lease_until=None))

    def prune(self, events_before: datetime) -> None:
        """Drop events older than `events_before` that every subscription is past, and old log rows."""
        e, d = push_events.c, push_deliveries.c
        with self._begin() as conn:
            low = conn.execute(sa.select(sa.func.min(_S.cursor))).scalar()
            query = push_events.delete().where(e.created_at < events_before)
            if low is not None:
                query = query.where(e.id <= low)
            conn.execute(query)
            for (sub,) in conn.execute(sa.select(d.subscription_id).group_by(d.subscription_id)
                                       .having(sa.func.count() > KEPT_DELIVERIES)).all():
                keep = sa.select(d.id).where(d.subscription_id == sub).order_by(d.id.desc()).limit(KEPT_DELIVERIES)
                floor = conn.execute(sa.select(sa.func.min(keep.subquery().c.id))).scalar()
                conn.execute(push_deliveries.delete().where(d.subscription_id == sub, d.id < floor))

    # ------------------------------------------------------------------ closure statuses

    def statuses(self, ids: Iterable[str] | None = None) -> dict[str, tuple[str | None, datetime | None]]:
        c = closure_status.c
        query = sa.select(closure_status)
        if ids is not None:
            query = query.where(c.closure_id.in_(list(ids)))
        with self.engine.connect() as conn:
            return {r.closure_id: (r.status, r.next_check) for r in conn.execute(query)}

    def due_statuses(self, now: datetime, limit: int) -> dict[str, tuple[str | None, datetime | None]]:
        c = closure_status.c
        query = sa.select(closure_status).where(c.next_check <= now).order_by(c.next_check).limit(limit)
        with self.engine.connect() as conn:
            return {r.closure_id: (r.status, r.next_check) for r in conn.execute(query)}

    def next_status_check(self) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.min(closure_status.c.next_check))).scalar()

    def apply_statuses(self, seen: dict[str, tuple], rows: dict[str, tuple | None],
                       events: dict[str, list[dict]]) -> int:
        """Store new status rows (None: drop) and their status-change events, if each row is still as `seen`.

        Under the change counter's lock, so two schedulers never both announce one change. Returns the number
        of events written.
        """
        c = closure_status.c
        written = 0
        with self.store._transaction() as conn:
            current = {r.closure_id: (r.status, r.next_check) for r in conn.execute(
                sa.select(closure_status).where(c.closure_id.in_(list(rows))))}
            for id, row in rows.items():
                if current.get(id) != seen.get(id):
                    continue  # another scheduler moved it first
                if id in current:
                    conn.execute(closure_status.delete().where(c.closure_id == id))
                if row is not None:
                    conn.execute(closure_status.insert().values(closure_id=id, status=row[0], next_check=row[1]))
                for event in events.get(id, ()):
                    announce(conn, "closure.status_changed", "closure", id, event["at"], data=event["data"])
                    written += 1
        if written:
            self.store.wake_workers()
        return written


class _Begun:
    def __init__(self, engine: sa.Engine):
        self.connection = engine.connect().execution_options(writing=True)

    def __enter__(self) -> sa.Connection:
        self.transaction = self.connection.begin()
        return self.connection

    def __exit__(self, kind, error, trace) -> None:
        try:
            if kind is None:
                self.transaction.commit()
            else:
                self.transaction.rollback()
        finally:
            self.connection.close()


def _last_event(conn) -> int:
    return conn.execute(sa.select(sa.func.coalesce(sa.func.max(push_events.c.id), 0))).scalar_one()


def notifier(engine: sa.Engine):
    """A wake for workers in other processes: NOTIFY roadworks_push, sent by a thread of its own.

    The writer only sets an event, after its answer is made; so neither the round trip nor the listening
    workers (this process's among them) compete with the write. One thread per engine, however many stores.
    """
    if engine in _notifiers:
        return _notifiers[engine]
    pending = threading.Event()

    def notify_forever() -> None:
        while True:
            pending.wait()
            pending.clear()
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql("NOTIFY roadworks_push")
                    conn.commit()
            except Exception:  # the database is away: the workers' poll finds the events
                time.sleep(1.0)

    threading.Thread(target=notify_forever, name="push-notify", daemon=True).start()
    _notifiers[engine] = pending.set
    return pending.set


_notifiers: "weakref.WeakKeyDictionary[sa.Engine, object]" = weakref.WeakKeyDictionary()


class Listener:
    """PostgreSQL LISTEN roadworks_push: `wait` returns when a write announced push events, or at the timeout."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.connection = None

    def wait(self, timeout: float) -> bool:
        try:
            if self.connection is None:
                held = self.engine.raw_connection()
                held.detach()  # its own connection, never handed back to the pool while it listens
                self.connection = held.dbapi_connection
                self.connection.autocommit = True
                self.connection.execute("LISTEN roadworks_push")
            ready, _, _ = select.select([self.connection.fileno()], [], [], timeout)
            if not ready:
                return False
            list(self.connection.notifies(timeout=0, stop_after=1000))  # drained: one wake for them all
            return True
        except Exception:  # the database went away: the next call listens again, meanwhile polling
            self.close()
            return False

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:
                pass
        self.connection = None
