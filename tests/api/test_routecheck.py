"""POST /api/v1/route-check over HTTP, on the Dongguan Street founding case: windows, drafts, bad input."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from pyproj import Geod

from roadworks.demo import GONGHE, JIANGUO, LEDU, MOSQUE, NANXIAO, YANGJIA

URL = "/api/v1/route-check"
LEDU_GONGHE, LEDU_NANXIAO, YANGJIA_JIANGUO = "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"
# West to east along Dongguan Street, through every crossing of the demo data.
STREET = [[101.7850, 36.6118], NANXIAO, LEDU, MOSQUE, GONGHE, YANGJIA, JIANGUO, [101.8095, 36.6110]]
ROUTE = {"type": "LineString", "coordinates": STREET}
NORTH = {"type": "LineString", "coordinates": [[lon, lat + 0.009] for lon, lat in STREET]}  # about 1 km north


def check(client, headers=None, **body):
    return client.post(URL, json={"route": ROUTE, **body}, headers=headers)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [c["id"] for c in response.json["closures"]]


def assert_problem(response, status, field):
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json["errors"]


# ---------------------------------------------------------------------------- the founding case

def test_on_20_may_at_noon_ledu_gonghe_is_active_for_the_next_two_hours(demo, client):
    response = check(client)
    assert ids(response) == [LEDU_GONGHE]
    body = response.json
    assert (body["from"], body["to"]) == ("2024-05-20T12:00:00+08:00", "2024-05-20T14:00:00+08:00")
    assert body["buffer_m"] == 25
    closure = body["closures"][0]
    assert closure["status"] == "active"
    assert closure["periods"] == [{"start": "2024-05-20T12:00:00+08:00", "end": "2024-05-20T14:00:00+08:00",
                                   "state": "active"}]
    assert (closure["road"], closure["from"], closure["to"]) == ("东关大街", "乐都路", "共和路")
    assert (closure["impact"], closure["direction"]) == ("closed", "both")


def test_the_distance_along_the_route_is_where_the_closure_starts(demo, client):
    closure = check(client).json["closures"][0]
    lons, lats = zip(*STREET[:3])  # the closure begins at Ledu Road, the route's third point
    assert closure["distance_along_route_m"] == pytest.approx(Geod(ellps="WGS84").line_length(lons, lats), abs=1)
    assert closure["distance_along_route_m"] == round(closure["distance_along_route_m"], 1)


def test_in_july_nothing_is_in_effect(demo, client):
    # Ledu-Gonghe reopened on 31 May; the September closures are still beyond the window.
    assert ids(check(client, **{"from": "2024-07-15T12:00:00+08:00"})) == []


def test_the_september_closures_start_at_midnight_inside_a_night_window(demo, client):
    response = check(client, **{"from": "2024-08-31T22:00:00+08:00", "to": "2024-09-01T02:00:00+08:00"})
    assert ids(response) == [LEDU_NANXIAO, YANGJIA_JIANGUO]  # in order along the route, west to east
    for closure in response.json["closures"]:
        assert closure["status"] == "upcoming"  # at `from`
        assert closure["periods"] == [{"start": "2024-09-01T00:00:00+08:00", "end": "2024-09-01T02:00:00+08:00",
                                       "state": "active"}]
    first, second = response.json["closures"]
    assert first["distance_along_route_m"] < second["distance_along_route_m"]


def test_driving_the_other_way_reverses_the_order(demo, client):
    backwards = {"type": "LineString", "coordinates": list(reversed(STREET))}
    response = client.post(URL, json={"route": backwards, "from": "2024-09-02T08:00:00+08:00"})
    assert ids(response) == [YANGJIA_JIANGUO, LEDU_NANXIAO]


def test_a_route_a_kilometre_north_finds_nothing(demo, client):
    for start in ("2024-05-20T12:00:00+08:00", "2024-09-02T12:00:00+08:00"):
        response = client.post(URL, json={"route": NORTH, "from": start, "buffer_m": 500})
        assert ids(response) == []


def test_a_feature_route_and_the_echoed_window(demo, client):
    feature = {"type": "Feature", "properties": {"name": "to the station"}, "geometry": ROUTE}
    response = client.post(URL, json={"route": feature, "buffer_m": 40, "from": "2024-05-20T04:00:00Z",
                                      "to": "2024-05-20T05:30:00Z"})
    assert ids(response) == [LEDU_GONGHE]
    body = response.json
    assert (body["from"], body["to"], body["buffer_m"]) == \
        ("2024-05-20T12:00:00+08:00", "2024-05-20T13:30:00+08:00", 40)
    assert 2000 < body["route_length_m"] < 2300


def test_feature_url_leads_to_the_closure(demo, client):
    url = check(client).json["closures"][0]["feature_url"]
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200 and response.json["id"] == LEDU_GONGHE


def test_the_window_defaults_from_the_clock(demo, client, clock):
    clock.advance(days=105)  # 2024-09-02 12:00 in Xining
    assert ids(check(client)) == [LEDU_NANXIAO, YANGJIA_JIANGUO]


# ---------------------------------------------------------------------------- paused, cancelled, drafts

@pytest.fixture
def add_closure(demo, client, auth, editor_token, closure_body):
    def add(id, **props):
        response = client.post("/api/v1/closures", json=closure_body(id, **props), headers=auth(editor_token))
        assert response.status_code == 201, response.json
    return add


def test_a_paused_closure_counts_with_its_paused_period(add_closure, client):
    add_closure("dongguan-long", schedule={"windows": [{"start": "2024-04-01", "end": "2024-10-31"}]})
    response = check(client, **{"from": "2024-08-31T20:00:00+08:00", "to": "2024-09-01T04:00:00+08:00"})
    assert "dongguan-long" in ids(response)
    closure = next(c for c in response.json["closures"] if c["id"] == "dongguan-long")
    assert closure["status"] == "paused"
    assert closure["periods"] == [
        {"start": "2024-08-31T20:00:00+08:00", "end": "2024-09-01T00:00:00+08:00", "state": "paused"},
        {"start": "2024-09-01T00:00:00+08:00", "end": "2024-09-01T04:00:00+08:00", "state": "active"}]


def test_a_cancelled_closure_never_matches(add_closure, client):
    add_closure("dongguan-cancelled", cancelled=True)
    assert "dongguan-cancelled" not in ids(check(client))


def test_drafts_are_hidden_from_anonymous_callers(add_closure, client, auth, editor_token):
    add_closure("dongguan-draft", publish_at="2024-06-01")
    assert "dongguan-draft" not in ids(check(client))
    assert "dongguan-draft" in ids(check(client, headers=auth(editor_token)))


def test_a_bad_token_is_refused(demo, client, auth):
    assert check(client, headers=auth("not-a-token")).status_code == 401


# ---------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("body,field", [
    ({"route": {"type": "Point", "coordinates": [101.79, 36.61]}}, "route.type"),
    ({"route": {"type": "MultiLineString", "coordinates": [STREET]}}, "route.type"),
    ({"route": {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [LEDU, [101.79, "x"]]}}},
     "route.geometry.coordinates[1]"),
    ({"route": "LINESTRING (101.79 36.61, 101.80 36.61)"}, "route"),
    ({"route": {"type": "LineString", "coordinates": [[1.0, 2.0], [1.1, 2.0]]}}, "route.coordinates[0]"),
    ({}, "route"),
    ({"route": ROUTE, "buffer_m": 0}, "buffer_m"),
    ({"route": ROUTE, "buffer_m": 501}, "buffer_m"),
    ({"route": ROUTE, "buffer_m": -5}, "buffer_m"),
    ({"route": ROUTE, "buffer_m": "25"}, "buffer_m"),
    ({"route": ROUTE, "buffer_m": True}, "buffer_m"),
    ({"route": ROUTE, "from": "2024-05-20T12:00:00+08:00", "to": "2024-05-20T11:00:00+08:00"}, "to"),
    ({"route": ROUTE, "from": "2024-05-20T12:00:00+08:00", "to": "2024-05-20T12:00:00+08:00"}, "to"),
    ({"route": ROUTE, "to": "2024-05-20T11:00:00+08:00"}, "to"),  # before the default `from`, now
    ({"route": ROUTE, "from": "2024-05-20T12:00:00"}, "from"),
    ({"route": ROUTE, "from": "tomorrow"}, "from"),
    ({"route": ROUTE, "colour": "red"}, "colour"),
])
def test_bad_input_is_a_problem_naming_the_field(demo, client, body, field):
    assert_problem(client.post(URL, json=body), 422, field)


def test_too_many_vertices_are_refused(demo, client):
    many = [[101.70 + i * 1e-5, 36.61] for i in range(5_001)]
    response = client.post(URL, json={"route": {"type": "LineString", "coordinates": many}})
    assert_problem(response, 400, "route.coordinates")  # a cap: 400 naming it (ROUTE_MAX_VERTICES=5000)
    assert "5000" in " ".join(response.json["errors"]["route.coordinates"])


def test_five_thousand_vertices_are_fine(demo, client):
    many = [[101.78 + i * 4e-6, 36.6116] for i in range(5_000)]
    assert ids(client.post(URL, json={"route": {"type": "LineString", "coordinates": many}})) == [LEDU_GONGHE]


def test_invalid_json_and_non_objects_are_problems(demo, client):
    response = client.post(URL, data='{"route": ', content_type="application/json")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert_problem(client.post(URL, json=[ROUTE]), 422, "$")
    assert client.post(URL, data="route", content_type="text/plain").status_code == 415


def test_the_endpoint_is_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json
    assert "post" in spec["paths"]["/api/v1/route-check"]


def test_a_closure_whose_rest_lies_in_a_pause_is_found_paused(client, auth, editor_token, project, closure_body):
    """Completed before the pause (no active instant left), then paused inside the window: still reported."""
    body = closure_body("paused-rest", schedule={
        "windows": [{"start": "2024-06-10", "end": "2024-06-20"}],
        "pauses": [{"start": "2024-06-10", "end": "2024-06-20", "reason": "festival"}]})
    assert client.post("/api/v1/closures", json=body, headers=auth(editor_token)).status_code == 201
    route = {"type": "LineString", "coordinates": [[101.7900, 36.6116], [101.7980, 36.6113]]}
    answer = client.post("/api/v1/route-check", json={
        "route": route, "from": "2024-06-09T23:00:00+08:00", "to": "2024-06-10T02:00:00+08:00"})
    assert answer.status_code == 200, answer.json
    found = {c["id"]: c for c in answer.json["closures"]}
    assert found["paused-rest"]["periods"][0]["state"] == "paused"


# ---------------------------------------------------------------------------- caps and bounded cost (issue 10)

def zigzag(vertices: int, amplitude_m: float, step_m: float, west: float = 101.61, lat: float = 36.625) -> dict:
    """A route swinging `amplitude_m` north and south of `lat` at every vertex, `step_m` further east each time."""
    return {"type": "LineString", "coordinates": [
        [round(west + i * step_m / 89_000, 7), round(lat + (amplitude_m if i % 2 else -amplitude_m) / 111_000, 7)]
        for i in range(vertices)]}


@pytest.fixture(scope="module")
def dense_city():
    """3,000 synthetic closures of the benchmark's city, as a read-model snapshot with statuses cached."""
    from bench import synthetic
    from roadworks.index import Base, Snapshot, make_entry

    projects = {p.id: p for p in synthetic.PROJECTS}
    entries = {c.id: make_entry(c, projects[c.project]) for c in synthetic.closures(3000)}
    return Snapshot(1, Base.build(entries), {}, projects, None)


def peak_mib(work) -> tuple[object, float]:
    """What `work()` returns, and the most memory (MiB) Python and numpy held meanwhile beyond what they held before."""
    import tracemalloc

    tracemalloc.start()
    try:
        outcome = work()
        return outcome, tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()


def city_check(snapshot, route: dict, max_pairs: int):
    from datetime import datetime, timedelta, timezone

    from roadworks.api.routecheck import RouteQuery, affecting
    from roadworks.auth import ANONYMOUS
    from roadworks.config import DEFAULTS
    from roadworks.domain.route import RouteProbe

    at = datetime(2025, 3, 1, 4, tzinfo=timezone.utc)
    query = RouteQuery(route, 500.0, at, at + timedelta(days=DEFAULTS["ROUTE_MAX_WINDOW_DAYS"]))
    probe = RouteProbe(route, 500.0, max_pairs=max_pairs)
    return probe, affecting(snapshot, probe, query, ANONYMOUS, at)


def test_the_largest_route_over_a_dense_city_is_answered_in_bounded_memory(dense_city):
    from roadworks.config import DEFAULTS

    # 5,000 vertices, 3,000 km of zig-zag 600 m wide across the city, 500 m buffer, 31 days: 1.2 million pairs,
    # within the default cap of work. Before the work came in chunks this check held 164 MB (3 MB now).
    route = zigzag(DEFAULTS["ROUTE_MAX_VERTICES"], amplitude_m=300, step_m=20)
    (probe, found), peak = peak_mib(lambda: city_check(dense_city, route, DEFAULTS["ROUTE_MAX_PAIRS"]))
    assert found and 0 < probe.examined <= DEFAULTS["ROUTE_MAX_PAIRS"]
    assert peak < 100, f"{peak:.0f} MiB"  # the unchunked check allocated gigabytes for such routes


def test_a_route_past_the_work_cap_stops_early_in_bounded_memory(dense_city):
    from roadworks.domain.route import TooMuchWork

    # Tightly folded: every closure segment near it meets the boxes of hundreds of route segments.
    route = zigzag(5000, amplitude_m=2000, step_m=6)
    cap = 300_000

    def attempt():
        with pytest.raises(TooMuchWork) as refused:
            city_check(dense_city, route, cap)
        return refused.value

    refused, peak = peak_mib(attempt)
    assert refused.cap == cap
    assert peak < 100, f"{peak:.0f} MiB"


def test_the_work_counted_stops_at_the_cap(dense_city):
    from roadworks.domain.route import QUERY_PAIRS, RouteProbe, TooMuchWork

    route = zigzag(5000, amplitude_m=2000, step_m=6)
    probe = RouteProbe(route, 500.0, max_pairs=100_000)
    with pytest.raises(TooMuchWork):
        probe.meets_all([e.shape for e in dense_city.base.order])
    # It stops at the first chunk that passes the cap: at most one query's answer beyond it.
    assert 100_000 < probe.examined <= 100_000 + QUERY_PAIRS


def test_the_largest_route_is_answered_over_http(demo, client):
    route = zigzag(5000, amplitude_m=40, step_m=5, west=101.785, lat=36.6116)
    response = client.post(URL, json={"route": route, "buffer_m": 500, "from": "2024-05-01T00:00:00+08:00",
                                      "to": "2024-06-01T00:00:00+08:00"})
    assert LEDU_GONGHE in ids(response)


def assert_cap(response, field: str, setting: str, value: int):
    assert_problem(response, 400, field)
    assert f"{setting}={value}" in " ".join(response.json["errors"][field]), response.json


def test_one_vertex_past_the_cap_is_a_400_naming_it(demo, client):
    many = [[101.70 + i * 1e-5, 36.61] for i in range(5_001)]
    assert_cap(client.post(URL, json={"route": {"type": "LineString", "coordinates": many}}),
               "route.coordinates", "ROUTE_MAX_VERTICES", 5000)
    feature = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": many}}
    assert_cap(client.post(URL, json={"route": feature}), "route.geometry.coordinates", "ROUTE_MAX_VERTICES", 5000)


def test_one_day_past_the_window_cap_is_a_400_naming_it(demo, client):
    at_cap = check(client, **{"from": "2024-05-01T00:00:00+08:00", "to": "2024-06-01T00:00:00+08:00"})
    assert ids(at_cap) == [LEDU_GONGHE]
    past = check(client, **{"from": "2024-05-01T00:00:00+08:00", "to": "2024-06-01T00:00:00.000001+08:00"})
    assert_cap(past, "to", "ROUTE_MAX_WINDOW_DAYS", 31)
    assert_cap(check(client, **{"from": "2024-05-01T00:00:00+08:00", "to": "2024-06-02T00:00:00+08:00"}),
               "to", "ROUTE_MAX_WINDOW_DAYS", 31)


def test_the_caps_are_settings(demo, make_app):
    client = make_app(ROUTE_MAX_VERTICES=3, ROUTE_MAX_WINDOW_DAYS=1, ROUTE_MAX_PAIRS=5).test_client()
    assert_cap(client.post(URL, json={"route": ROUTE}), "route.coordinates", "ROUTE_MAX_VERTICES", 3)
    two_points = {"type": "LineString", "coordinates": [STREET[0], STREET[-1]]}
    assert_cap(client.post(URL, json={"route": two_points, "to": "2024-05-21T12:00:01+08:00"}),
               "to", "ROUTE_MAX_WINDOW_DAYS", 1)
    # Dongguan Street's closures lie along the route: more than 5 segment pairs to examine.
    assert_cap(client.post(URL, json={"route": two_points}), "route", "ROUTE_MAX_PAIRS", 5)
    roomy = make_app(ROUTE_MAX_PAIRS=10_000).test_client()
    assert ids(roomy.post(URL, json={"route": two_points})) == [LEDU_GONGHE]
