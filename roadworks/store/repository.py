"""The one storage interface: versioned documents, history rows and the change sequence, per transaction."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Iterator

import orjson
import sqlalchemy as sa

from ..domain.errors import Unavailable
from ..domain.schedule import start_instant, zone
from .engine import unreachable
from .errors import AlreadyRemembered
from .tables import closures, counters, history, idempotency, projects, public_changes, push_events, tokens, utcnow

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
    length_m: float | None = None  # a closure's stored length, where the read fetched it


@dataclass(frozen=True)
class Writes:
    """When the newest write was, and the newest one anyone may see (publications that came with time aside)."""

    last: datetime | None
    last_public: datetime | None


@dataclass(frozen=True)
class Changed:
    """What changed after a sequence number, up to at least `seq`."""

    seq: int
    projects: list[Stored]
    closures: list[Stored]
    writes: Writes | None = None


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
        self._readers = threading.local()  # each thread's connection for `sequence`, outside the pool
        # Called after a transaction that wrote push events commits: wakes this process's delivery worker.
        self.on_announce: list = []
        self.announcing = True  # writes fill the push outbox (bench/push.py turns it off to compare)
        self._held = threading.local()
        # Disposing of the engine (before a fork, at shutdown, after a test) closes it too.
        sa.event.listen(engine, "engine_disposed", lambda _engine: self.release_reader())

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
        """The newest change sequence number: it moves on every committed write.

        Every read, replays included, asks this first. So it skips SQLAlchemy's statement layer and the
        pool: each thread keeps one autocommitting connection of its own for it. A kept connection found
        broken (the database restarted meanwhile) is replaced once before the failure counts.
        """
        for attempt in (1, 2):
            held = getattr(self._readers, "connection", None)
            connection = None
            try:
                connection = held or self._reader()
                cursor = connection.cursor()
                cursor.execute("SELECT value FROM counters WHERE name = 'change'")
                value = cursor.fetchone()[0]
                cursor.close()
                return value
            except self.engine.dialect.loaded_dbapi.Error as error:
                self.release_reader()
                if not unreachable(error, self.engine.dialect):
                    raise
                if held is None or attempt == 2:
                    raise Unavailable(f"database unavailable: {error}") from error
            finally:
                if connection is not None and connection is not getattr(self._readers, "connection", None):
                    connection.close()  # a pooled one (in-memory databases), or one that just failed
        raise AssertionError("unreachable")

    def _reader(self):
        """A connection for `sequence`: this thread's own, kept, where the database allows a second one."""
        connection = self.engine.raw_connection()
        if isinstance(self.engine.pool, (sa.pool.SingletonThreadPool, sa.pool.StaticPool)):
            return connection  # an in-memory database: a connection of its own would be another, empty one
        connection.detach()  # out of the pool, so it is not handed to anyone else, nor kept from them
        if self.engine.dialect.name != "sqlite":
            connection.dbapi_connection.autocommit = True  # one round trip a read, no transaction left open
        self._readers.connection = connection
        return connection

    def release_reader(self) -> None:
        """Close this thread's `sequence` connection (before a fork: no connection may cross into a worker)."""
        held = getattr(self._readers, "connection", None)
        self._readers.connection = None
        if held is not None:
            try:
                held.close()
            except self.engine.dialect.loaded_dbapi.Error:
                pass  # already gone with the database

    def everything(self) -> tuple[int, list[Stored], "Writes"]:
        """The sequence, every live project, and when the newest writes were; closures come by `each_closure`."""
        seq = self.sequence()
        with self.engine.connect() as conn:
            return seq, self.projects(), _writes(conn)

    def each_closure(self, batch: int = 2000) -> Iterator[Stored]:
        """Every live closure, fetched a batch at a time so a large registry never sits in memory twice.

        Only the columns a Closure is made of, with its stored length; the document comes as text and is
        decoded here by orjson, several times faster than the driver's json (a full build reads them all).
        """
        c = closures.c
        query = (sa.select(c.id, c.project_id, sa.cast(c.doc, sa.Text), c.version, c.seq, c.created_at,
                           c.updated_at, c.length_m).where(c.deleted_at.is_(None)))
        with self.engine.connect() as conn:
            for id, owner, doc, version, seq, created, updated, length in (
                    conn.execution_options(yield_per=batch).execute(query)):
                yield Stored("closure", id, decode(doc), version, seq, created, updated, None, owner, length)

    def changed_since(self, seq: int) -> "Changed":
        """Projects and closures (tombstones included) written after change `seq`."""
        # The counter is read first: every change up to it has committed, later ones may show too.
        current = self.sequence()
        with self.engine.connect() as conn:
            found = {kind: [_stored(kind, r) for r in conn.execute(
                sa.select(table).where(table.c.seq > seq).order_by(table.c.seq)).mappings()]
                for kind, table in KINDS.items()}
            writes = _writes(conn)
        return Changed(current, found["project"], found["closure"], writes)

    # ------------------------------------------------------------------ change feed

    def changes_since(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """History rows after `seq` in sequence order, which is commit order: every change, drafts included."""
        query = sa.select(history).where(history.c.seq > seq).order_by(history.c.seq).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def public_changes_since(self, pseq: int, limit: int) -> list[dict[str, Any]]:
        """The public change feed after public number `pseq`: history rows as `pseq`, `action` and `at` show them.

        Only what was numbered; call `publish_due` first so that publications whose time has come are.
        """
        shown = public_changes
        query = (sa.select(history, shown.c.pseq, shown.c.action.label("shown_action"), shown.c.at.label("shown_at"))
                 .join(shown, shown.c.seq == history.c.seq).where(shown.c.pseq > pseq)
                 .order_by(shown.c.pseq).limit(limit))
        with self.engine.connect() as conn:
            return [dict(r, action=r["shown_action"], at=r["shown_at"], written_at=r["at"], written_action=r["action"])
                    for r in conn.execute(query).mappings()]

    def public_sequence(self, now: datetime | None = None) -> int:
        """The last public change number; with `now`, counting publications due by then though not yet numbered.

        The count is what the next writer or feed reader will number (`publish_due`), so it moves at each
        publication's instant, not at the next write.
        """
        with self.engine.connect() as conn:
            numbered = _last_public(conn)
            if now is None:
                return numbered
            due = conn.execute(sa.select(sa.func.count()).select_from(history)
                               .where(history.c.publishes_at <= now)).scalar_one()
        return numbered + due

    def public_position(self, seq: int, shown_until: datetime | None) -> int:
        """The public number a cursor of the raw sequence maps to: the partner has every change before it.

        The old feed handed out (last history seq examined, poll instant): it had shown the rows public at
        commit up to `seq`, and publications of those rows up to `shown_until`. Mapped to just before the
        first public change it had not shown; a few after that may come again, which a mirror absorbs.
        """
        shown = public_changes
        seen = shown.c.seq <= seq
        if shown_until is None:
            seen = sa.and_(seen, shown.c.scheduled.is_(False))
        else:
            seen = sa.and_(seen, sa.or_(shown.c.scheduled.is_(False), shown.c.at <= shown_until))
        with self.engine.connect() as conn:
            first_unseen = conn.execute(sa.select(sa.func.min(shown.c.pseq)).where(sa.not_(seen))).scalar_one()
            return _last_public(conn) if first_unseen is None else first_unseen - 1

    def due_publications(self, now: datetime) -> bool:
        """Whether some hidden version's publication time has come without its public number yet."""
        query = sa.select(history.c.seq).where(history.c.publishes_at <= now).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def publish_due(self, now: datetime) -> int:
        """Number every publication due by `now` (idempotent; a write transaction only when one is due)."""
        if not self.due_publications(now):
            return 0
        with self._transaction() as conn:
            publicity = Publicity(conn, outbox=True)
            done = publicity.publish_due(now)
        self._announced(publicity)
        return done

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
            writer = Writer(conn, announcing=self.announcing)
            yield writer
        self._announced(writer.publicity)

    def _announced(self, publicity: "Publicity") -> None:
        """After the commit: tell this process's delivery worker that push events wait (or note it, while held)."""
        if publicity.announced:
            if getattr(self._held, "on", False):
                self._held.pending = True
            else:
                self.wake_workers()

    def wake_workers(self) -> None:
        for wake in self.on_announce:
            wake()

    def hold_announcements(self) -> None:
        """Until `unhold_announcements`, this thread's commits note their wake instead of waking the worker."""
        self._held.on, self._held.pending = True, False

    def unhold_announcements(self) -> bool:
        """Stop holding; whether a wake was held (the caller then wakes the workers when it sees fit)."""
        pending = getattr(self._held, "pending", False)
        self._held.on, self._held.pending = False, False
        return pending

    @contextmanager
    def holding_announcements(self) -> Iterator[None]:
        """Wake the workers once the block ends, not at each commit in it."""
        self.hold_announcements()
        try:
            yield
        finally:
            if self.unhold_announcements():
                self.wake_workers()

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

    def __init__(self, conn: sa.Connection, announcing: bool = True):
        self.conn = conn
        self.publicity = Publicity(conn, outbox=announcing)

    def get(self, kind: str, id: str, *, include_deleted: bool = False) -> Stored | None:
        return _get(self.conn, kind, id, include_deleted)

    def save(self, kind: str, id: str, doc: dict, *, columns: dict, now: datetime, actor: str,
             action: str, changes: dict) -> Stored:
        """Insert or replace a live document as its next version, with its history row."""
        table = KINDS[kind]
        self.publicity.publish_due(now)  # publications that came before this write are numbered before it
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
        self.publicity.publish_due(now)
        seq = self._next_seq()
        previous = self.get(kind, id)
        version = previous.version + 1
        self.conn.execute(table.update().where(table.c.id == id).values(
            version=version, seq=seq, updated_at=now, deleted_at=now))
        self._history(seq, kind, id, version, "delete", now, actor, {}, None)
        return Stored(kind, id, previous.doc, version, seq, previous.created_at, now, now, previous.owner)

    def remember(self, token_id: int, key: str, answer: Remembered, now: datetime) -> None:
        """Keep the answer to an Idempotency-Key; AlreadyRemembered if a concurrent request kept one first."""
        try:
            self.conn.execute(idempotency.insert().values(
                token_id=token_id, key=key, fingerprint=answer.fingerprint, status=answer.status,
                body=answer.body, headers=answer.headers, created_at=now))
        except sa.exc.IntegrityError as error:
            # (token, key) is the primary key: the one rule a well-formed answer can break.
            raise AlreadyRemembered(f"an answer is already kept for Idempotency-Key {key!r}") from error

    def _next_seq(self) -> int:
        # The counter row is the write lock: writers queue here, so sequence order is commit order.
        return self.conn.execute(counters.update().where(counters.c.name == "change")
                                 .values(value=counters.c.value + 1).returning(counters.c.value)).scalar_one()

    def _history(self, seq, kind, id, version, action, now, actor, changes, doc) -> None:
        self.conn.execute(history.insert().values(
            seq=seq, kind=kind, resource_id=id, version=version, action=action, at=now, actor=actor,
            changes=changes, snapshot=doc))
        self.publicity.record(seq, kind, id, action, now, doc)


class Publicity:
    """Which changes anyone may see, numbered without gaps in the order they became visible (`public_changes`).

    A change public when committed is numbered in its write's transaction. A hidden draft's version is
    numbered when its publication comes due: by the next writer (before its own change) or the next feed
    reader, under the same write lock, so numbers follow the public order of events and nothing a partner
    can read shows that a draft exists. Used by every write and by the migration that fills the table.
    """

    def __init__(self, conn: sa.Connection, outbox: bool = False):
        self.conn = conn
        self.outbox = outbox  # also announce each numbered change to partner push (not while migrating)
        self.announced = 0

    def publish_due(self, now: datetime) -> int:
        """Number the publications due by `now`, oldest first; returns how many."""
        due = self.conn.execute(
            sa.select(history.c.seq, history.c.kind, history.c.resource_id, history.c.publishes_at)
            .where(history.c.publishes_at <= now).order_by(history.c.publishes_at, history.c.seq)).all()
        for row in due:
            self._number(row.seq, row.kind, row.resource_id, "update", row.publishes_at, scheduled=True)
        if due:
            self.conn.execute(history.update().where(history.c.seq.in_([r.seq for r in due]))
                              .values(publishes_at=None))
        return len(due)

    def record(self, seq: int, kind: str, id: str, action: str, at: datetime, doc: dict | None) -> None:
        """Number a new history row if the public sees it now, else note when it will (if ever)."""
        if kind == "project":
            self._number(seq, kind, id, action, at)
            if doc is not None:
                self._rezone(id, at)  # a new zone moves a date publish_at of its closures
            return
        was_public = self._public(kind, id)
        self.conn.execute(history.update().where(  # a version replaced before its publication never shows
            history.c.kind == kind, history.c.resource_id == id, history.c.seq < seq,
            history.c.publishes_at.is_not(None)).values(publishes_at=None))
        shown = None if doc is None else publish_instant(doc, self._zone_of(doc))
        if doc is not None and (shown is None or shown <= at):
            self._number(seq, kind, id, action, at)
            return
        if shown is not None:
            self.conn.execute(history.update().where(history.c.seq == seq).values(publishes_at=shown))
        if was_public:  # the public held the version before: it is taken back
            self._number(seq, kind, id, "delete", at)

    def _public(self, kind: str, id: str) -> bool:
        """Whether the public holds this resource now: its last public change was not a deletion."""
        last = self.conn.execute(
            sa.select(public_changes.c.action).where(public_changes.c.kind == kind,
                                                     public_changes.c.resource_id == id)
            .order_by(public_changes.c.pseq.desc()).limit(1)).scalar()
        return last is not None and last != "delete"

    def _zone_of(self, doc: dict) -> str | None:
        project = (doc.get("properties") or {}).get("project")
        found = self.conn.execute(sa.select(projects.c.doc).where(projects.c.id == project)).scalar()
        return None if found is None else found.get("timezone")

    def _rezone(self, project: str, at: datetime) -> None:
        pending = self.conn.execute(
            sa.select(history.c.seq, history.c.snapshot).join(closures, closures.c.id == history.c.resource_id)
            .where(history.c.kind == "closure", history.c.publishes_at.is_not(None),
                   closures.c.project_id == project)).all()
        for row in pending:
            self.conn.execute(history.update().where(history.c.seq == row.seq).values(
                publishes_at=publish_instant(row.snapshot, self._zone_of(row.snapshot))))
        if pending:
            self.publish_due(at)

    def _number(self, seq: int, kind: str, id: str, action: str, at: datetime, scheduled: bool = False) -> None:
        # Callers hold the write lock (the change counter), so the next number is the largest plus one.
        pseq = _last_public(self.conn) + 1
        self.conn.execute(public_changes.insert().values(
            pseq=pseq, seq=seq, kind=kind, resource_id=id, action=action, at=at, scheduled=scheduled))
        if self.outbox:
            announce(self.conn, event_type(kind, action), kind, id, at, pseq=pseq)
            self.announced += 1


def event_type(kind: str, action: str) -> str:
    """The push event of a public change: closure.created/updated/deleted, project.updated."""
    if kind == "project":
        return "project.updated"
    return {"create": "closure.created", "delete": "closure.deleted"}.get(action, "closure.updated")


def announce(conn: sa.Connection, type: str, kind: str, id: str, at: datetime, *, pseq: int | None = None,
             data: dict | None = None) -> None:
    """One outbox row, in the caller's transaction (which holds the change counter's lock: ids in commit order).

    Workers are woken after the commit (Store.on_announce: this process's worker, and a NOTIFY or Redis
    message for the others, sent off the writer's thread); a wake lost in a crash is made up by their poll.
    """
    conn.execute(push_events.insert().values(type=type, kind=kind, resource_id=id, pseq=pseq, at=at,
                                             created_at=utcnow(), data=data))


def publish_instant(doc: dict, timezone_name: str | None) -> datetime | None:
    """When a stored closure document becomes public (None: at once); a date means local midnight."""
    value = (doc.get("properties") or {}).get("publish_at")
    if not value:
        return None
    when = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    return start_instant(when, zone(timezone_name or DEFAULT_ZONE))


# A project document always names its zone; this only serves documents written without one.
DEFAULT_ZONE = "Asia/Shanghai"


def _last_public(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.coalesce(sa.func.max(public_changes.c.pseq), 0))).scalar_one()


def decode(text: str | bytes) -> Any:
    """A stored JSON document; Python's json takes what orjson refuses (NaN, say).

    orjson reads an integer past 64 bits as a float: closure documents hold none (`closure_doc` writes
    strings, booleans and normalized float coordinates), and they are all this decodes.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _writes(conn: sa.Connection) -> Writes:
    last = conn.execute(sa.select(sa.func.max(history.c.at))).scalar_one()
    public = conn.execute(sa.select(sa.func.max(public_changes.c.at))
                          .where(public_changes.c.scheduled.is_(False))).scalar_one()
    return Writes(last, public)


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
