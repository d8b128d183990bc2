"""Storage of residents' reports: rows, their own history, the bureau's queue, counts, contact erasure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

import sqlalchemy as sa

from .repository import Store
from .tables import counters, projects, report_history, reports


@dataclass(frozen=True)
class Scope:
    """Whose reports a reader may see: an agency's (its projects' and the ones routed to it), or all (None)."""

    agency: str | None


@dataclass(frozen=True)
class QueueFilter:
    states: tuple[str, ...] = ()
    closure: str | None = None
    project: str | None = None
    group: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    after: tuple[datetime, str] | None = None  # (created_at, id) of the last report of the previous page
    grouped: bool = False  # one row per group: its newest report


class ReportStore:
    """Reports in the app's database. Writes take the change counter's lock like every write, and move the
    counter when a public closure's report counts change, so every worker's kept answers are rebuilt."""

    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------------ reads

    def get(self, id: str) -> dict | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(reports).where(reports.c.id == id)).mappings().first()
        return None if row is None else dict(row)

    def history(self, id: str) -> list[dict]:
        query = (sa.select(report_history).where(report_history.c.report_id == id)
                 .order_by(report_history.c.id))
        with self.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def queue(self, scope: Scope, wanted: QueueFilter, limit: int) -> list[dict]:
        """Reports in `scope` matching `wanted`, newest first, `limit` of them after the cursor."""
        conditions = _matching(scope, wanted)
        if wanted.after is not None:
            at, id = wanted.after
            conditions.append(sa.or_(reports.c.created_at < at,
                                     sa.and_(reports.c.created_at == at, reports.c.id < id)))
        query = (sa.select(reports).where(*conditions)
                 .order_by(reports.c.created_at.desc(), reports.c.id.desc()).limit(limit))
        with self.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def count(self, scope: Scope, wanted: QueueFilter) -> int:
        """How many reports (or groups, when grouped) match, the cursor aside."""
        query = sa.select(sa.func.count()).select_from(reports).where(*_matching(scope, wanted))
        with self.store.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def group_sizes(self, groups: Iterable[str]) -> dict[str, tuple[int, int]]:
        """(all reports, open ones) of each group."""
        wanted = sorted(set(groups))
        if not wanted:
            return {}
        open_ = sa.func.sum(sa.case((reports.c.state.in_(("new", "acknowledged")), 1), else_=0))
        query = (sa.select(reports.c.group_id, sa.func.count(), open_).where(reports.c.group_id.in_(wanted))
                 .group_by(reports.c.group_id))
        with self.store.engine.connect() as conn:
            return {g: (n, int(o or 0)) for g, n, o in conn.execute(query)}

    def counts(self) -> tuple[dict[str, dict[str, int]], dict[str, datetime]]:
        """Reports on each closure by state, and each closure's last report change (closures without reports
        left out)."""
        c = reports.c
        query = (sa.select(c.closure_id, c.state, sa.func.count(), sa.func.max(c.updated_at))
                 .where(c.closure_id.is_not(None)).group_by(c.closure_id, c.state))
        found: dict[str, dict[str, int]] = {}
        latest: dict[str, datetime] = {}
        with self.store.engine.connect() as conn:
            for closure, state, n, last in conn.execute(query):
                found.setdefault(closure, {})[state] = n
                last = _aware(last)
                if closure not in latest or last > latest[closure]:
                    latest[closure] = last
        return found, latest

    def recent_group(self, closure: str, since: datetime) -> str | None:
        """The group of the latest open report on `closure` made at or after `since`."""
        query = (sa.select(reports.c.group_id).where(
            reports.c.closure_id == closure, reports.c.created_at >= since,
            reports.c.state.in_(("new", "acknowledged")))
            .order_by(reports.c.created_at.desc(), reports.c.id.desc()).limit(1))
        with self.store.engine.connect() as conn:
            return conn.execute(query).scalar()

    # ------------------------------------------------------------------ writes

    def add(self, row: dict[str, Any], actor: str, changes: dict) -> None:
        with self.store.writing() as writer:
            if row.get("closure_id"):
                _move_counter(writer.conn)
            writer.conn.execute(reports.insert().values(**row))
            _history(writer.conn, row["id"], row["version"], row["created_at"], actor, "created", changes)

    def update(self, id: str, version: int | None, values: dict[str, Any], *, actor: str, action: str,
               changes: dict, now: datetime) -> dict | None:
        """Apply `values` as the next version if the stored one is `version` (any when None).

        Returns the new row; None when the report is gone; raises LookupError(current version) when stale.
        """
        with self.store.writing() as writer:
            conn = writer.conn
            current = conn.execute(sa.select(reports).where(reports.c.id == id)).mappings().first()
            if current is None:
                return None
            if version is not None and current["version"] != version:
                raise LookupError(current["version"])
            if current["closure_id"] and values.get("state", current["state"]) != current["state"]:
                _move_counter(conn)
            next_version = current["version"] + 1
            conn.execute(reports.update().where(reports.c.id == id).values(
                version=next_version, updated_at=now, **values))
            _history(conn, id, next_version, now, actor, action, changes)
            return dict(current, version=next_version, updated_at=now, **values)

    def erase_contacts(self, closed_before: datetime, now: datetime, actor: str) -> list[str]:
        """Erase the contact of every report closed before `closed_before`; the ids erased."""
        with self.store.writing() as writer:
            conn = writer.conn
            due = conn.execute(sa.select(reports.c.id, reports.c.version).where(
                reports.c.contact.is_not(None), reports.c.closed_at.is_not(None),
                reports.c.closed_at <= closed_before).order_by(reports.c.id)).all()
            for id, version in due:
                conn.execute(reports.update().where(reports.c.id == id).values(
                    contact=None, contact_erased_at=now, version=version + 1, updated_at=now))
                _history(conn, id, version + 1, now, actor, "contact-erased", {"contact": "erased"})
            return [id for id, _ in due]


def _matching(scope: Scope, wanted: QueueFilter) -> list:
    conditions = _conditions(reports, scope, wanted)
    if wanted.grouped:  # the group's newest matching report stands for it
        later = reports.alias("later")
        newer = sa.or_(later.c.created_at > reports.c.created_at,
                       sa.and_(later.c.created_at == reports.c.created_at, later.c.id > reports.c.id))
        conditions.append(~sa.exists().where(later.c.group_id == reports.c.group_id, newer,
                                             *_conditions(later, scope, wanted)))
    return conditions


def _conditions(table, scope: Scope, wanted: QueueFilter) -> list:
    c = table.c
    conditions = []
    if scope.agency is not None:
        owned = sa.select(projects.c.id).where(projects.c.agency == scope.agency)
        conditions.append(sa.or_(c.project_id.in_(owned),
                                 sa.and_(c.project_id.is_(None), c.agency == scope.agency)))
    if wanted.states:
        conditions.append(c.state.in_(wanted.states))
    if wanted.closure is not None:
        conditions.append(c.closure_id == wanted.closure)
    if wanted.project is not None:
        conditions.append(c.project_id == wanted.project)
    if wanted.group is not None:
        conditions.append(c.group_id == wanted.group)
    if wanted.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = wanted.bbox
        conditions.append(sa.and_(c.lon >= min_lon, c.lon <= max_lon, c.lat >= min_lat, c.lat <= max_lat))
    return conditions


def _aware(value) -> datetime:
    # An aggregate loses the column's type on SQLite: it comes back as text or a naive UTC instant.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _move_counter(conn: sa.Connection) -> None:
    # Not a history row: no change feed entry and no gap in its numbers, but every kept answer (closures
    # carry report counts) is keyed by the counter and so is rebuilt on its next read, in every worker.
    conn.execute(counters.update().where(counters.c.name == "change").values(value=counters.c.value + 1))


def _history(conn: sa.Connection, id: str, version: int, at: datetime, actor: str, action: str,
             changes: dict) -> None:
    conn.execute(report_history.insert().values(report_id=id, version=version, at=at, actor=actor,
                                                action=action, changes=changes))
