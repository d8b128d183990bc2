"""A catalogue of bad requests: each is refused with a 4xx application/problem+json and changes nothing.

Every refusal is checked for the RFC 9457 members (type, title, status, detail), for validation
failures the exact field path in `errors` with a phrase of the reason, and a database snapshot
taken before and after the request (nothing may be written by a refused request).
"""

from __future__ import annotations

import base64
import json

import pytest

CLOSURES = "/api/v1/closures"
PROBLEM = "application/problem+json"
GEOMETRY = {"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]}


# ---------------------------------------------------------------------------- helpers

def assert_problem(response, status: int, field: str | None = None, phrase: str | None = None) -> dict:
    """The response is an RFC 9457 problem with `status`; `field` (if given) names `phrase` in errors."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    for member in ("type", "title", "status", "detail"):
        assert member in body, f"problem lacks {member!r}: {body}"
    assert body["status"] == status
    assert isinstance(body["detail"], str) and isinstance(body["title"], str)
    if field is not None:
        errors = body.get("errors") or {}
        assert field in errors, f"errors do not name {field!r}: {errors}"
        if phrase is not None:
            text = " ".join(errors[field]).casefold()
            assert phrase.casefold() in text, f"{phrase!r} not in errors[{field!r}] = {errors[field]}"
    elif phrase is not None:
        assert phrase.casefold() in body["detail"].casefold(), body["detail"]
    return body


@pytest.fixture
def unchanged(snapshot):
    """Send a request and prove the database holds exactly what it held before."""

    def run(send):
        before = snapshot()
        response = send()
        assert snapshot() == before, "a refused request changed the database"
        return response

    return run


@pytest.fixture
def post_closure(client, auth, editor_token, project, unchanged):
    """POST to /closures as the bureau's editor: a dict as JSON, or raw bytes/text as given."""

    def post(body, content_type: str | None = "application/json", token: str | None = None):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = auth(token or editor_token)
        return unchanged(lambda: client.post(CLOSURES, data=data, headers=headers, content_type=content_type))

    return post


@pytest.fixture
def saved(client, auth, editor_token, project, closure_body):
    """A stored closure `c1` and its ETag."""
    response = client.post(CLOSURES, json=closure_body("c1"), headers=auth(editor_token))
    assert response.status_code == 201, response.json
    return response.headers["ETag"]


def feature(closure_body, **changes):
    """closure_body() with top-level members replaced (geometry, type, ...)."""
    body = closure_body()
    body.update(changes)
    return body


def schedule(*windows, **rest):
    return {"windows": list(windows), **rest}


# ---------------------------------------------------------------------------- the body as bytes

def test_invalid_json_is_400(post_closure):
    assert_problem(post_closure('{"type": "Feature", '), 400, phrase="not valid JSON")


def test_text_plain_is_415(post_closure, closure_body):
    assert_problem(post_closure(json.dumps(closure_body()), content_type="text/plain"), 415,
                   phrase="application/json")


def test_missing_content_type_is_415(post_closure, closure_body):
    assert_problem(post_closure(json.dumps(closure_body()), content_type=None), 415)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_400(post_closure, closure_body, literal):
    assert_problem(post_closure(f"[{literal}]"), 400, phrase=literal.lstrip("-"))
    text = json.dumps(closure_body()).replace("101.7905", literal)
    assert literal in text
    assert_problem(post_closure(text), 400, phrase=literal.lstrip("-"))


def test_overflowing_number_literal_is_a_field_error(post_closure, closure_body):
    # 1e999 parses to inf in Python without any NaN/Infinity literal.
    text = json.dumps(closure_body()).replace("101.7905", "1e999")
    assert_problem(post_closure(text), 422, "geometry.coordinates[0]", "finite")


def test_non_utf8_body_is_400(post_closure, closure_body):
    body = closure_body(road="Straße", **{"from": "Hauptstraße", "to": "Ring"})
    latin1 = json.dumps(body, ensure_ascii=False).encode("latin-1")
    assert_problem(post_closure(latin1), 400, phrase="UTF-8")
    assert_problem(post_closure(b"\xff\xfe{}"), 400, phrase="UTF-8")


def test_body_over_the_size_limit_is_413(post_closure, closure_body):
    body = json.dumps(closure_body(description="x" * (2 * 1024 * 1024 + 1)))
    assert_problem(post_closure(body), 413)


@pytest.mark.parametrize("levels", [100, 100_000])
def test_deeply_nested_json_is_400(post_closure, closure_body, levels):
    text = json.dumps(closure_body(description="HOLE")).replace('"HOLE"', "[" * levels + "]" * levels)
    assert_problem(post_closure(text), 400, phrase="nested too deeply")


def test_bare_deep_array_is_400(post_closure):
    assert_problem(post_closure("[" * 100_000), 400)


def test_body_that_is_not_an_object_is_422(post_closure):
    assert_problem(post_closure([1, 2]), 422, "$", "JSON object")


# ---------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("geometry, field, phrase", [
    ({"type": "Polygon", "coordinates": [[[101.79, 36.61], [101.80, 36.61], [101.80, 36.62], [101.79, 36.61]]]},
     "geometry.type", "LineString or MultiLineString"),
    ({"type": "Point", "coordinates": [101.79, 36.61]}, "geometry.type", "'Point' is not accepted"),
    ({"coordinates": [[101.79, 36.61], [101.80, 36.61]]}, "geometry.type", "is required"),
    ({"type": "LineString"}, "geometry.coordinates", "is required"),
    ({**GEOMETRY, "crs": {"type": "name"}}, "geometry.crs", "not allowed"),
    ({"type": "LineString", "coordinates": [[200, 36.6116], [101.7975, 36.6113]]},
     "geometry.coordinates[0]", "longitude 200 is out of range"),
    ({"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7975, -91]]},
     "geometry.coordinates[1]", "latitude -91 is out of range"),
    ({"type": "LineString", "coordinates": [[36.6116, 101.7905], [36.6113, 101.7975]]},
     "geometry.coordinates", "swapped"),
    ({"type": "LineString", "coordinates": [[101.7905, 36.6116]]}, "geometry.coordinates", "two distinct points"),
    ({"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7905, 36.6116]]},
     "geometry.coordinates", "two distinct points"),
    ({"type": "MultiLineString", "coordinates": [[[101.79, 36.61], [101.80, 36.61]], [[101.79, 36.61]]]},
     "geometry.coordinates[1]", "two distinct points"),
    ({"type": "MultiLineString", "coordinates": []}, "geometry.coordinates", "non-empty"),
    ({"type": "LineString", "coordinates": "101.79,36.61"}, "geometry.coordinates", "array of positions"),
    ({"type": "LineString", "coordinates": [[101.79, True], [101.80, 36.61]]},
     "geometry.coordinates[0]", "latitude must be a number"),
    ({"type": "LineString", "coordinates": [[101.79], [101.80, 36.61]]},
     "geometry.coordinates[0]", "2 or 3 numbers"),
    ({"type": "LineString", "coordinates": [[-70.0, 40.0], [-70.1, 40.1]]},
     "geometry.coordinates[0]", "outside the service area"),
    (None, "geometry", "null"),
], ids=["polygon", "point", "no-type", "no-coordinates", "crs", "longitude-range", "latitude-range", "swapped",
        "single-point", "two-identical-points", "multi-part-single-point", "multi-empty", "coordinates-text",
        "boolean-coordinate", "one-number", "outside-service-area", "null"])
def test_bad_geometry_is_422(post_closure, closure_body, geometry, field, phrase):
    assert_problem(post_closure(feature(closure_body, geometry=geometry)), 422, field, phrase)


def test_ten_thousand_and_one_vertices_are_422(post_closure, closure_body):
    coordinates = [[101.79 + i * 1e-6, 36.61] for i in range(10_001)]
    body = feature(closure_body, geometry={"type": "LineString", "coordinates": coordinates})
    assert_problem(post_closure(body), 422, "geometry.coordinates", "10001 vertices")


def test_feature_collection_posted_as_a_closure_is_422(post_closure, closure_body):
    assert_problem(post_closure(feature(closure_body, type="FeatureCollection")), 422, "type")


def test_bad_feature_id_is_422(post_closure, closure_body):
    assert_problem(post_closure(closure_body("has spaces/and slashes")), 422, "id", "letters, digits")


def test_duplicate_feature_id_is_409(post_closure, closure_body, saved):
    assert_problem(post_closure(closure_body("c1")), 409, phrase="exists already")


# ---------------------------------------------------------------------------- schedule and times

@pytest.mark.parametrize("sched, field, phrase", [
    (schedule({"start": "2024-06-04", "end": "2024-04-12"}), "properties.schedule.windows[0].end", "before it starts"),
    (schedule({"start": "2024-05-10T10:00:00+08:00", "end": "2024-05-10T10:00:00+08:00"}),
     "properties.schedule.windows[0].end", "before it starts"),
    (schedule({"start": "2024-05-01", "end": "2024-05-10"}, {"start": "2024-05-05", "end": "2024-05-20"}),
     "properties.schedule.windows[1]", "overlaps window 0"),
    (schedule({"start": "2024-05-01", "end": "2024-05-10"}, pauses=[{"start": "2024-07-01", "end": "2024-07-10"}]),
     "properties.schedule.pauses[0]", "outside every window"),
    (schedule({"start": "2024-05-01", "end": "2024-05-10"}, pauses=[{"start": "2024-05-05", "end": "2024-05-02"}]),
     "properties.schedule.pauses[0].end", "before it starts"),
    (schedule({"start": "2024-02-30"}), "properties.schedule.windows[0].start", "not a real calendar date"),
    (schedule({"start": "2024-13-01"}), "properties.schedule.windows[0].start", "not a real calendar date"),
    (schedule({"start": "2024-05-01T10:00:00"}), "properties.schedule.windows[0].start", "needs an offset"),
    (schedule({"start": "next tuesday"}), "properties.schedule.windows[0].start", "RFC 3339"),
    (schedule({"start": 20240501}), "properties.schedule.windows[0].start", "RFC 3339"),
    (schedule({"end": "2024-05-10"}), "properties.schedule.windows[0].start", "Missing data"),
    (schedule(), "properties.schedule.windows", "between 1 and"),
    ({"windows": {}}, "properties.schedule.windows", "Not a valid list"),
    ({}, "properties.schedule.windows", "Missing data"),
    ("soon", "properties.schedule", "Invalid input type"),
], ids=["end-before-start", "end-equals-start", "overlapping-windows", "pause-outside-windows",
        "pause-end-before-start", "feb-30", "month-13", "naive-date-time", "prose-date", "number-date",
        "window-without-start", "empty-windows", "windows-object", "no-windows", "schedule-text"])
def test_bad_schedule_is_422(post_closure, closure_body, sched, field, phrase):
    assert_problem(post_closure(closure_body(schedule=sched)), 422, field, phrase)


@pytest.mark.parametrize("hours, field, phrase", [
    ({"days": ["mon", "mon"], "start": "22:00", "end": "06:00"}, "properties.schedule.hours[0].days", "listed twice"),
    ({"days": ["mon"], "start": "25:00", "end": "06:00"}, "properties.schedule.hours[0].start", "HH:MM"),
    ({"days": ["mon"], "start": "22:00", "end": "6:00"}, "properties.schedule.hours[0].end", "HH:MM"),
    ({"days": ["mon"], "start": "22:00", "end": "22:00"}, "properties.schedule.hours[0].end", "equals start"),
    ({"days": ["mon"], "start": "24:00", "end": "06:00"}, "properties.schedule.hours[0].start", "before 24:00"),
    ({"days": ["monday"], "start": "22:00", "end": "06:00"}, "properties.schedule.hours[0].days[0]", "one of"),
    ({"days": [], "start": "22:00", "end": "06:00"}, "properties.schedule.hours[0].days", "length"),
    ({"start": "22:00", "end": "06:00"}, "properties.schedule.hours[0].days", "Missing data"),
], ids=["day-twice", "hour-25", "one-digit-hour", "start-equals-end", "start-24", "day-name", "no-days",
        "days-missing"])
def test_bad_hours_are_422(post_closure, closure_body, hours, field, phrase):
    sched = schedule({"start": "2024-05-01", "end": "2024-05-31"}, hours=[hours])
    assert_problem(post_closure(closure_body(schedule=sched)), 422, field, phrase)


def test_reopening_before_the_works_began_is_422(post_closure, closure_body):
    body = closure_body(actual_start="2024-04-15", actual_end="2024-04-10")
    assert_problem(post_closure(body), 422, "properties.actual_end", "after the works began")


@pytest.mark.parametrize("props, field", [
    ({"schedule": schedule({"start": "0001-01-01", "end": "2024-06-04"})}, "properties.schedule.windows[0].start"),
    ({"schedule": schedule({"start": "1899-12-31", "end": "2024-06-04"})}, "properties.schedule.windows[0].start"),
    ({"schedule": schedule({"start": "2024-04-12", "end": "9999-12-31"})}, "properties.schedule.windows[0].end"),
    ({"schedule": schedule({"start": "2024-04-12", "end": "9999-12-31T23:59:59+00:00"})},
     "properties.schedule.windows[0].end"),
    ({"schedule": schedule({"start": "2024-04-12", "end": "2200-01-01T00:00:00Z"})},
     "properties.schedule.windows[0].end"),
    ({"actual_start": "0001-01-01"}, "properties.actual_start"),
    ({"publish_at": "9999-12-31T23:59:59Z"}, "properties.publish_at"),
], ids=["year-1-start", "year-1899-start", "year-9999-date-end", "late-9999-date-time-end", "year-2200-end",
        "year-1-actual-start", "year-9999-publish-at"])
def test_dates_beyond_the_supported_years_are_422_not_500(post_closure, closure_body, props, field):
    # These once overflowed datetime arithmetic in the schedule and answered 500.
    assert_problem(post_closure(closure_body(**props)), 422, field, "between the years 1900 and 2199")


# ---------------------------------------------------------------------------- members and types

def test_unknown_top_level_member_is_422(post_closure, closure_body):
    assert_problem(post_closure(feature(closure_body, colour="red")), 422, "colour", "unknown field")


def test_unknown_property_is_422(post_closure, closure_body):
    assert_problem(post_closure(closure_body(colour="red")), 422, "properties.colour", "unknown field")


def test_unknown_window_member_is_422(post_closure, closure_body):
    sched = schedule({"start": "2024-04-12", "end": "2024-06-04"}, {"start": "2024-06-10", "colour": "red"})
    assert_problem(post_closure(closure_body(schedule=sched)), 422,
                   "properties.schedule.windows[1].colour", "unknown field")


def test_unknown_schedule_member_is_422(post_closure, closure_body):
    sched = schedule({"start": "2024-04-12"}, holidays=[])
    assert_problem(post_closure(closure_body(schedule=sched)), 422, "properties.schedule.holidays", "unknown field")


def test_ten_thousand_character_road_name_is_422(post_closure, closure_body):
    assert_problem(post_closure(closure_body(road="路" * 10_000)), 422, "properties.road", "Length")


def test_empty_road_name_is_422(post_closure, closure_body):
    assert_problem(post_closure(closure_body(road="")), 422, "properties.road", "Length")


@pytest.mark.parametrize("props, field, phrase", [
    ({"road": 5}, "properties.road", "Not a valid string"),
    ({"road": None}, "properties.road", "null"),
    ({"from": ["乐都路"]}, "properties.from", "Not a valid string"),
    ({"description": {"text": "x"}}, "properties.description", "Not a valid string"),
    ({"cancelled": [True]}, "properties.cancelled", "Not a valid boolean"),
    ({"schedule": {"windows": {}}}, "properties.schedule.windows", "Not a valid list"),
    ({"publish_at": 1716184800}, "properties.publish_at", "RFC 3339"),
], ids=["road-number", "road-null", "from-array", "description-object", "cancelled-array", "windows-object",
        "publish-at-number"])
def test_wrong_types_are_422(post_closure, closure_body, props, field, phrase):
    assert_problem(post_closure(closure_body(**props)), 422, field, phrase)


@pytest.mark.parametrize("value", ["yes", "true", 1, 0], ids=["yes", "true-text", "one", "zero"])
def test_non_boolean_cancelled_is_422(post_closure, closure_body, value):
    assert_problem(post_closure(closure_body(cancelled=value)), 422, "properties.cancelled", "boolean")


def test_missing_project_is_422(post_closure, closure_body):
    body = closure_body()
    del body["properties"]["project"]
    assert_problem(post_closure(body), 422, "properties.project", "Missing data")


def test_unknown_project_is_422(post_closure, closure_body):
    assert_problem(post_closure(closure_body(project="no-such-project")), 422, "properties.project",
                   "no project 'no-such-project'")


@pytest.mark.parametrize("props, field", [
    ({"direction": "northbound"}, "properties.direction"),
    ({"direction": "BOTH"}, "properties.direction"),
    ({"impact": "apocalyptic"}, "properties.impact"),
    ({"impact": "lanes_closed"}, "properties.impact"),
], ids=["direction", "direction-case", "impact", "impact-underscore"])
def test_bad_enums_are_422(post_closure, closure_body, props, field):
    assert_problem(post_closure(closure_body(**props)), 422, field, "Must be one of")


def test_missing_properties_is_422(post_closure, closure_body):
    body = closure_body()
    del body["properties"]
    assert_problem(post_closure(body), 422, "properties", "Missing data")


def test_lone_surrogate_in_text_is_refused(post_closure, closure_body):
    text = json.dumps(closure_body(road="ROAD")).replace("ROAD", "\\ud800")
    assert "surrogate" in assert_problem(post_closure(text), 400)["detail"]


def test_nul_character_in_text_is_refused(post_closure, closure_body):
    text = json.dumps(closure_body(road="ROAD")).replace("ROAD", "a\\u0000b")
    assert_problem(post_closure(text), 422, "properties.road")


# ---------------------------------------------------------------------------- text is data, not code

@pytest.mark.parametrize("name, text", [
    ("sql", "'); DROP TABLE closures;--"), ("script", "<script>alert(1)</script>"),
    ("attribute", "\" onmouseover=\"alert(1)"), ("quote", "Robert'); --"), ("template", "{{7*7}} ${7*7} %s %n"),
])
def test_sql_and_markup_in_text_are_stored_verbatim(client, auth, editor_token, project, closure_body, name, text):
    props = {"road": text, "from": text, "to": text, "description": text, "detour": text}
    response = client.post(CLOSURES, json=closure_body(f"hostile-{name}", **props), headers=auth(editor_token))
    assert response.status_code == 201, response.json
    assert {k: response.json["properties"][k] for k in props} == props
    got = client.get(f"{CLOSURES}/hostile-{name}")
    assert got.status_code == 200
    assert {k: got.json["properties"][k] for k in props} == props
    listed = client.get(CLOSURES, query_string={"road": text[:20]})
    assert [f["id"] for f in listed.json["features"]] == [f"hostile-{name}"]
    assert listed.json["features"][0]["properties"]["road"] == text


def test_refused_import_changes_nothing(client, auth, editor_token, project, closure_body, unchanged):
    body = {"type": "FeatureCollection",
            "features": [closure_body("imp-1"), closure_body("imp-2", road="")]}
    response = unchanged(lambda: client.post("/api/v1/import", json=body, headers=auth(editor_token)))
    assert_problem(response, 422, "features[1].properties.road", "Length")


def test_refused_import_leaves_no_trace_in_later_reads(client, auth, editor_token, project, closure_body):
    body = {"type": "FeatureCollection",
            "features": [closure_body("ghost", road="旧名"), closure_body("ghost-2", road="")]}
    assert client.post("/api/v1/import", json=body, headers=auth(editor_token)).status_code == 422
    created = client.post(CLOSURES, json=closure_body("ghost", road="新名"), headers=auth(editor_token))
    assert created.status_code == 201
    assert created.json["properties"]["road"] == "新名"
    assert client.get(f"{CLOSURES}/ghost").json["properties"]["road"] == "新名"


# ---------------------------------------------------------------------------- projects

def test_unknown_time_zone_on_a_project_is_422(client, auth, editor_token, project_body, unchanged):
    body = dict(project_body, timezone="Mars/Olympus_Mons")
    response = unchanged(lambda: client.post("/api/v1/projects", json=body, headers=auth(editor_token)))
    assert_problem(response, 422, "timezone", "unknown IANA time zone")


@pytest.mark.parametrize("zone", ["asia/shanghai", "", "UTC+8", "../../etc/passwd"])
def test_malformed_time_zones_are_422(client, auth, editor_token, project_body, unchanged, zone):
    body = dict(project_body, timezone=zone)
    response = unchanged(lambda: client.post("/api/v1/projects", json=body, headers=auth(editor_token)))
    assert_problem(response, 422, "timezone")


def test_project_pause_ending_before_it_starts_is_422(client, auth, editor_token, project_body, unchanged):
    body = dict(project_body, pauses=[{"start": "2024-08-31", "end": "2024-06-01"}])
    response = unchanged(lambda: client.post("/api/v1/projects", json=body, headers=auth(editor_token)))
    assert_problem(response, 422, "pauses[0].end", "before it starts")


def test_unknown_project_member_is_422(client, auth, editor_token, project_body, unchanged):
    body = dict(project_body, budget=1_000_000)
    response = unchanged(lambda: client.post("/api/v1/projects", json=body, headers=auth(editor_token)))
    assert_problem(response, 422, "budget", "unknown field")


# ---------------------------------------------------------------------------- query parameters

def _nested_cursor(levels: int) -> str:
    return base64.urlsafe_b64encode(b"[" * levels).decode().rstrip("=")


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("query, field, phrase", [
    ("bbox=101.78,36.60,101.81", "bbox", "3 values"),
    ("bbox=101.78,36.60,101.81,36.62,5", "bbox", "5 values"),
    ("bbox=west,south,east,north", "bbox", "is not a number"),
    ("bbox=101.81,36.60,101.78,36.62", "bbox", "minLon 101.81 is greater than maxLon"),
    ("bbox=101.78,36.62,101.81,36.60", "bbox", "minLat 36.62 is greater than maxLat"),
    ("bbox=-181,36.60,101.81,36.62", "bbox", "out of range"),
    ("bbox=101.78,36.60,101.81,91", "bbox", "out of range"),
    ("bbox=nan,36.60,101.81,36.62", "bbox", "finite"),
    ("at=yesterday", "at", "RFC 3339"),
    ("at=2024-05-20", "at", "RFC 3339"),
    ("at=2024-05-20T12:00:00", "at", "offset"),
    ("at=2024-02-30T12:00:00%2B08:00", "at", "RFC 3339"),
    ("updated_since=2024-05-20T12:00:00", "updated_since", "offset"),
    ("status=closed", "status", "unknown status closed"),
    ("status=active,finished", "status", "unknown status finished"),
    ("status=", "status", "unknown status"),
    ("limit=0", "limit", "greater than or equal to 1"),
    ("limit=1001", "limit", "less than or equal to 1000"),
    ("limit=x", "limit", "Not a valid integer"),
    ("limit=-5", "limit", "greater than or equal to 1"),
    ("cursor=garbage!!", "cursor", "not a cursor"),
    ("cursor=" + _cursor({"after": 5}), "cursor", "not a cursor"),
    ("cursor=" + _cursor([1, 2]), "cursor", "not a cursor"),
    ("project=has%20spaces", "project", "not match"),
], ids=lambda v: v if isinstance(v, str) and "=" in v and len(v) < 40 else None)
def test_bad_query_values_are_400(client, unchanged, project, query, field, phrase):
    response = unchanged(lambda: client.get(f"{CLOSURES}?{query}"))
    assert_problem(response, 400, field, phrase)


@pytest.mark.parametrize("path", [CLOSURES, f"{CLOSURES}/c1"])
def test_unknown_query_parameter_is_400(client, saved, unchanged, path):
    response = unchanged(lambda: client.get(f"{path}?colour=red"))
    assert_problem(response, 400, "colour", "unknown")


def test_deeply_nested_cursor_is_400(client, unchanged, project):
    response = unchanged(lambda: client.get(f"{CLOSURES}?cursor={_nested_cursor(150)}"))
    assert_problem(response, 400, "cursor", "not a cursor")
    # Nested deeper, it is refused for its length before anything parses it.
    response = unchanged(lambda: client.get(f"{CLOSURES}?cursor={_nested_cursor(5000)}"))
    assert_problem(response, 400, "query", "MAX_QUERY_BYTES")


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59Z", "9999-12-31T00:00:00%2B00:00", "0001-01-01T00:00:00%2B01:00",
                                "2200-01-01T00:00:00Z"])
def test_at_beyond_the_supported_years_is_400_not_500(client, saved, unchanged, at):
    response = unchanged(lambda: client.get(f"{CLOSURES}?at={at}"))
    assert_problem(response, 400, "at", "between the years 1900 and 2199")


def test_bad_at_on_one_closure_is_400(client, saved, unchanged):
    assert_problem(unchanged(lambda: client.get(f"{CLOSURES}/c1?at=noon")), 400, "at", "RFC 3339")


# ---------------------------------------------------------------------------- resources and preconditions

def test_unknown_closure_is_404(client, project):
    assert_problem(client.get(f"{CLOSURES}/no-such-closure"), 404, phrase="no-such-closure")
    assert_problem(client.get(f"{CLOSURES}/no-such-closure/history"), 404)


def test_unknown_project_is_404(client):
    assert_problem(client.get("/api/v1/projects/no-such-project"), 404)


def test_unknown_path_is_404_problem(client):
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_patching_an_unknown_closure_is_404(client, auth, editor_token, saved, unchanged):
    headers = auth(editor_token, If_Match=saved)
    response = unchanged(lambda: client.patch(f"{CLOSURES}/nope", json={"properties": {"road": "x"}}, headers=headers))
    assert_problem(response, 404)


def test_stale_if_match_is_412(client, auth, editor_token, saved, unchanged):
    first = client.patch(f"{CLOSURES}/c1", json={"properties": {"road": "新路"}},
                         headers=auth(editor_token, If_Match=saved))
    assert first.status_code == 200
    stale = auth(editor_token, If_Match=saved)
    response = unchanged(lambda: client.patch(f"{CLOSURES}/c1", json={"properties": {"road": "旧路"}}, headers=stale))
    assert_problem(response, 412)
    assert_problem(unchanged(lambda: client.delete(f"{CLOSURES}/c1", headers=stale)), 412)
    assert_problem(unchanged(lambda: client.put(f"{CLOSURES}/c1", json={}, headers=stale)), 412)


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_missing_if_match_is_428(client, auth, editor_token, closure_body, saved, unchanged, method):
    send = getattr(client, method)
    kwargs = {} if method == "delete" else {"json": closure_body("c1", road="无条件")}
    response = unchanged(lambda: send(f"{CLOSURES}/c1", headers=auth(editor_token), **kwargs))
    assert_problem(response, 428, phrase="If-Match")


@pytest.mark.parametrize("header", ["garbage", "3", "'3.abc'", '"3.abc", junk'])
def test_malformed_if_match_is_400(client, auth, editor_token, saved, unchanged, header):
    headers = auth(editor_token, If_Match=header)
    response = unchanged(lambda: client.patch(f"{CLOSURES}/c1", json={"properties": {"road": "x"}}, headers=headers))
    assert_problem(response, 400, "If-Match", "not an entity-tag")


@pytest.mark.parametrize("header", ['"abc"', '"3.xyz"', 'W/"elsewhere"'])
def test_well_formed_if_match_of_no_version_is_412(client, auth, editor_token, saved, unchanged, header):
    headers = auth(editor_token, If_Match=header)
    response = unchanged(lambda: client.patch(f"{CLOSURES}/c1", json={"properties": {"road": "x"}}, headers=headers))
    assert_problem(response, 412)


def test_method_not_allowed_is_405_problem(client, editor_token, auth):
    response = client.delete(CLOSURES, headers=auth(editor_token))
    assert_problem(response, 405)
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_write_without_token_is_401(post_closure, closure_body, client, unchanged, project):
    response = unchanged(lambda: client.post(CLOSURES, json=closure_body()))
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_write_for_another_agency_is_403(post_closure, closure_body, other_editor_token):
    assert_problem(post_closure(closure_body(), token=other_editor_token), 403)


def test_bad_token_is_401(post_closure, closure_body):
    assert_problem(post_closure(closure_body(), token="not-a-real-token"), 401)


def test_problems_are_never_cached(post_closure):
    assert post_closure("{").headers["Cache-Control"] == "no-store"
