"""Shared fixtures: a migrated database (SQLite, or PostgreSQL by URL), app, client, clock and tokens."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from roadworks import create_app
from roadworks.auth import create_token
from roadworks.store.engine import make_engine, migrate
from roadworks.store.tables import metadata

# CI sets this to run the whole suite a second time against PostgreSQL.
TEST_DATABASE_URL = os.environ.get("ROADWORKS_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("ROADWORKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AGENCY = "西宁市城乡建设局"
OTHER_AGENCY = "西宁市公安局交通警察支队"
# Where the test client sends its requests (Host: localhost): absolute URLs in answers start with it.
TEST_PUBLIC_URL = "http://localhost/"


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
    """A freshly migrated database for this test session."""
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'roadworks.sqlite3'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    migrate(engine)
    engine.dispose()
    return url


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


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 5, 20, 4, 0, tzinfo=timezone.utc))  # 12:00 in Xining


@pytest.fixture
def app(database_url, clock):
    engine = make_engine(database_url)
    _empty(engine)  # before the app exists: it reads the database as it starts
    engine.dispose()
    app = create_app({"DATABASE_URL": database_url, "MIGRATE": False, "CLOCK": clock,
                      "MAX_BODY_BYTES": 2 * 1024 * 1024, "PUBLIC_URL": TEST_PUBLIC_URL})
    app.config["TESTING"] = True
    yield app
    app.extensions["roadworks"].store.engine.dispose()


def _empty(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        conn.exec_driver_sql("INSERT INTO counters (name, value) VALUES ('change', 0)")


@pytest.fixture
def make_app(app, database_url, clock):
    """More apps on the test database (emptied by `app`), with settings overridden: make_app(RATE_LIMIT=...)."""
    made = []

    def make(**settings):
        extra = create_app({"DATABASE_URL": database_url, "MIGRATE": False, "CLOCK": clock,
                            "PUBLIC_URL": TEST_PUBLIC_URL, **settings})
        extra.config["TESTING"] = True
        made.append(extra)
        return extra

    yield make
    for extra in made:
        extra.extensions["roadworks"].store.engine.dispose()


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


@pytest.fixture
def demo(services):
    """The Dongguan Street founding case, loaded."""
    from roadworks.demo import load_demo

    assert load_demo(services.registry)
    services.index.rebuild()  # as if the service had started with the demo data in place
    return services


@pytest.fixture
def snapshot(services):
    """What the database holds, to prove a rejected request changed nothing."""

    def take() -> dict:
        engine = services.store.engine
        with engine.connect() as conn:
            return {t.name: sorted(map(repr, conn.execute(sa.select(t)).all())) for t in metadata.sorted_tables
                    if t.name != "tokens"}

    return take


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
