"""Shared fixtures: a migrated database (SQLite, or PostgreSQL by URL), app, client, clock and tokens."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from roadworks.auth import create_token
from roadworks.store.engine import make_engine, migrate
from roadworks.store.tables import metadata
from tests import hypothesis_profiles  # noqa: F401 - the Hypothesis profile, loaded before any test module
from tests.reset import AppPool

# CI sets this to run the whole suite a second time against PostgreSQL.
TEST_DATABASE_URL = os.environ.get("ROADWORKS_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("ROADWORKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AGENCY = "西宁市城乡建设局"
OTHER_AGENCY = "西宁市公安局交通警察支队"
# Where the test client sends its requests (Host: localhost): absolute URLs in answers start with it.
TEST_PUBLIC_URL = "http://localhost/"
START = datetime(2024, 5, 20, 4, 0, tzinfo=timezone.utc)  # the clock's instant as each test starts: 12:00 in Xining
APP_SETTINGS = {"MAX_BODY_BYTES": 2 * 1024 * 1024}  # the `app` fixture's, over app_pool's base


class Clock:
    """A settable clock: tests move time instead of waiting for it."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """A freshly migrated database for this test session: one per pytest-xdist worker (SQLite in the worker's
    temporary folder; on PostgreSQL the database of ROADWORKS_TEST_DATABASE_URL with the worker's name added)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if TEST_DATABASE_URL:
        url = _database_of_its_own(TEST_DATABASE_URL, worker) if worker else TEST_DATABASE_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'roadworks.sqlite3'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    migrate(engine)
    engine.dispose()
    return url


def _database_of_its_own(url: str, worker_id: str) -> str:
    """`url` with the database `<its name>_<worker_id>`, created on the same server if it is not there yet."""
    base = sa.make_url(url)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")  # as make_engine reads it
    name = f"{base.database}_{worker_id}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first():
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def anchors():
    """anchors("wzdx") -> the path of ../shared/anchors/wzdx; skips where it is missing, but fails in CI."""
    root = Path(__file__).resolve().parents[2] / "shared" / "anchors"

    def find(*parts: str) -> Path:
        path = root.joinpath(*parts)
        if not path.exists():
            reason = f"{path} not found (../shared/anchors beside the repository)"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        return path

    return find


@pytest.fixture(scope="session")
def session_clock() -> Clock:
    return Clock(START)


@pytest.fixture
def clock(session_clock) -> Clock:
    """The clock of every app a test uses, back at START: one object, since the lent apps hold it."""
    return reset_clock(session_clock)


def reset_clock(clock: Clock) -> Clock:
    vars(clock).clear()
    clock.now = START
    return clock


@pytest.fixture(scope="session")
def app_pool(database_url, session_clock):
    """The apps of `app` and `make_app`: create_app costs more than most tests, so it runs once per settings."""
    pool = AppPool({"DATABASE_URL": database_url, "MIGRATE": False, "CLOCK": session_clock,
                    "PUBLIC_URL": TEST_PUBLIC_URL})
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def database_engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def rate_remaining(headers) -> int:
    """What is left of the client's budget, read from the answer's `RateLimit` field (`"policy";r=N;t=S`)."""
    return int(re.search(r";r=(\d+)", headers["RateLimit"]).group(1))


def rate_quota(headers) -> int:
    """The client's budget per window, read from the answer's `RateLimit-Policy` field (`"policy";q=N;w=S`)."""
    return int(re.search(r";q=(\d+)", headers["RateLimit-Policy"]).group(1))


@pytest.fixture
def empty_database_url(database_url, database_engine) -> str:
    """The test database emptied, for a test that makes its own app with create_app: other tests leave rows
    (some not valid documents, written straight to the store) that a starting app would read."""
    empty_database(database_engine)
    database_engine.dispose()
    return database_url


@pytest.fixture
def app(app_pool, database_engine, clock):
    """An app on the emptied test database, indistinguishable from a new one (tests/test_isolation.py)."""
    empty_database(database_engine)  # before the app is lent: it reads the database as it starts
    database_engine.dispose()  # and holds no connection during the test
    app = app_pool.lend(**APP_SETTINGS)
    yield app
    _give_back(app_pool, [app])


def _give_back(pool, apps) -> None:
    changed = sorted({part for app in apps for part in pool.give_back(app)})
    if changed:
        pytest.fail(f"this test changed an app's {', '.join(changed)}, which no reset undoes; "
                    "make the app with create_app() in the test instead")


def empty_database(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        conn.exec_driver_sql("INSERT INTO counters (name, value) VALUES ('change', 0)")


@pytest.fixture
def make_app(app, app_pool):
    """More apps on the test database (emptied by `app`), with settings overridden: make_app(RATE_LIMIT=...).
    Each call gives another app, as if create_app had just made it (from the pool, reset)."""
    made = []

    def make(**settings):
        made.append(app_pool.lend(**settings))
        return made[-1]

    yield make
    _give_back(app_pool, made)


@pytest.fixture
def redis_connection():
    """The test Redis (ROADWORKS_TEST_REDIS_URL, default db 15): required, not skipped, where tests ask for it."""
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is needed at {REDIS_URL} (set ROADWORKS_TEST_REDIS_URL): {error}")
    yield connection
    connection.close()


@pytest.fixture
def redis_prefix(redis_connection):
    """A key prefix of its own in the test Redis database, whose keys are deleted afterwards."""
    prefix = f"roadworks-test-{uuid.uuid4().hex}"
    yield prefix, redis_connection
    for key in redis_connection.scan_iter(match=f"{prefix}:*"):
        redis_connection.delete(key)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def services(app):
    return app.extensions["roadworks"]


def _token(services, role, name, agency=None) -> str:
    plain, _ = create_token(services.store, role=role, name=name, agency=agency, now=services.clock())
    return plain


@pytest.fixture
def editor_token(services) -> str:
    return _token(services, "editor", "Construction bureau desk", AGENCY)


@pytest.fixture
def other_editor_token(services) -> str:
    return _token(services, "editor", "Traffic police desk", OTHER_AGENCY)


@pytest.fixture
def admin_token(services) -> str:
    return _token(services, "admin", "City admin")


@pytest.fixture
def auth():
    """Headers for a bearer token, with optional extras: auth(token, If_Match='"1.x"')."""

    def headers(token: str, **extra: str) -> dict[str, str]:
        out = {"Authorization": f"Bearer {token}"}
        out.update({k.replace("_", "-"): v for k, v in extra.items()})
        return out

    return headers


@pytest.fixture(scope="session")
def demo_rows() -> dict:
    """What the first `demo` found in the database and what load_demo left there: {"from": ..., "rows": ...}."""
    return {}


@pytest.fixture
def demo(services, clock, demo_rows):
    """The Dongguan Street founding case, loaded.

    Loading it goes through every check of the write path; the tests after the first that start where it
    started (the same rows, instant and settings) are given the rows it wrote, in a fraction of the time.
    """
    from roadworks.demo import load_demo

    engine = services.store.engine
    start = {"rows": demo_table_rows(engine), "now": clock.now, "settings": dict(services.settings)}
    if demo_rows.get("from") == start:
        write_demo_rows(engine, demo_rows["rows"])
    else:
        assert load_demo(services.registry)
        demo_rows.setdefault("from", start)
        demo_rows.setdefault("rows", demo_table_rows(engine))
    services.index.rebuild()  # as if the service had started with the demo data in place
    return services


# What load_demo writes: everything but the tokens (made by other fixtures, in any order) and idempotency keys.
DEMO_TABLES = [t for t in metadata.sorted_tables if t.name not in ("tokens", "idempotency")]


def demo_table_rows(engine: sa.Engine) -> dict[str, list[dict]]:
    with engine.connect() as conn:
        return {t.name: [dict(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key)).mappings()]
                for t in DEMO_TABLES}


def write_demo_rows(engine: sa.Engine, rows: dict[str, list[dict]]) -> None:
    with engine.begin() as conn:
        for table in reversed(DEMO_TABLES):
            conn.execute(table.delete())
        for table in DEMO_TABLES:
            if rows[table.name]:
                conn.execute(table.insert(), rows[table.name])


@pytest.fixture
def snapshot(services):
    """What the database holds, to prove a rejected request changed nothing."""

    def take() -> dict:
        engine = services.store.engine
        with engine.connect() as conn:
            return {t.name: sorted(map(repr, conn.execute(sa.select(*_compared(t))).all()))
                    for t in metadata.sorted_tables if t.name != "tokens"}

    return take


def _compared(table: sa.Table) -> list[sa.Column]:
    """A table's columns but push events' wall-clock commit instant and number (PostgreSQL's sequence is not reset
    by emptying the table): no two loads of one case agree on them."""
    return [c for c in table.columns if not (table.name == "push_events" and c.name in ("created_at", "id"))]


@pytest.fixture
def project_body():
    return {"id": "dongguan-gas-2024", "name": "东关大街燃气管网提升改造项目", "agency": AGENCY,
            "contact": "12345", "timezone": "Asia/Shanghai",
            "pauses": [{"start": "2024-06-01", "end": "2024-08-31", "reason": "tourist season"}]}


@pytest.fixture
def closure_body():
    """A valid closure Feature for the project of `project_body`."""

    def make(id: str | None = None, **props) -> dict:
        properties = {"project": "dongguan-gas-2024", "road": "东关大街", "from": "乐都路", "to": "共和路",
                      "schedule": {"windows": [{"start": "2024-04-12", "end": "2024-06-04"}]}}
        properties.update(props)
        feature = {"type": "Feature",
                   "geometry": {"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]},
                   "properties": properties}
        if id is not None:
            feature["id"] = id
        return feature

    return make


@pytest.fixture
def add_closure(services, closure_body):
    """Create a closure through the registry as an admin: add_closure(id, geometry=..., **properties)."""
    from roadworks.api.bodies import load_closure
    from roadworks.auth import Actor

    def add(id: str, *, geometry: dict | None = None, **props) -> None:
        body = closure_body(id, **props)
        if geometry is not None:
            body["geometry"] = geometry
        services.registry.create_closure(load_closure(body), Actor(name="test admin", role="admin"))

    return add


@pytest.fixture
def project(client, auth, editor_token, project_body):
    """The project of `project_body`, created through the API by the bureau's editor."""
    response = client.post("/api/v1/projects", json=project_body, headers=auth(editor_token))
    assert response.status_code == 201, response.json
    return response.json
