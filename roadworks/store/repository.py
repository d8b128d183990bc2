"""The one storage interface: versioned documents, history rows and the change sequence, per transaction."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator

import sqlalchemy as sa

from ..domain.errors import Unavailable
from .engine import unreachable
from .tables import closures, counters, history, idempotency, projects, tokens

KINDS = {"project": projects, "closure": closures}


@dataclass(frozen=True)
class Stored:
    """One stored resource version: its JSON document and bookkeeping."""

    kind: str
    id: str
    doc: dict[str, Any]
    version: int
    seq: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    owner: str  # the agency for a project, the project id for a closure


@dataclass(frozen=True)
class Changed:
    """What changed after a sequence number, up to at least `seq`."""

    seq: int
    projects: list[Stored]
    closures: list[Stored]


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    role: str
    agency: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Remembered:
    """A response kept for an Idempotency-Key."""

    fingerprint: str
    status: int
    body: bytes
    headers: dict[str, str]


class Store:
    """Reads anywhere; writes only inside `writing()`, one transaction each."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    # ------------------------------------------------------------------ reads

    def get(self, kind: str, id: str, *, include_deleted: bool = False) -> Stored | None:
        with self.engine.connect() as conn:
            return _get(conn, kind, id, include_deleted)

    def projects(self) -> list[Stored]:
        return self._live("project", sa.select(projects).order_by(projects.c.id))

    def closures(self, *, project: str | None = None,
                 bbox: tuple[float, float, float, float] | None = None) -> list[Stored]:
        query = sa.select(closures).order_by(closures.c.id)
        if project is not None:
            query = query.where(closures.c.project_id == project)
        if bbox is not None:
            min_lon, min_lat, max_lon, max_lat = bbox
            query = query.where(closures.c.max_lon >= min_lon, closures.c.min_lon <= max_lon,
                                closures.c.max_lat >= min_lat, closures.c.min_lat <= max_lat)
        return self._live("closure", query)

    def live_closure_count(self, project: str) -> int:
        query = sa.select(sa.func.count()).select_from(closures).where(
            closures.c.project_id == project, closures.c.deleted_at.is_(None))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def history(self, kind: str, id: str) -> list[dict[str, Any]]:
        query = (sa.select(history).where(history.c.kind == kind, history.c.resource_id == id)
                 .order_by(history.c.seq))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def sequence(self) -> int:
        """The newest change sequence number: it moves on every committed write."""
        # Every read asks this, so it skips SQLAlchemy's statement layer and any explicit transaction.
        with self._raw_connection() as connection:
            cursor = connection.cursor()
            cursor.execute("SELECT value FROM counters WHERE name = 'change'")
            value = cursor.fetchone()[0]
            cursor.close()
            connection.commit()
            return value

    @contextmanager
    def _raw_connection(self):
        """A pooled DBAPI connection, translating driver failures as the engine does (raw use bypasses it)."""
        dialect, connection = self.engine.dialect, None
        try:
            connection = self.engine.raw_connection()
            yield connection
        except dialect.loaded_dbapi.Error as error:
            if not unreachable(error, dialect):
                raise
            if connection is not None:
                connection.invalidate(error)
            raise Unavailable(f"database unavailable: {error}") from error
        finally:
            if connection is not None:
                connection.close()

    def everything(self) -> tuple[int, list[Stored], datetime | None]:
        """The sequence, every live project, and the time of the newest write; closures come by `each_closure`."""
        seq = self.sequence()
        with self.engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(history.c.at))).scalar_one()
        return seq, self.projects(), last

    def each_closure(self, batch: int = 2000) -> Iterator[Stored]:
        """Every live closure, fetched a batch at a time so a large registry never sits in memory twice."""
        query = sa.select(closures).where(closures.c.deleted_at.is_(None))
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=batch).execute(query).mappings():
                yield _stored("closure", row)

    def changed_since(self, seq: int) -> "Changed":
        """Projects and closures (tombstones included) written after change `seq`."""
        # The counter is read first: every change up to it has committed, later ones may show too.
        current = self.sequence()
        with self.engine.connect() as conn:
            found = {kind: [_stored(kind, r) for r in conn.execute(
                sa.select(table).where(table.c.seq > seq).order_by(table.c.seq)).mappings()]
                for kind, table in KINDS.items()}
        return Changed(current, found["project"], found["closure"])

    # ------------------------------------------------------------------ change feed

    def changes_since(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """History rows after `seq` in sequence order, which is commit order: the partners' change feed."""
        query = sa.select(history).where(history.c.seq > seq).order_by(history.c.seq).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def outline(self, resources: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every history row of these (kind, id) resources, without documents: their version timelines."""
        keys = list(resources)
        if not keys:
            return []
        query = (sa.select(history.c.seq, history.c.kind, history.c.resource_id, history.c.version,
                           history.c.action, history.c.at)
                 .where(sa.tuple_(history.c.kind, history.c.resource_id).in_(keys)).order_by(history.c.seq))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def snapshots(self, seqs: Iterable[int]) -> dict[int, dict[str, Any] | None]:
        """The stored documents of these history rows (None for a deletion), by sequence number."""
        wanted = list(seqs)
        if not wanted:
            return {}
        query = sa.select(history.c.seq, history.c.snapshot).where(history.c.seq.in_(wanted))
        with self.engine.connect() as conn:
            return {r.seq: r.snapshot for r in conn.execute(query)}

    def _live(self, kind: str, query) -> list[Stored]:
        table = KINDS[kind]
        with self.engine.connect() as conn:
            rows = conn.execute(query.where(table.c.deleted_at.is_(None))).mappings().all()
        return [_stored(kind, r) for r in rows]

    # ------------------------------------------------------------------ tokens

    def token_by_hash(self, token_hash: str) -> Token | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tokens).where(tokens.c.token_hash == token_hash)).mappings().first()
        return None if row is None else _token(row)

    def tokens(self) -> list[Token]:
        with self.engine.connect() as conn:
            return [_token(r) for r in conn.execute(sa.select(tokens).order_by(tokens.c.id)).mappings()]

    def add_token(self, *, name: str, role: str, agency: str | None, token_hash: str, now: datetime) -> Token:
        with self._transaction() as conn:
            new_id = conn.execute(tokens.insert().values(
                name=name, role=role, agency=agency, token_hash=token_hash, created_at=now)).inserted_primary_key[0]
        return Token(new_id, name, role, agency, now, None)

    def revoke_token(self, token_id: int, now: datetime) -> bool:
        with self._transaction() as conn:
            done = conn.execute(tokens.update().where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                                .values(revoked_at=now)).rowcount
        return bool(done)

    def remembered(self, token_id: int, key: str) -> Remembered | None:
        query = sa.select(idempotency).where(idempotency.c.token_id == token_id, idempotency.c.key == key)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else Remembered(row["fingerprint"], row["status"], bytes(row["body"]),
                                                   dict(row["headers"]))

    # ------------------------------------------------------------------ writes

    @contextmanager
    def writing(self) -> Iterator["Writer"]:
        """One write transaction: everything in it lands together or not at all."""
        with self._transaction() as conn:
            yield Writer(conn)

    @contextmanager
    def _transaction(self):
        with self.engine.connect().execution_options(writing=True) as conn:
            with conn.begin():
                if conn.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE already took the write lock
                    # Queue on the write lock before reading what the write is checked against (If-Match):
                    # taken only at the first change, two writers could both pass the check on one version.
                    conn.execute(sa.select(counters.c.value).where(counters.c.name == "change").with_for_update())
                yield conn


class Writer:
    """Writes within one transaction; each change takes the next sequence number and a history row."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def get(self, kind: str, id: str, *, include_deleted: bool = False) -> Stored | None:
        return _get(self.conn, kind, id, include_deleted)

    def save(self, kind: str, id: str, doc: dict, *, columns: dict, now: datetime, actor: str,
             action: str, changes: dict) -> Stored:
        """Insert or replace a live document as its next version, with its history row."""
        table = KINDS[kind]
        seq = self._next_seq()
        previous = self.get(kind, id, include_deleted=True)
        values = dict(columns, doc=doc, seq=seq, updated_at=now, deleted_at=None)
        if previous is None:
            version, created = 1, now
            self.conn.execute(table.insert().values(id=id, version=version, created_at=created, **values))
        else:
            version, created = previous.version + 1, previous.created_at
            if previous.deleted_at is not None:
                created = now
            self.conn.execute(table.update().where(table.c.id == id).values(
                version=version, created_at=created, **values))
        self._history(seq, kind, id, version, action, now, actor, changes, doc)
        return Stored(kind, id, doc, version, seq, created, now, None, _owner(kind, columns))

    def delete(self, kind: str, id: str, *, now: datetime, actor: str) -> Stored:
        """Leave a tombstone: the row stays, marked deleted, with a new version and sequence."""
        table = KINDS[kind]
        seq = self._next_seq()
        previous = self.get(kind, id)
        version = previous.version + 1
        self.conn.execute(table.update().where(table.c.id == id).values(
            version=version, seq=seq, updated_at=now, deleted_at=now))
        self._history(seq, kind, id, version, "delete", now, actor, {}, None)
        return Stored(kind, id, previous.doc, version, seq, previous.created_at, now, now, previous.owner)

    def remember(self, token_id: int, key: str, answer: Remembered, now: datetime) -> None:
        self.conn.execute(idempotency.insert().values(
            token_id=token_id, key=key, fingerprint=answer.fingerprint, status=answer.status,
            body=answer.body, headers=answer.headers, created_at=now))

    def _next_seq(self) -> int:
        # The counter row is the write lock: writers queue here, so sequence order is commit order.
        return self.conn.execute(counters.update().where(counters.c.name == "change")
                                 .values(value=counters.c.value + 1).returning(counters.c.value)).scalar_one()

    def _history(self, seq, kind, id, version, action, now, actor, changes, doc) -> None:
        self.conn.execute(history.insert().values(
            seq=seq, kind=kind, resource_id=id, version=version, action=action, at=now, actor=actor,
            changes=changes, snapshot=doc))


def _get(conn: sa.Connection, kind: str, id: str, include_deleted: bool) -> Stored | None:
    table = KINDS[kind]
    query = sa.select(table).where(table.c.id == id)
    if not include_deleted:
        query = query.where(table.c.deleted_at.is_(None))
    row = conn.execute(query).mappings().first()
    return None if row is None else _stored(kind, row)


def _owner(kind: str, columns: dict) -> str:
    return columns["agency"] if kind == "project" else columns["project_id"]


def _stored(kind: str, row) -> Stored:
    owner = row["agency"] if kind == "project" else row["project_id"]
    return Stored(kind, row["id"], row["doc"], row["version"], row["seq"], row["created_at"],
                  row["updated_at"], row["deleted_at"], owner)


def _token(row) -> Token:
    return Token(row["id"], row["name"], row["role"], row["agency"], row["created_at"], row["revoked_at"])
