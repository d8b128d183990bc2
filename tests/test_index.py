"""The read model (roadworks.index): per-sequence snapshots, base + overlay patching, selection and status caching.

Two app instances on one database stand for two worker processes: each keeps its own ReadModel, and
either must see the other's writes on its very next snapshot. A snapshot patched change by change
must answer exactly as a full build of the same data would.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import box

from roadworks import create_app
from roadworks import index as index_module
from roadworks.api.bodies import load_closure, load_project, load_reopen, patched
from roadworks.auth import ANONYMOUS, Actor
from roadworks.index import ReadModel

GONGHE, NANXIAO, YANGJIA = "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"
PROJECT = "dongguan-gas-2024"
ADMIN = Actor(name="index tests", role="admin")
AGENCY = "西宁市城乡建设局"

# Instants at which statuses differ in the founding case (Xining is UTC+8).
INSTANTS = [datetime(2024, 4, 11, 4, tzinfo=UTC), datetime(2024, 5, 20, 4, tzinfo=UTC),
            datetime(2024, 5, 30, 16, tzinfo=UTC), datetime(2024, 6, 3, 4, tzinfo=UTC),
            datetime(2024, 7, 15, 4, tzinfo=UTC), datetime(2024, 8, 31, 16, tzinfo=UTC),
            datetime(2024, 9, 2, 4, tzinfo=UTC), datetime(2025, 3, 1, tzinfo=UTC)]
BOXES = [(101.78, 36.60, 101.81, 36.62), (101.80, 36.60, 101.81, 36.62), (101.786, 36.611, 101.791, 36.612),
         (0.0, 0.0, 1.0, 1.0), (101.7946, 36.6113, 101.7948, 36.6115)]


def feature(id: str, coords=None, project: str = PROJECT, road: str = "东关大街", **props) -> dict:
    """A closure Feature, parsed for the registry."""
    properties = {"project": project, "road": road,
                  "schedule": {"windows": [{"start": "2024-04-12", "end": "2024-06-04"}]}, **props}
    return load_closure({"type": "Feature", "id": id, "properties": properties, "geometry": {
        "type": "LineString", "coordinates": coords or [[101.7905, 36.6116], [101.7975, 36.6113]]}})


def current(services, id: str):
    stored = services.store.get("closure", id)
    return stored.version


def patch_closure(services, id: str, properties: dict, geometry: dict | None = None):
    body = {"properties": properties}
    if geometry is not None:
        body["geometry"] = geometry
    return services.registry.edit_closure(id, patched(load_closure, body), ADMIN, current(services, id))


def patch_project(services, id: str, patch: dict):
    edit = patched(load_project, patch)
    return services.registry.edit_project(id, edit, ADMIN, services.store.get("project", id).version)


def describe(snapshot) -> dict:
    """Everything a query can learn from a snapshot, in comparable form."""
    out = {"len": len(snapshot), "ids": [e.id for e in snapshot.entries()]}
    out["entries"] = {e.id: (e.view.closure.version, e.view.project.version, e.road, e.bounds, e.published_at,
                             [e.status(t) for t in INSTANTS]) for e in snapshot.entries()}
    out["boxes"] = [[e.id for e in snapshot.select(area=box(*b))] for b in BOXES]
    out["projects"] = {p: [e.id for e in snapshot.select(project=p)] for p in (PROJECT, "second", "nope")}
    out["roads"] = {r: [e.id for e in snapshot.select(road=r)] for r in ("东关", "lane", "LANE", "zzz")}
    out["combined"] = [e.id for e in snapshot.select(area=box(*BOXES[0]), project=PROJECT, road="东")]
    return out


# ---------------------------------------------------------------------------- two workers, one database

@pytest.fixture
def worker_b(app, database_url, clock):
    """A second app instance on the same database: another worker process."""
    other = create_app({"DATABASE_URL": database_url, "MIGRATE": False, "CLOCK": clock})
    other.config["TESTING"] = True
    yield other
    other.extensions["roadworks"].store.engine.dispose()


@pytest.fixture
def b_index(worker_b, demo):
    """Worker B's read model, already holding a snapshot of the founding case."""
    index = worker_b.extensions["roadworks"].index
    assert len(index.snapshot()) == 3
    return index


def test_create_on_one_worker_is_seen_by_the_other(demo, b_index, client, auth, editor_token, closure_body):
    response = client.post("/api/v1/closures", json=closure_body("fresh"), headers=auth(editor_token))
    assert response.status_code == 201
    snapshot = b_index.snapshot()
    assert snapshot.seq == demo.store.sequence()
    assert snapshot.get("fresh") is not None and len(snapshot) == 4


def test_update_on_one_worker_is_seen_by_the_other(demo, b_index, client, auth, editor_token):
    tag = client.get(f"/api/v1/closures/{NANXIAO}").headers["ETag"]
    response = client.patch(f"/api/v1/closures/{NANXIAO}", json={"properties": {"road": "南小街"}},
                            headers=auth(editor_token, If_Match=tag))
    assert response.status_code == 200
    entry = b_index.snapshot().get(NANXIAO)
    assert entry.road == "南小街" and entry.view.closure.version == response.json["properties"]["version"]


def test_delete_on_one_worker_is_seen_by_the_other(demo, b_index, client, auth, editor_token):
    tag = client.get(f"/api/v1/closures/{YANGJIA}").headers["ETag"]
    assert client.delete(f"/api/v1/closures/{YANGJIA}", headers=auth(editor_token, If_Match=tag)).status_code == 204
    snapshot = b_index.snapshot()
    assert snapshot.get(YANGJIA) is None
    assert [e.id for e in snapshot.entries()] == [GONGHE, NANXIAO]


def test_project_pause_on_one_worker_changes_statuses_on_the_other(demo, b_index, worker_b, client, auth,
                                                                   editor_token):
    now = datetime(2024, 5, 20, 4, tzinfo=UTC)
    assert b_index.snapshot().get(GONGHE).status(now)[0] == "active"
    tag = client.get(f"/api/v1/projects/{PROJECT}").headers["ETag"]
    pauses = [{"start": "2024-05-15", "end": "2024-05-25", "reason": "festival"},
              {"start": "2024-06-01", "end": "2024-08-31", "reason": "tourist season"}]
    response = client.patch(f"/api/v1/projects/{PROJECT}", json={"pauses": pauses},
                            headers=auth(editor_token, If_Match=tag))
    assert response.status_code == 200, response.json
    assert b_index.snapshot().get(GONGHE).status(now)[0] == "paused"
    listed = worker_b.test_client().get("/api/v1/closures", query_string={"status": "all"})
    assert {f["id"]: f["properties"]["status"] for f in listed.json["features"]}[GONGHE] == "paused"


def test_other_worker_listing_follows_writes(demo, worker_b, client, auth, editor_token, closure_body):
    other = worker_b.test_client()
    before = other.get("/api/v1/closures")
    assert client.post("/api/v1/closures", json=closure_body("fresh"), headers=auth(editor_token)).status_code == 201
    after = other.get("/api/v1/closures", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert "fresh" in [f["id"] for f in after.json["features"]]


# ---------------------------------------------------------------------------- overlay patching = full build

@pytest.fixture
def second_project(demo):
    demo.registry.create_project(load_project({"id": "second", "name": "Second works", "agency": AGENCY,
                                               "timezone": "America/New_York"}), ADMIN)
    return demo


def write_a_mix(services) -> None:
    """Creates, updates (geometry, road, schedule, project), a reopening, deletes, a re-create, project changes."""
    reg = services.registry
    reg.create_closure(feature("a-new", [[101.781, 36.601], [101.789, 36.609]], road="Back Lane"), ADMIN)
    reg.create_closure(feature("z-new", [[101.802, 36.611], [101.806, 36.612]], project="second",
                               schedule={"windows": [{"start": "2024-05-01", "end": None}],
                                         "hours": [{"days": ["mon", "wed"], "start": "22:00", "end": "06:00"}]}),
                       ADMIN)
    patch_closure(services, NANXIAO, {"road": "South LANE"},
                  {"type": "LineString", "coordinates": [[101.786, 36.6118], [101.7905, 36.6116]]})
    reg.reopen(GONGHE, load_reopen({"at": "2024-05-25"}), ADMIN, current(services, GONGHE))
    reg.delete_closure(YANGJIA, ADMIN, current(services, YANGJIA))
    patch_project(services, PROJECT, {"pauses": [{"start": "2024-07-01", "end": "2024-07-31"}]})
    reg.create_closure(feature("m-draft", publish_at="2024-06-01T09:00:00+08:00"), ADMIN)
    patch_closure(services, "a-new", {"schedule": {"windows": [{"start": "2024-08-01", "end": "2024-09-30"}]}})
    reg.delete_closure("z-new", ADMIN, current(services, "z-new"))
    reg.create_closure(feature("z-new", [[101.803, 36.611], [101.807, 36.613]], project="second"), ADMIN)
    patch_closure(services, "m-draft", {"project": "second"})
    patch_project(services, "second", {"timezone": "Asia/Shanghai"})


def test_patched_snapshot_answers_like_a_full_build(second_project):
    services = second_project
    services.index.snapshot()
    write_a_mix(services)
    patched = services.index.snapshot()
    assert patched.overlay, "the writes should have been applied as an overlay"
    fresh = ReadModel(services.store).snapshot()
    assert not fresh.overlay
    assert patched.seq == fresh.seq
    assert describe(patched) == describe(fresh)


def test_patching_one_write_at_a_time_answers_like_a_full_build(second_project, monkeypatch):
    services = second_project
    services.index.snapshot()
    steps = []
    real = services.registry

    class Stepper:
        """Take a snapshot after every write, and compare it with a full build at that point."""

        def __getattr__(self, name):
            method = getattr(real, name)

            def call(*args, **kwargs):
                result = method(*args, **kwargs)
                patched, fresh = services.index.snapshot(), ReadModel(services.store).snapshot()
                steps.append((name, describe(patched) == describe(fresh)))
                return result

            return call

    class Wrapped:
        registry = Stepper()
        store = services.store

    write_a_mix(Wrapped)
    assert len(steps) == 12
    assert all(same for _, same in steps), steps


def test_patched_snapshot_knows_the_projects(second_project):
    services = second_project
    services.index.snapshot()
    patch_project(services, "second", {"name": "Renamed"})
    assert services.index.snapshot().projects["second"].name == "Renamed"
    assert ReadModel(services.store).snapshot().projects.keys() == services.index.snapshot().projects.keys()


# ---------------------------------------------------------------------------- OVERLAY_LIMIT

def test_passing_the_overlay_limit_rebuilds(demo, monkeypatch):
    monkeypatch.setattr(index_module, "OVERLAY_LIMIT", 3)
    first = demo.index.snapshot()
    demo.registry.create_closure(feature("n1"), ADMIN)
    demo.registry.create_closure(feature("n2"), ADMIN)
    patched = demo.index.snapshot()
    assert set(patched.overlay) == {"n1", "n2"} and patched.base is first.base
    demo.registry.create_closure(feature("n3"), ADMIN)
    demo.registry.create_closure(feature("n4"), ADMIN)
    rebuilt = demo.index.snapshot()
    assert rebuilt.overlay == {}
    assert rebuilt.base is not first.base
    assert {"n1", "n2", "n3", "n4", GONGHE} <= set(rebuilt.base.entries)
    assert [e.id for e in rebuilt.select(area=box(101.792, 36.61, 101.80, 36.62))] == \
        [GONGHE, "n1", "n2", "n3", "n4"]


def test_overlay_up_to_the_limit_is_kept(demo, monkeypatch):
    monkeypatch.setattr(index_module, "OVERLAY_LIMIT", 3)
    first = demo.index.snapshot()
    for n in (1, 2, 3):
        demo.registry.create_closure(feature(f"n{n}"), ADMIN)
    patched = demo.index.snapshot()
    assert patched.base is first.base and len(patched.overlay) == 3


def test_project_change_that_touches_many_closures_respects_the_overlay_limit(demo, monkeypatch):
    monkeypatch.setattr(index_module, "OVERLAY_LIMIT", 3)
    demo.registry.create_closure(feature("n1"), ADMIN)
    demo.index.snapshot()
    patch_project(demo, PROJECT, {"pauses": [{"start": "2024-07-01", "end": "2024-07-31"}]})
    snapshot = demo.index.snapshot()
    assert len(snapshot.overlay) <= 3


# ---------------------------------------------------------------------------- reuse per sequence

def test_same_sequence_reuses_the_snapshot(demo, monkeypatch):
    first = demo.index.snapshot()

    def refuse(*args, **kwargs):
        raise AssertionError("nothing changed: the snapshot must be reused, not rebuilt")

    monkeypatch.setattr(demo.store, "everything", refuse)
    monkeypatch.setattr(demo.store, "changed_since", refuse)
    assert demo.index.snapshot() is first
    assert demo.index.snapshot() is first


def test_reads_do_not_move_the_snapshot(demo, client):
    first = demo.index.snapshot()
    client.get("/api/v1/closures")
    client.get(f"/api/v1/closures/{GONGHE}")
    client.get("/api/v1/projects")
    assert demo.index.snapshot() is first


def test_a_write_makes_a_new_snapshot(demo):
    first = demo.index.snapshot()
    demo.registry.create_closure(feature("n1"), ADMIN)
    second = demo.index.snapshot()
    assert second is not first and second.seq > first.seq
    assert first.get("n1") is None, "an older snapshot must not change under its readers"


# ---------------------------------------------------------------------------- select()

DIAGONAL = [[101.78, 36.60], [101.80, 36.62]]
CORNER = (101.795, 36.600, 101.800, 36.605)  # inside the diagonal's bbox, away from the line


@pytest.fixture(params=["base", "overlay"])
def diagonal(request, demo):
    """A diagonal closure, either in the base build or in the overlay."""
    demo.index.snapshot()
    demo.registry.create_closure(feature("diagonal", DIAGONAL), ADMIN)
    if request.param == "base":
        demo.index.rebuild()
    snapshot = demo.index.snapshot()
    assert ("diagonal" in snapshot.overlay) == (request.param == "overlay")
    return snapshot


def test_bbox_meeting_only_the_line_bounds_does_not_select_it(diagonal):
    area = box(*CORNER)
    assert "diagonal" in [e.id for e in diagonal.candidates(area)]
    assert "diagonal" not in [e.id for e in diagonal.select(area=area)]


def test_bbox_crossing_the_line_selects_it(diagonal):
    assert "diagonal" in [e.id for e in diagonal.select(area=box(101.789, 36.609, 101.791, 36.611))]


def test_bbox_touching_a_line_end_selects_it(diagonal):
    assert "diagonal" in [e.id for e in diagonal.select(area=box(101.80, 36.62, 101.81, 36.63))]


def test_http_bbox_in_the_corner_of_a_line_bounds_leaves_it_out(diagonal, client):
    response = client.get("/api/v1/closures", query_string={"bbox": ",".join(map(str, CORNER)), "status": "all"})
    assert response.status_code == 200
    assert [f["id"] for f in response.json["features"]] == []


@pytest.mark.parametrize("where", ["base", "overlay"])
def test_bbox_between_the_parts_of_a_multilinestring_does_not_select_it(demo, where):
    demo.index.snapshot()
    parts = {"type": "MultiLineString", "coordinates": [[[101.780, 36.600], [101.782, 36.602]],
                                                        [[101.798, 36.618], [101.800, 36.620]]]}
    body = feature("two-parts")
    body["geometry"] = parts
    demo.registry.create_closure(body, ADMIN)
    if where == "base":
        demo.index.rebuild()
    snapshot = demo.index.snapshot()
    assert ("two-parts" in snapshot.overlay) == (where == "overlay")
    assert "two-parts" not in [e.id for e in snapshot.select(area=box(101.788, 36.608, 101.792, 36.611))]
    assert "two-parts" in [e.id for e in snapshot.select(area=box(101.799, 36.619, 101.801, 36.621))]


@pytest.fixture(params=["base", "overlay"])
def mixed(request, demo, second_project):
    demo.index.snapshot()
    for id, road, project in (("k-3", "Nanchuan WEST Road", PROJECT), ("k-1", "nanchuan east road", "second"),
                              ("k-2", "Qilian Road", PROJECT)):
        demo.registry.create_closure(feature(id, project=project, road=road), ADMIN)
    if request.param == "base":
        demo.index.rebuild()
    return demo.index.snapshot()


def test_select_filters_by_project(mixed):
    assert [e.id for e in mixed.select(project="second")] == ["k-1"]
    assert [e.id for e in mixed.select(project=PROJECT)] == [GONGHE, NANXIAO, YANGJIA, "k-2", "k-3"]
    assert mixed.select(project="dongguan") == []


def test_select_road_is_a_case_insensitive_substring(mixed):
    assert [e.id for e in mixed.select(road="NANCHUAN")] == ["k-1", "k-3"]
    assert [e.id for e in mixed.select(road="west road")] == ["k-3"]
    assert [e.id for e in mixed.select(road="东关")] == [GONGHE, NANXIAO, YANGJIA]


def test_http_road_filter_is_case_insensitive(mixed, client):
    response = client.get("/api/v1/closures", query_string={"road": "nanCHUAN", "status": "all"})
    assert [f["id"] for f in response.json["features"]] == ["k-1", "k-3"]


def test_select_combines_filters(mixed):
    whole = box(101.78, 36.60, 101.81, 36.62)
    assert [e.id for e in mixed.select(area=whole, project=PROJECT, road="road")] == ["k-2", "k-3"]


def test_select_is_in_id_order(mixed):
    ids = [e.id for e in mixed.select()]
    assert ids == sorted(ids) == [GONGHE, NANXIAO, YANGJIA, "k-1", "k-2", "k-3"]
    assert [e.id for e in mixed.select(area=box(101.78, 36.60, 101.81, 36.62))] == ids


def test_select_keeps_id_order_across_base_and_overlay(demo):
    demo.registry.create_closure(feature("b-base"), ADMIN)
    demo.index.snapshot()
    demo.registry.create_closure(feature("a-over"), ADMIN)
    patch_closure(demo, YANGJIA, {"road": "杨家巷"})
    snapshot = demo.index.snapshot()
    expected = sorted(["b-base", "a-over", GONGHE, NANXIAO, YANGJIA])
    assert [e.id for e in snapshot.entries()] == expected
    assert [e.id for e in snapshot.select(area=box(101.78, 36.60, 101.81, 36.62))] == expected


def test_deleted_closures_disappear_from_the_snapshot(demo):
    demo.index.snapshot()
    demo.registry.delete_closure(GONGHE, ADMIN, current(demo, GONGHE))
    snapshot = demo.index.snapshot()
    assert snapshot.overlay[GONGHE] is None
    assert snapshot.get(GONGHE) is None
    assert GONGHE not in [e.id for e in snapshot.entries()] and len(snapshot) == 2
    assert GONGHE not in [e.id for e in snapshot.select(area=box(101.78, 36.60, 101.81, 36.62))]
    assert GONGHE not in [e.id for e in snapshot.select(road="东关")]
    assert GONGHE not in [e.id for e in snapshot.candidates(box(101.78, 36.60, 101.81, 36.62))]


def test_moved_closure_is_found_only_where_it_is_now(demo):
    demo.index.snapshot()
    patch_closure(demo, YANGJIA, {}, {"type": "LineString", "coordinates": [[101.70, 36.50], [101.71, 36.51]]})
    snapshot = demo.index.snapshot()
    assert YANGJIA not in [e.id for e in snapshot.select(area=box(101.80, 36.60, 101.81, 36.62))]
    assert [e.id for e in snapshot.select(area=box(101.69, 36.49, 101.72, 36.52))] == [YANGJIA]


# ---------------------------------------------------------------------------- Entry.status cache

SCHEDULES = {
    "plain": {"windows": [{"start": "2024-04-12", "end": "2024-06-04"}]},
    "phased": {"windows": [{"start": "2024-04-01", "end": "2024-04-20"}, {"start": "2024-05-01", "end": None}],
               "pauses": [{"start": "2024-05-10", "end": "2024-05-12"}]},
    "nights": {"windows": [{"start": "2024-03-01", "end": "2024-04-30"}],
               "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "06:00"}]},
    "weekends": {"windows": [{"start": "2024-03-01", "end": None}],
                 "pauses": [{"start": "2024-03-20", "end": "2024-03-22"}],
                 "hours": [{"days": ["sat", "sun"], "start": "08:00", "end": "18:00"}]},
}


@pytest.fixture
def entries(second_project):
    """Entries with varied schedules, in Xining and in a zone with daylight saving (New York)."""
    reg = second_project.registry
    for name, schedule in SCHEDULES.items():
        reg.create_closure(feature(f"cn-{name}", schedule=schedule), ADMIN)
        reg.create_closure(feature(f"us-{name}", project="second", schedule=schedule), ADMIN)
    reg.create_closure(feature("cn-reopened", actual_start="2024-04-10", actual_end="2024-05-02T10:30:00+08:00"),
                       ADMIN)
    reg.create_closure(feature("cn-cancelled", cancelled=True), ADMIN)
    snapshot = second_project.index.snapshot()
    return [e for e in snapshot.entries() if e.id.startswith(("cn-", "us-"))]


def instants_around(entry) -> list[datetime]:
    """Every status change in 2024 and the seconds either side, plus random instants."""
    timeline, out = entry.timeline, []
    t = datetime(2024, 2, 1, tzinfo=UTC)
    while t is not None and t < datetime(2024, 7, 1, tzinfo=UTC):
        out += [t - timedelta(seconds=1), t, t + timedelta(seconds=1)]
        t = timeline.next_change(t)
    rng = random.Random(entry.id)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    out += [start + timedelta(seconds=rng.randrange(400 * 86400)) for _ in range(150)]
    return out


def truth(entry, t):
    return entry.timeline.status_at(t), entry.timeline.next_change(t)


@pytest.mark.parametrize("order", ["forwards", "backwards", "shuffled"])
def test_entry_status_matches_the_timeline_in_any_order(entries, order):
    for entry in entries:
        instants = sorted(instants_around(entry))
        if order == "backwards":
            instants.reverse()
        elif order == "shuffled":
            random.Random(7).shuffle(instants)
        wrong = [(t, entry.status(t), truth(entry, t)) for t in instants if entry.status(t) != truth(entry, t)]
        assert not wrong, (entry.id, wrong[:3])


def test_entry_status_holds_right_up_to_the_next_change(entries):
    for entry in entries:
        t = datetime(2024, 2, 1, tzinfo=UTC)
        status, change = entry.status(t)
        while change is not None and change < datetime(2024, 7, 1, tzinfo=UTC):
            assert entry.status(change - timedelta(microseconds=1)) == (status, change)
            at = change
            status, change = entry.status(at)
            assert (status, change) == truth(entry, at)


def test_entry_status_after_jumping_back_before_the_cached_interval(demo):
    entry = demo.index.snapshot().get(GONGHE)
    assert entry.status(datetime(2024, 5, 20, 4, tzinfo=UTC))[0] == "active"
    assert entry.status(datetime(2024, 4, 11, 4, tzinfo=UTC)) == \
        ("upcoming", datetime(2024, 4, 11, 16, tzinfo=UTC))
    assert entry.status(datetime(2024, 6, 3, 4, tzinfo=UTC)) == ("completed", None)
    assert entry.status(datetime(2024, 5, 30, 15, 59, 59, tzinfo=UTC))[0] == "active"


def test_entry_status_accepts_instants_in_any_offset(demo):
    from zoneinfo import ZoneInfo

    entry = demo.index.snapshot().get(GONGHE)
    utc = entry.status(datetime(2024, 5, 30, 15, 59, 59, tzinfo=UTC))
    local = entry.status(datetime(2024, 5, 31, 0, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert utc[0] == "active" and local[0] == "completed"


# ---------------------------------------------------------------------------- what each audience sees (issue 10)

def test_a_draft_save_moves_the_last_write_but_not_the_last_public_one(demo, clock):
    services = demo
    before = services.index.snapshot()
    assert before.last_public_write_at == before.last_write_at == clock.now
    clock.advance(minutes=5)
    services.registry.create_closure(feature("hidden", publish_at="2024-05-21T08:00:00+08:00"), ADMIN)
    after = services.index.snapshot()  # patched from the overlay
    assert after.last_write_at == clock.now
    assert after.last_public_write_at == before.last_public_write_at
    assert after.last_write_for(ANONYMOUS) == before.last_public_write_at
    assert after.last_write_for(ADMIN) == clock.now
    assert services.index.rebuild().last_public_write_at == before.last_public_write_at  # a full build agrees


def test_an_answer_lifetime_ignores_what_the_asker_cannot_see(demo, clock):
    from roadworks.answers import lifetime

    services = demo
    publish = clock.now + timedelta(seconds=30)
    services.registry.create_closure(feature("hidden", publish_at=publish.isoformat()), ADMIN)
    snapshot = services.index.snapshot()
    entries = snapshot.select()
    anonymous, editor = Actor("anon"), Actor("desk", role="editor", agency=AGENCY)
    shown = [e for e in entries if e.id != "hidden"]
    public_life = lifetime(snapshot, entries, anonymous, clock.now)
    assert public_life.expires_at == publish  # our caches still expire then
    assert public_life.max_age_until == lifetime(snapshot, shown, anonymous, clock.now).max_age_until != publish
    assert lifetime(snapshot, entries, editor, clock.now).max_age_until == publish
    assert [e.id for e in index_module.visible(entries, anonymous, clock.now)] == [e.id for e in shown]
    # Once published, the draft's publication counts as a change anyone may see.
    later = publish + timedelta(seconds=1)
    assert lifetime(snapshot, entries, anonymous, later, at=later).changed_at == publish
    assert lifetime(snapshot, entries, anonymous, clock.now, at=clock.now).changed_at == snapshot.last_public_write_at


# ---------------------------------------------------------------------------- the full build's fast path (issue 11)

def every_kind(services) -> None:
    """Closures using every part of the stored form: parts, hours, pauses, actual dates, drafts, cancellation."""
    reg = services.registry
    two_parts = {"type": "MultiLineString", "coordinates": [[[101.7801234, 36.6012345], [101.7823456, 36.6034567]],
                                                            [[101.79, 36.61], [101.791, 36.611], [101.7925, 36.61]]]}
    reg.create_closure({**feature("every-multi", project="second", description="两段 · two parts", detour="via 共和路",
                                  direction="forward", impact="lanes-closed", to="共和路",
                                  schedule=SCHEDULES["weekends"]), "geometry": two_parts}, ADMIN)
    for name, schedule in SCHEDULES.items():
        reg.create_closure(feature(f"every-{name}", [[101.78 + len(name) / 1000, 36.6], [101.79, 36.61]],
                                   schedule=schedule, **{"from": "乐都路"}), ADMIN)
    reg.create_closure(feature("every-reopened", actual_start="2024-04-10",
                               actual_end="2024-05-02T10:30:00+08:00"), ADMIN)
    reg.create_closure(feature("every-cancelled", project="second", cancelled=True), ADMIN)
    reg.create_closure(feature("every-draft-day", publish_at="2024-06-01"), ADMIN)
    reg.create_closure(feature("every-draft-instant", project="second", publish_at="2024-05-21T08:00:00+08:00"),
                       ADMIN)
    reg.create_closure(feature("every-open", schedule={"windows": [{"start": "2024-05-01T06:30:00+08:00",
                                                                    "end": None, "label": "第一期"}]}), ADMIN)


def one_by_one(services) -> dict:
    """Entries as `make_entry` makes them from each stored row, the way every build did before issue 11."""
    from roadworks.documents import closure_from, project_from

    projects = {s.id: project_from(s) for s in services.store.projects()}
    return {s.id: index_module.make_entry(closure_from(s), projects[s.owner], s.seq)
            for s in services.store.closures()}


def same_entry(fast, slow) -> list[str]:
    """What differs between two entries of one closure, over everything the Entry API answers."""
    import shapely

    checks = {
        "id": (fast.id, slow.id), "seq": (fast.seq, slow.seq), "road": (fast.road, slow.road),
        "bounds": (fast.bounds, slow.bounds), "published_at": (fast.published_at, slow.published_at),
        "geom_type": (fast.shape.geom_type, slow.shape.geom_type),
        "coordinates": (shapely.get_coordinates(fast.shape).tolist(), shapely.get_coordinates(slow.shape).tolist()),
        "parts": (shapely.get_num_geometries(fast.shape), shapely.get_num_geometries(slow.shape)),
        "doc": (fast.doc, slow.doc), "closure": (fast.closure, slow.closure), "view": (fast.view, slow.view),
        "project_id": (fast.project_id, slow.view.closure.project), "timeline": (fast.timeline, slow.timeline),
        "statuses": ([fast.status(t) for t in INSTANTS], [slow.status(t) for t in INSTANTS]),
        "last_events": ([fast.last_event(t, t) for t in INSTANTS], [slow.last_event(t, t) for t in INSTANTS]),
        "next_events": ([fast.next_event(t) for t in INSTANTS], [slow.next_event(t) for t in INSTANTS]),
    }
    return [name for name, (a, b) in checks.items() if a != b]


def test_a_full_build_answers_like_entries_made_one_by_one(second_project):
    services = second_project
    every_kind(services)
    built = services.index.rebuild()
    reference = one_by_one(services)
    assert sorted(reference) == [e.id for e in built.entries()]
    differ = {id: same_entry(built.get(id), entry) for id, entry in reference.items()}
    assert not {id: names for id, names in differ.items() if names}
    assert {e.id for e in built.select(project="second")} == {"every-multi", "every-cancelled", "every-draft-instant"}


def test_a_full_build_parses_no_published_closure_until_asked(second_project, monkeypatch):
    from roadworks.documents import Packed

    every_kind(second_project)
    parsed = []
    real = Packed.closure
    monkeypatch.setattr(Packed, "closure", lambda self: parsed.append(self.id) or real(self))
    snapshot = second_project.index.rebuild()
    assert sorted(parsed) == ["every-draft-day", "every-draft-instant"], "drafts: for their publication instant"
    found = [e.id for e in snapshot.select(area=box(101.78, 36.60, 101.80, 36.62), project=PROJECT, road="东关")]
    assert found and len(parsed) == 2, "selecting by area, project and road reads no closure"
    entry = snapshot.get("every-nights")
    view = entry.view
    assert parsed[-1] == "every-nights" and entry.view is view, "parsed once, then kept"
    assert entry.status(INSTANTS[0]) == (entry.timeline.status_at(INSTANTS[0]), entry.timeline.next_change(INSTANTS[0]))
    assert entry.timeline is entry.timeline and len(parsed) == 3


def _held(entry) -> list[str]:
    """The forms an entry holds made from its packed closure (its parsed view, its timeline)."""
    return [slot for slot in ("_made_view", "_made_timeline") if getattr(entry, slot) is not None]


def test_a_whole_city_pass_keeps_parsed_closures_within_the_budget(second_project):
    every_kind(second_project)
    reference = one_by_one(second_project)
    budget = 3 * (index_module.VIEW_BYTES + index_module.TIMELINE_BYTES)
    model = ReadModel(second_project.store, kept_budget=budget)
    snapshot = model.snapshot()
    published = [id for id in reference if not id.startswith("every-draft")]
    for id in published:
        entry = snapshot.get(id)
        assert [entry.status(t) for t in INSTANTS] == [reference[id].status(t) for t in INSTANTS], id
        assert entry.view == reference[id].view, id
    assert 0 < model.kept.used <= budget
    holding = [id for id in published if _held(snapshot.get(id))]
    assert 0 < len(holding) < len(published), "the first ones read were dropped for the last"
    first = snapshot.get(published[0])
    assert not _held(first) and first.view == reference[published[0]].view, "made again when read again"


def test_a_remembered_status_dates_its_answer_without_parsing(second_project, monkeypatch):
    from roadworks.documents import Packed

    every_kind(second_project)
    reference = one_by_one(second_project)
    snapshot = ReadModel(second_project.store, kept_budget=0).snapshot()  # nothing made is kept
    published = [id for id in reference if not id.startswith("every-draft")]
    for t in INSTANTS:
        statuses = [snapshot.get(id).status(t) for id in published]
        parsed = []
        real = Packed.closure
        monkeypatch.setattr(Packed, "closure", lambda self: parsed.append(self.id) or real(self))
        assert [snapshot.get(id).last_event(t, t) for id in published] == \
            [reference[id].last_event(t, t) for id in published]
        assert [snapshot.get(id).status(t) for id in published] == statuses and parsed == []
        monkeypatch.setattr(Packed, "closure", real)


def test_fragments_outlive_the_parsed_closure_they_were_made_from(second_project):
    from roadworks.feeds import FragmentMemo

    every_kind(second_project)
    snapshot = ReadModel(second_project.store, kept_budget=0).snapshot()
    entry, memo, made = snapshot.get("every-nights"), FragmentMemo(), []
    for _ in range(2):
        assert memo.get("kind", entry, "wgs84", None, lambda: made.append(entry.view) or b"part") == b"part"
    assert len(made) == 1 and not _held(entry)
    moved = index_module.make_entry(entry.view.closure, replace(entry.project, name="renamed"), entry.seq, entry.shape)
    memo.get("kind", moved, "wgs84", None, lambda: made.append(moved.view) or b"new")
    assert len(made) == 2, "a project edit (a new project object) makes the part again"


def test_entries_made_the_old_way_still_work(demo):
    from dataclasses import replace

    from roadworks.domain.geometry import to_shape

    entry = demo.index.snapshot().get(GONGHE)
    view = entry.view
    made = index_module.Entry(view, entry.shape, entry.bounds, entry.road, view.closure.timeline(view.project),
                              entry.published_at, entry.seq)
    assert made.id == GONGHE and made.project_id == PROJECT and made.doc == entry.doc
    assert made.status(INSTANTS[1]) == entry.status(INSTANTS[1])
    moved = replace(entry, shape=to_shape({"type": "LineString", "coordinates": [[1.0, 2.0], [3.0, 4.0]]}))
    assert moved.view is view and moved.timeline == entry.timeline and moved.bounds == entry.bounds
    other = replace(entry, timeline=made.timeline, _status=None)
    assert other.timeline is made.timeline


def test_statuses_asked_first_match_and_keep_the_closure_packed(second_project, monkeypatch):
    from roadworks.documents import Packed

    services = second_project
    every_kind(services)
    built = services.index.rebuild()
    parsed = []
    real = Packed.closure
    monkeypatch.setattr(Packed, "closure", lambda self: parsed.append(self.id) or real(self))
    reference = one_by_one(services)
    published = [id for id in reference if not id.startswith("every-draft")]
    for id, slow in reference.items():
        fast = built.get(id)
        assert [fast.status(t) for t in INSTANTS] == [slow.status(t) for t in INSTANTS], id
        assert not _held(fast), "a status keeps its answer, not the closure or schedule it was read from"
    by_statuses = len(parsed)
    for id, slow in reference.items():
        fast = built.get(id)
        assert fast.timeline == slow.timeline and fast.timeline is fast.timeline, id
    assert sorted(parsed[by_statuses:]) == sorted(published), "each timeline made from the packed closure, once"
    assert [built.get(id).view.closure for id in published] == [reference[id].view.closure for id in published]
    assert sorted(parsed[by_statuses:]) == sorted(published), "the closure parsed for a timeline is kept with it"


def test_a_full_build_lets_go_of_what_the_old_base_parsed(second_project):
    every_kind(second_project)
    model = ReadModel(second_project.store)
    old = model.snapshot()
    assert old.get("every-nights").view is not None and len(model.kept) == 1
    budget = model.kept
    fresh = model.rebuild()
    assert model.kept is not budget and len(model.kept) == 0 and fresh.get("every-nights").view is not None
    assert len(model.kept) == 1 and old.get("every-plain").view is not None and len(model.kept) == 1
