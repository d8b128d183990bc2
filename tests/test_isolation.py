"""The apps `app` and `make_app` lend (tests/reset.py): each test gets one indistinguishable from a new one.

A check compares every piece of state a test can reach with a new create_app's. One test runs check, dirty,
check on one app through the pool itself, so it holds however pytest-xdist spreads the tests; the tests after
it do the same through the fixtures, across tests (and then prove they were lent the app the dirty one had
whenever they ran in the same process after it).
"""

from __future__ import annotations

import copy
import logging

import pytest
import sqlalchemy as sa

from roadworks import create_app
from roadworks.auth import Actor, create_token
from roadworks.store.tables import metadata
from tests.conftest import AGENCY, APP_SETTINGS, START, empty_database, reset_clock, write_demo_rows

LIMITED = {"RATE_LIMIT": "2 per minute"}  # a make_app() setting: its counts must not outlive a test
CLOSURES = "/api/v1/closures"
EMPTY = {t.name: ["('change', 0)"] if t.name == "counters" else [] for t in metadata.sorted_tables}
# Which apps the dirtying test was lent, so that the checks after it can tell they were given the same ones.
LENT: dict[str, int] = {}


def state_of(app, engine: sa.Engine) -> dict:
    """Every piece of state a test can reach, in a form two apps can be compared by."""
    services = app.extensions["roadworks"]
    limiter, metrics = app.extensions["roadworks_limiter"], app.extensions["roadworks_metrics"]
    pool = services.store.engine.pool
    state = {"connections": (pool.checkedin(), pool.checkedout())}  # first: the reads below open one
    with engine.connect() as conn:
        state["rows"] = {t.name: sorted(map(repr, conn.execute(sa.select(t)).all())) for t in metadata.sorted_tables}
    snapshot = services.index.snapshot()
    samples = [line for line in metrics.exposition(None)[0].decode().splitlines()
               if not line.startswith("#") and "_created" not in line]
    state.update({
        "settings": {k: v for k, v in services.settings.items() if k != "CLOCK"},
        "clock": dict(vars(services.clock)),
        "config": copy.deepcopy(dict(app.config)),
        "log level": logging.getLogger("roadworks").level,
        "services": sorted(vars(services)),
        "read model": (snapshot.seq, sorted(e.id for e in snapshot.entries()), sorted(snapshot.projects)),
        "answers": (len(services.answers), services.answers.used),
        "fragments": (len(services.fragments), services.fragments.used),
        "registry": (sorted(vars(services.registry)), len(services.registry._parsed)),
        "rate limit": (sorted(vars(limiter)),
                       [limiter.window(limit, "127.0.0.1")[1] for limit in limiter.policies["anonymous"]],
                       limiter.breaker.current_state, limiter.breaker.fail_counter),
        "metrics": (sorted(vars(metrics)), sorted(samples)),
        "route memo": app.wsgi_app.route_of.cache_info().currsize,
    })
    return state


def fresh_state(app_pool, engine: sa.Engine, settings: dict) -> dict:
    """The state of a new create_app with these settings (over the pool's base), on the same database."""
    fresh = create_app({**app_pool.base, **settings})
    fresh.config["TESTING"] = True
    try:
        return state_of(fresh, engine)
    finally:
        fresh.extensions["roadworks"].store.engine.dispose()


def dirty(app, clock) -> sa.Connection:
    """Touch every piece of state state_of looks at; the connection it holds is the caller's to close."""
    services, client = app.extensions["roadworks"], app.test_client()
    token, _ = create_token(services.store, role="editor", name="desk", agency=AGENCY, now=clock())
    writes = {"Authorization": f"Bearer {token}"}
    project = {"id": "p", "name": "n", "agency": AGENCY, "timezone": "Asia/Shanghai"}
    assert client.post("/api/v1/projects", json=project, headers=writes).status_code == 201
    window = {"start": "2024-05-01", "end": "2024-06-01"}
    closure = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[101.79, 36.61], [101.8, 36.61]]},
               "properties": {"project": "p", "road": "r", "schedule": {"windows": [window]}}}
    created = client.post(CLOSURES, json=closure, headers=writes)
    assert created.status_code == 201
    for path in (CLOSURES, CLOSURES, "/feeds/wzdx.geojson", "/metrics"):
        client.get(path)  # answers, fragments, the replay's route memo, rate-limit counts, metrics
    services.registry.closure(created.json["id"], Actor(name="a", role="admin"))  # the parse memo
    clock.advance(hours=1)
    services.settings["PUBLIC_URL"] = "http://dirty.example/"
    services.settings["DIRTY"] = True
    app.config["DIRTY"] = True
    app.config["API_SPEC_OPTIONS"]["info"]["description"] = "dirty"
    logging.getLogger("roadworks").setLevel(logging.ERROR)
    app.extensions["roadworks_limiter"].breaker.open()
    for part in (services, services.registry, app.extensions["roadworks_limiter"], app.extensions["roadworks_metrics"]):
        part.dirty = True
    return services.store.engine.connect()


def assert_dirtied(app, engine: sa.Engine, clock) -> None:
    before = state_of(app, engine)
    held = dirty(app, clock)
    after = state_of(app, engine)
    held.close()
    assert [piece for piece in before if before[piece] == after[piece]] == []


@pytest.mark.parametrize("settings", [APP_SETTINGS, LIMITED], ids=["app", "make_app"])
def test_an_app_lent_after_a_dirty_loan_is_as_new(settings, app_pool, database_engine, clock):
    # What `app` does before each test; `make_app` only lends (`app` has emptied the database).
    empty_database(database_engine)
    lent = app_pool.lend(**settings)
    try:
        assert state_of(lent, database_engine) == fresh_state(app_pool, database_engine, settings)
        assert_dirtied(lent, database_engine, clock)
    finally:
        assert app_pool.give_back(lent) == []
    reset_clock(clock)
    empty_database(database_engine)
    again = app_pool.lend(**settings)
    try:
        assert again is lent
        state = state_of(again, database_engine)
        assert state["rows"] == EMPTY and state == fresh_state(app_pool, database_engine, settings)
    finally:
        assert app_pool.give_back(again) == []


def test_the_app_fixture_gives_an_app_as_new(app, app_pool, database_engine, clock):
    assert vars(clock) == {"now": START}
    state = state_of(app, database_engine)
    assert state["rows"] == EMPTY and state == fresh_state(app_pool, database_engine, APP_SETTINGS)
    assert id(app) == LENT.get("app", id(app))  # the very app the dirty test had, when it ran before in this process


def test_make_app_gives_an_app_as_new(make_app, app_pool, database_engine):
    made = make_app(**LIMITED)
    assert state_of(made, database_engine) == fresh_state(app_pool, database_engine, LIMITED)
    assert [made.test_client().get(CLOSURES).status_code for _ in range(3)] == [200, 200, 429]
    assert id(made) == LENT.get("made", id(made))


def test_dirty_every_piece_of_state_of_both(app, make_app, database_engine, clock):
    made = make_app(**LIMITED)
    LENT.update(app=id(app), made=id(made))
    assert_dirtied(app, database_engine, clock)
    assert [made.test_client().get(CLOSURES).status_code for _ in range(3)] == [200, 200, 429]


def test_the_app_fixture_gives_an_app_as_new_after_a_dirty_test(app, app_pool, database_engine, clock):
    test_the_app_fixture_gives_an_app_as_new(app, app_pool, database_engine, clock)


def test_make_app_gives_an_app_as_new_after_a_dirty_test(make_app, app_pool, database_engine):
    test_make_app_gives_an_app_as_new(make_app, app_pool, database_engine)


def test_a_change_to_an_apps_make_up_is_caught_and_the_app_not_lent_again(app_pool):
    settings = {"RATE_LIMIT": "8 per minute"}  # settings no other test uses: an app of this test's own
    lent = app_pool.lend(**settings)
    lent.extensions["dirty"] = object()
    assert app_pool.give_back(lent) == ["extensions"]
    again = app_pool.lend(**settings)
    try:
        assert again is not lent
    finally:
        assert app_pool.give_back(again) == []


def test_the_demo_given_from_rows_is_what_load_demo_writes(demo, demo_rows, snapshot, app_pool, database_engine):
    """`demo` loads the founding case once and gives the tests after it the rows it wrote: the same rows."""
    from roadworks.demo import load_demo

    given = snapshot()
    empty_database(database_engine)
    other = create_app({**app_pool.base, **APP_SETTINGS})
    try:
        assert load_demo(other.extensions["roadworks"].registry)
    finally:
        other.extensions["roadworks"].store.engine.dispose()
    loaded = snapshot()
    empty_database(database_engine)
    write_demo_rows(database_engine, demo_rows["rows"])
    assert given == loaded == snapshot()
