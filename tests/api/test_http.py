"""HTTP caching and concurrency plumbing: ETags, If-None-Match/304, Cache-Control and the helpers behind them.

The contract: every resource has an ETag, every GET answers If-None-Match with 304, and a response
whose content depends on "now" is never cacheable past the next status change it contains.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from roadworks.api.http import MAX_AGE_CAP, etag_for, required_version, seconds_until
from roadworks.api.problems import Problem

CLOSURES = "/api/v1/closures"
PROJECT = "/api/v1/projects/dongguan-gas-2024"
GET_PATHS = ["/api/v1/projects", PROJECT, f"{PROJECT}/history", CLOSURES, f"{CLOSURES}/c1",
             f"{CLOSURES}/c1/history"]
STRONG_ETAG = re.compile(r'^"[^"\s]+"$')


def max_age(response) -> int:
    match = re.fullmatch(r"(public|private), max-age=(\d+)", response.headers["Cache-Control"])
    assert match, response.headers["Cache-Control"]
    return int(match.group(2))


def local(clock, seconds: float) -> str:
    """The instant `seconds` after the clock, as RFC 3339 in Xining's offset."""
    return (clock.now + timedelta(seconds=seconds)).astimezone(timezone(timedelta(hours=8))).isoformat()


@pytest.fixture
def c1(client, auth, editor_token, project, closure_body):
    """Closure c1: active now (2024-05-20 12:00 local) until the project pause on 1 June."""
    response = client.post(CLOSURES, json=closure_body("c1"), headers=auth(editor_token))
    assert response.status_code == 201, response.json
    return response


@pytest.fixture
def starting_in(client, auth, editor_token, project, closure_body, clock):
    """Create closure `id` whose only window starts `seconds` after the clock."""

    def create(seconds: float, id: str = "soon"):
        sched = {"windows": [{"start": local(clock, seconds), "end": "2024-05-25"}]}
        response = client.post(CLOSURES, json=closure_body(id, schedule=sched), headers=auth(editor_token))
        assert response.status_code == 201, response.json
        assert response.json["properties"]["status"] == "upcoming"
        return response

    return create


# ---------------------------------------------------------------------------- ETags and 304

@pytest.mark.parametrize("path", GET_PATHS)
def test_every_get_has_a_strong_etag(client, c1, path):
    response = client.get(path)
    assert response.status_code == 200
    assert STRONG_ETAG.match(response.headers["ETag"]), response.headers["ETag"]


@pytest.mark.parametrize("path", GET_PATHS)
def test_if_none_match_with_the_current_etag_is_304(client, c1, path):
    first = client.get(path)
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
    assert again.get_data() == b""


@pytest.mark.parametrize("header", ["{tag}", "W/{tag}", '"other", {tag}', "*"])
def test_if_none_match_forms_that_match(client, c1, header):
    tag = client.get(f"{CLOSURES}/c1").headers["ETag"]
    assert client.get(f"{CLOSURES}/c1", headers={"If-None-Match": header.format(tag=tag)}).status_code == 304


def test_if_none_match_with_another_etag_is_200(client, c1):
    response = client.get(f"{CLOSURES}/c1", headers={"If-None-Match": '"1.0000000000000000"'})
    assert response.status_code == 200
    assert response.json["id"] == "c1"


def test_etag_is_the_same_for_the_same_bytes(client, c1):
    first, second = client.get(f"{CLOSURES}/c1"), client.get(f"{CLOSURES}/c1")
    assert first.get_data() == second.get_data()
    assert first.headers["ETag"] == second.headers["ETag"]


def test_etag_of_a_write_is_the_etag_of_the_next_read(client, c1):
    assert client.get(f"{CLOSURES}/c1").headers["ETag"] == c1.headers["ETag"]


def test_etag_names_the_version_for_if_match(client, auth, editor_token, c1):
    tag = client.get(f"{CLOSURES}/c1").headers["ETag"]
    assert tag.startswith('"1.')
    patched = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "绕行"}},
                           headers=auth(editor_token, If_Match=tag))
    assert patched.status_code == 200
    assert patched.headers["ETag"].startswith('"2.')


@pytest.mark.parametrize("path", [CLOSURES, f"{CLOSURES}/c1", f"{CLOSURES}/c1/history"])
def test_etag_changes_after_a_patch(client, auth, editor_token, c1, path):
    before = client.get(path).headers["ETag"]
    tag = client.get(f"{CLOSURES}/c1").headers["ETag"]
    patched = client.patch(f"{CLOSURES}/c1", json={"properties": {"impact": "alternating"}},
                           headers=auth(editor_token, If_Match=tag))
    assert patched.status_code == 200
    after = client.get(path, headers={"If-None-Match": before})
    assert after.status_code == 200
    assert after.headers["ETag"] != before


@pytest.mark.parametrize("path", ["/api/v1/projects", PROJECT, f"{PROJECT}/history"])
def test_project_etag_changes_after_a_patch(client, auth, editor_token, project, path):
    before = client.get(path).headers["ETag"]
    tag = client.get(PROJECT).headers["ETag"]
    patched = client.patch(PROJECT, json={"contact": "0971-12345"}, headers=auth(editor_token, If_Match=tag))
    assert patched.status_code == 200
    after = client.get(path, headers={"If-None-Match": before})
    assert after.status_code == 200
    assert after.headers["ETag"] != before


@pytest.mark.parametrize("path", [f"{CLOSURES}/soon", CLOSURES])
def test_etag_changes_when_the_status_changes_with_time(client, clock, starting_in, path):
    starting_in(10)
    before = client.get(path)
    clock.advance(seconds=11)
    after = client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    feature = after.json if path.endswith("soon") else {f["id"]: f for f in after.json["features"]}["soon"]
    assert feature["properties"]["status"] == "active"


def test_one_closure_stays_304_while_its_status_holds(client, clock, starting_in):
    tag = starting_in(10).headers["ETag"]
    clock.advance(seconds=5)
    assert client.get(f"{CLOSURES}/soon", headers={"If-None-Match": tag}).status_code == 304


def test_closure_list_stays_304_while_nothing_changes(client, clock, c1):
    tag = client.get(CLOSURES).headers["ETag"]
    clock.advance(seconds=5)
    assert client.get(CLOSURES, headers={"If-None-Match": tag}).status_code == 304


def test_status_change_shows_after_a_project_pause_begins(client, clock, c1):
    clock.now = datetime(2024, 5, 31, 15, 59, 50, tzinfo=UTC)  # 10 s before 1 June in Xining
    before = client.get(f"{CLOSURES}/c1")
    assert before.json["properties"]["status"] == "active"
    assert max_age(before) <= 10
    clock.advance(seconds=10)
    after = client.get(f"{CLOSURES}/c1", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.json["properties"]["status"] == "paused"


# ---------------------------------------------------------------------------- Cache-Control

@pytest.mark.parametrize("seconds", [1, 3, 10, 45])
def test_list_max_age_never_outlives_the_next_change(client, c1, starting_in, seconds):
    starting_in(seconds)
    response = client.get(CLOSURES)
    assert response.headers["Cache-Control"].startswith("public, ")
    assert 0 <= max_age(response) <= seconds


def test_list_max_age_ends_at_the_earliest_of_several_changes(client, c1, starting_in):
    starting_in(40, "later")
    starting_in(7, "sooner")
    starting_in(25, "between")
    assert max_age(client.get(CLOSURES)) <= 7


def test_list_max_age_counts_closures_filtered_out_by_status(client, c1, starting_in):
    # `soon` is upcoming, not in ?status=active, but joins that list when it starts.
    starting_in(5)
    response = client.get(CLOSURES, query_string={"status": "active"})
    assert [f["id"] for f in response.json["features"]] == ["c1"]
    assert max_age(response) <= 5


def test_list_max_age_follows_weekly_hours(client, auth, editor_token, project, closure_body, clock):
    sched = {"windows": [{"start": "2024-05-01", "end": "2024-05-31"}],
             "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "06:00"}]}
    response = client.post(CLOSURES, json=closure_body("nightly", schedule=sched), headers=auth(editor_token))
    assert response.status_code == 201
    clock.now = datetime(2024, 5, 20, 13, 59, 30, tzinfo=UTC)  # Monday 21:59:30 in Xining
    before = client.get(CLOSURES)
    assert before.json["features"][0]["properties"]["status"] == "upcoming"
    assert max_age(before) <= 30
    clock.advance(seconds=30)
    assert client.get(CLOSURES).json["features"][0]["properties"]["status"] == "active"


def test_one_closure_max_age_never_outlives_its_next_change(client, starting_in):
    starting_in(8)
    assert max_age(client.get(f"{CLOSURES}/soon")) <= 8


@pytest.mark.parametrize("path", GET_PATHS)
def test_max_age_is_capped(client, c1, path):
    assert 0 <= max_age(client.get(path)) <= MAX_AGE_CAP <= 60


def test_empty_list_is_cacheable_for_at_most_a_minute(client):
    response = client.get(CLOSURES)
    assert response.json["features"] == []
    assert response.headers["Cache-Control"] == f"public, max-age={MAX_AGE_CAP}"


def test_max_age_is_bounded_however_far_the_next_change(client, auth, editor_token, project, closure_body):
    sched = {"windows": [{"start": "2030-01-01", "end": None}]}
    client.post(CLOSURES, json=closure_body("far", schedule=sched), headers=auth(editor_token))
    assert max_age(client.get(CLOSURES)) <= 60


def test_public_list_max_age_does_not_tell_a_draft_is_coming(client, auth, editor_token, project, closure_body,
                                                               clock, c1):
    # Issue 10: max-age used to end at the draft's publish_at, which told the public it existed.
    before = max_age(client.get(CLOSURES))
    draft = closure_body("draft", publish_at=local(clock, 10))
    assert client.post(CLOSURES, json=draft, headers=auth(editor_token)).status_code == 201
    response = client.get(CLOSURES)
    assert [f["id"] for f in response.json["features"]] == ["c1"]
    assert max_age(response) == before


@pytest.mark.parametrize("path", GET_PATHS)
def test_anonymous_gets_are_public(client, c1, path):
    assert client.get(path).headers["Cache-Control"].startswith("public, max-age=")


@pytest.mark.parametrize("path", GET_PATHS)
def test_authenticated_gets_are_private(client, auth, editor_token, c1, path):
    response = client.get(path, headers=auth(editor_token))
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("private, max-age=")
    assert "Authorization" in response.headers["Vary"]
    again = client.get(path, headers=auth(editor_token, If_None_Match=response.headers["ETag"]))
    assert again.status_code == 304
    assert again.headers["Cache-Control"].startswith("private, ")


def test_writes_are_not_marked_cacheable(client, auth, editor_token, project, closure_body):
    response = client.post(CLOSURES, json=closure_body("w"), headers=auth(editor_token))
    assert response.status_code == 201
    assert "max-age" not in response.headers.get("Cache-Control", "")


# ---------------------------------------------------------------------------- etag_for

def test_etag_for_with_a_version():
    tag = etag_for(b'{"a":1}', 7)
    assert re.fullmatch(r'"7\.[0-9a-f]{16}"', tag)


def test_etag_for_without_a_version():
    assert re.fullmatch(r'"[0-9a-f]{16}"', etag_for(b"[]"))


def test_etag_for_depends_on_bytes_and_version():
    assert etag_for(b"x", 1) == etag_for(b"x", 1)
    assert etag_for(b"x", 1) != etag_for(b"y", 1)
    assert etag_for(b"x", 1) != etag_for(b"x", 2)
    assert etag_for(b"x", 0).startswith('"0.')


# ---------------------------------------------------------------------------- required_version

def _version(app, header: str | None):
    headers = {} if header is None else {"If-Match": header}
    with app.test_request_context("/api/v1/closures/c1", method="PATCH", headers=headers):
        return required_version()


@pytest.mark.parametrize("header, expected", [
    ('"3.0123456789abcdef"', 3),
    ('"12.ab"', 12),
    ('"5"', 5),
    (' "3.abc" ', 3),
    ('"3.abc", "3.def"', 3),
    ("*", None),
])
def test_required_version_reads_if_match(app, header, expected):
    assert _version(app, header) == expected


def test_required_version_reads_our_own_etags(app):
    assert _version(app, etag_for(b"body", 42)) == 42


def test_required_version_without_if_match_is_428(app):
    with pytest.raises(Problem) as caught:
        _version(app, None)
    assert caught.value.status == 428


@pytest.mark.parametrize("header", ["3", "garbage", '"3.abc", junk', '"unterminated', '"3"x', ' , ', '"tab\there"'])
def test_required_version_refuses_headers_that_are_not_entity_tags(app, header):
    with pytest.raises(Problem) as caught:
        _version(app, header)
    assert caught.value.status == 400
    assert "If-Match" in caught.value.errors


@pytest.mark.parametrize("header", ['"abc"', '"3.XYZ"', '"-1.ab"', 'W/"other"', '"a,b", ""'])
def test_well_formed_etags_naming_no_version_are_412(app, header):
    # RFC 9110 section 13.1.1: a syntactically valid tag that matches no current representation fails the condition.
    with pytest.raises(Problem) as caught:
        _version(app, header)
    assert caught.value.status == 412


@pytest.mark.parametrize("header, expected", [('"other", "3.abc"', 3), (' , "4.ab" ,', 4), ('"a,b", W/"5.cd"', 5)])
def test_foreign_tags_beside_a_version_leave_the_version(app, header, expected):
    assert _version(app, header) == expected


def test_required_version_refuses_several_versions(app):
    with pytest.raises(Problem) as caught:
        _version(app, '"3.abc", "4.def"')
    assert caught.value.status == 412


# ---------------------------------------------------------------------------- seconds_until

NOON = datetime(2024, 5, 20, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("delta, expected", [
    (timedelta(seconds=10), 10),
    (timedelta(seconds=10.999), 10),
    (timedelta(microseconds=1), 0),
    (timedelta(0), 0),
    (timedelta(seconds=-30), 0),
    (timedelta(days=2), 172_800),
])
def test_seconds_until_rounds_down_and_never_goes_negative(delta, expected):
    assert seconds_until(NOON + delta, NOON) == expected


def test_seconds_until_nothing_is_none():
    assert seconds_until(None, NOON) is None


def test_seconds_until_compares_instants_across_offsets():
    xining = timezone(timedelta(hours=8))
    assert seconds_until(datetime(2024, 5, 20, 12, 0, 9, tzinfo=xining), NOON) == 9


# ---------------------------------------------------------------------------- MAX_QUERY_BYTES

CAPPED_PATHS = ["/api/v1/closures", "/feeds/wzdx.geojson", "/ogc/collections/closures/items"]


def query_of(length: int) -> str:
    """A query string of exactly `length` bytes (percent escapes count as the bytes they are sent as)."""
    head = "road=%E4%B8%9C"
    return head + "a" * (length - len(head))


@pytest.mark.parametrize("path", CAPPED_PATHS)
def test_a_query_string_past_max_query_bytes_is_a_400_naming_the_cap(demo, client, path):
    response = client.get(f"{path}?{query_of(4096 + 1)}")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert "MAX_QUERY_BYTES" in response.json["detail"] and "4096" in response.json["detail"]
    assert response.json["errors"] == {"query": ["longer than MAX_QUERY_BYTES (4096 bytes)"]}


@pytest.mark.parametrize("path", CAPPED_PATHS)
def test_a_query_string_of_exactly_max_query_bytes_reaches_the_view(demo, client, path):
    response = client.get(f"{path}?{query_of(4096)}")  # too long a road name: refused by the view, not the cap
    assert response.status_code in (400, 422), response.status_code
    assert "MAX_QUERY_BYTES" not in response.get_data(as_text=True)


def test_max_query_bytes_comes_from_the_settings_and_is_checked_before_parsing(make_app, demo, monkeypatch):
    from roadworks.api.queries import ApiBlueprint

    parsed = []
    real = ApiBlueprint.ARGUMENTS_PARSER.parse
    monkeypatch.setattr(ApiBlueprint.ARGUMENTS_PARSER, "parse", lambda *a, **k: parsed.append(a) or real(*a, **k))
    client = make_app(MAX_QUERY_BYTES=64).test_client()
    refused = client.get(f"{CLOSURES}?{query_of(65)}")
    assert refused.status_code == 400 and "MAX_QUERY_BYTES is 64" in refused.json["detail"]
    assert parsed == []
    for path in ("/no/such/path", "/api/v1/projects"):  # every path, not only those that read a query
        assert client.get(f"{path}?{query_of(65)}").status_code == 400, path
    assert client.get(f"{CLOSURES}?limit=10").status_code == 200
