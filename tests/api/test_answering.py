"""Every public GET answered once per change and replayed (api/answering.py): `respond`, `written`, `Replay`.

A view builds its answer through `respond`, which keeps it in the AnswerCache by (representation, change
sequence, canonical query, audience) and points the raw request at it; the WSGI `Replay` then answers the
same anonymous request from the cache while the answer holds, recomputing Cache-Control, Last-Modified and
the rate-limit fields, and answering 304 itself. These tests prove replays without timing: the cache's
`get_or_build` is watched (a request that reaches a view calls it; a build runs only on a miss), and
`Replay.__call__` is watched for requests it answered without the app. Whatever is kept, a client must get
what the app would answer now: never a stale status or a draft's absence past its publication, never a
skipped count against its rate limit, never someone else's (token holder's, other coding's, other format's,
other query's) answer.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest

from roadworks.answers import AnswerCache, Key
from roadworks.api import answering
from roadworks.feeds import FragmentMemo
from tests.conftest import rate_remaining

CLOSURES = "/api/v1/closures"
GONGHE, NANXIAO, YANGJIA = "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"
JURISDICTION = "roadworks.invalid"  # the default OPEN511_JURISDICTION
ITEMS, EVENTS = "/ogc/collections/closures/items", "/open511/events"
WZDX, WAZE_JSON, WAZE_XML, ICS = "/feeds/wzdx.geojson", "/feeds/waze.json", "/feeds/waze.xml", "/feeds/closures.ics"
XINING = timezone(timedelta(hours=8))
REOPENING = datetime(2024, 5, 31, tzinfo=XINING)  # Ledu-Gonghe: active -> completed
# Recomputed for each answer (or, like Content-Length, per body), so a replay may differ in these.
VOLATILE = {"cache-control", "last-modified", "date", "retry-after", "ratelimit", "ratelimit-policy",
            "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "content-length",
            "x-request-id"}  # each request's own id (observability.py)

# Every public GET of the demo, each answered through `respond` and so replayed.
PUBLIC_GETS = {
    "closure": f"{CLOSURES}/{GONGHE}",
    "closure at": f"{CLOSURES}/{GONGHE}?at=2024-05-30T12:00:00%2B08:00",
    "projects": "/api/v1/projects",
    "project": "/api/v1/projects/dongguan-gas-2024",
    "closure history": f"{CLOSURES}/{GONGHE}/history",
    "project history": "/api/v1/projects/dongguan-gas-2024/history",
    "ogc landing": "/ogc/",
    "ogc conformance": "/ogc/conformance",
    "ogc collections": "/ogc/collections",
    "ogc collection": "/ogc/collections/closures",
    "ogc items": f"{ITEMS}?limit=2",
    "ogc item": f"{ITEMS}/{GONGHE}",
    "wzdx": WZDX,
    "waze json": WAZE_JSON,
    "waze xml": WAZE_XML,
    "icalendar": ICS,
    "open511 discovery": "/open511/",
    "open511 jurisdictions": "/open511/jurisdictions",
    "open511 jurisdiction": f"/open511/jurisdictions/{JURISDICTION}",
    "open511 geography": f"/open511/jurisdictions/{JURISDICTION}/geography",
    "open511 events": EVENTS,
    "open511 events json": f"{EVENTS}?format=json",
    "open511 event": f"{EVENTS}/{JURISDICTION}/{GONGHE}",
}
# The representations that show closures as they are now (statuses, drafts published or not).
LIVE = {name: PUBLIC_GETS[name] for name in ("closure", "ogc items", "ogc item", "wzdx", "waze json", "waze xml",
                                              "icalendar", "open511 events", "open511 event")}
# Those that show a status, and so change at Ledu-Gonghe's reopening (the feeds keep it as scheduled).
SHOWS_STATUS = {"closure", "ogc items", "ogc item", "open511 events", "open511 event"}


# ---------------------------------------------------------------------------- helpers

@dataclass
class Calls:
    """Requests that reached a view's `respond` (`reached`) and the answers it had to build (`built`)."""

    reached: list[Key] = field(default_factory=list)
    built: list[Key] = field(default_factory=list)

    def builds_of(self, representation: str) -> int:
        return sum(1 for key in self.built if key.representation == representation)


def watch(monkeypatch, services) -> Calls:
    """Watch the app's answer cache: a request replayed by the WSGI layer adds to neither list."""
    calls, cache = Calls(), services.answers
    real = cache.get_or_build

    def spy(key, now, build):
        calls.reached.append(key)
        return real(key, now, lambda: calls.built.append(key) or build())

    monkeypatch.setattr(cache, "get_or_build", spy)
    return calls


@pytest.fixture
def calls(monkeypatch, demo) -> Calls:
    return watch(monkeypatch, demo)


@pytest.fixture
def replayed(monkeypatch) -> list[tuple[str, str, int]]:
    """(path, raw query, status) of every request the WSGI replay answered itself, without the app."""
    seen = []
    real = answering.Replay.__call__

    def spy(self, environ, start_response):
        reached, statuses = [], []
        probe = copy.copy(self)  # the same middleware, with the app behind it watched
        probe.app = lambda env, start: reached.append(1) or self.app(env, start)
        out = real(probe, environ, lambda status, *rest: statuses.append(status) or start_response(status, *rest))
        if not reached:
            seen.append((environ["PATH_INFO"], environ["QUERY_STRING"], int(statuses[0][:3])))
        return out

    monkeypatch.setattr(answering.Replay, "__call__", spy)
    return seen


@pytest.fixture
def pointed(monkeypatch) -> list[tuple]:
    """Every raw request `respond` pointed at a kept answer (so that the replay may find it)."""
    seen = []
    real = AnswerCache.point
    monkeypatch.setattr(AnswerCache, "point", lambda self, request, *a: seen.append(request) or real(self, request, *a))
    return seen


def afresh(client, path: str, headers: dict | None = None):
    """What the app answers now with nothing kept: no answer, no closure fragment."""
    services = client.application.extensions["roadworks"]
    answers, fragments = services.answers, services.fragments
    services.answers, services.fragments = AnswerCache(answers.budget), FragmentMemo()
    try:
        return client.get(path, headers=headers)
    finally:
        services.answers, services.fragments = answers, fragments


def stable(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in VOLATILE}


def max_age(response) -> int:
    match = re.fullmatch(r"public, max-age=(\d+)", response.headers["Cache-Control"])
    assert match, response.headers["Cache-Control"]
    return int(match.group(1))


def ids(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


def budget(response) -> int:
    return rate_remaining(response.headers)


def patch_road(client, auth, token, id: str, road: str) -> None:
    tag = client.get(f"{CLOSURES}/{id}", headers=auth(token)).headers["ETag"]
    response = client.patch(f"{CLOSURES}/{id}", json={"properties": {"road": road}},
                            headers=auth(token, If_Match=tag))
    assert response.status_code == 200, response.json


def roads(response) -> dict[str, str]:
    return {f["id"]: f["properties"]["road"] for f in response.json["features"]}


# ---------------------------------------------------------------------------- replays of the closure list

def test_a_repeated_get_does_not_reach_the_view(client, calls, replayed):
    first = client.get(CLOSURES)
    assert first.status_code == 200 and len(calls.reached) == len(calls.built) == 1
    for _ in range(3):
        again = client.get(CLOSURES)
        assert again.status_code == 200 and again.data == first.data
    assert len(calls.reached) == 1 and replayed == [(CLOSURES, "", 200)] * 3


def test_a_replay_repeats_status_body_and_every_stable_header(client, clock, calls):
    query = {"limit": 1}  # a page with a Link to the next one
    first = client.get(CLOSURES, query_string=query)
    clock.advance(seconds=2)
    again = client.get(CLOSURES, query_string=query)
    assert len(calls.reached) == 1
    assert again.status_code == first.status_code == 200 and again.data == first.data
    assert stable(again) == stable(first)
    assert {"etag", "content-type", "vary", "link"} <= set(stable(first))
    assert again.headers["Content-Length"] == str(len(first.data))
    names = [k.lower() for k in again.headers.keys()]
    assert len(names) == len(set(names))  # nothing both kept and recomputed
    assert {k.lower() for k in again.headers.keys()} == {k.lower() for k in first.headers.keys()} | {"last-modified"}


def test_a_replay_recomputes_last_modified_and_rate_limit_fields(client, clock, calls):
    first = client.get(CLOSURES)
    assert "Last-Modified" not in first.headers  # the demo was written this very second
    clock.advance(seconds=1)
    again = client.get(CLOSURES)
    assert len(calls.reached) == 1
    modified = parsedate_to_datetime(again.headers["Last-Modified"])
    assert modified == clock.now.replace(microsecond=0) - timedelta(seconds=1)
    assert budget(again) == budget(first) - 1
    assert again.headers["RateLimit"] != first.headers["RateLimit"]


def test_with_no_change_known_last_modified_is_the_instant_the_answer_was_built(app, clock):
    client = app.test_client()  # an empty database: no write, no closure, nothing changed that anyone saw
    built = clock.now
    assert "Last-Modified" not in client.get("/api/v1/projects").headers  # not before its second is over
    clock.advance(seconds=3)
    replayed = client.get("/api/v1/projects")
    assert parsedate_to_datetime(replayed.headers["Last-Modified"]) == built.replace(microsecond=0)


def test_a_replays_max_age_shrinks_toward_the_next_change_and_never_passes_it(client, clock, calls):
    clock.now = REOPENING.astimezone(UTC) - timedelta(seconds=50)
    assert max_age(client.get(CLOSURES)) == 50
    for step, expected in ((10, 40), (25, 15), (14.5, 0), (0.4, 0)):
        clock.advance(seconds=step)
        again = client.get(CLOSURES)
        assert max_age(again) == expected, clock.now
        assert clock.now + timedelta(seconds=max_age(again)) <= REOPENING
    assert len(calls.reached) == 1


def test_max_age_is_counted_from_each_request_not_from_the_build(client, clock, calls, auth, editor_token,
                                                                 closure_body):
    clock.now = datetime(2024, 5, 20, 4, 0, 10, tzinfo=UTC)
    starts = clock.now + timedelta(seconds=30)  # between whole minutes, so the minute's turnover does not hide it
    body = closure_body("dongguan-soon", schedule={"windows": [{"start": starts.isoformat(), "end": "2024-06-04"}]})
    assert client.post(CLOSURES, json=body, headers=auth(editor_token)).status_code == 201
    path = f"{CLOSURES}/dongguan-soon"
    assert max_age(client.get(path)) == 30
    editor = client.get(path, headers=auth(editor_token))
    assert editor.headers["Cache-Control"] == "private, max-age=30"
    clock.advance(seconds=10)
    assert max_age(client.get(path)) == 20  # a replay
    assert client.get(path, headers=auth(editor_token)).headers["Cache-Control"] == "private, max-age=20"  # kept
    # one answer each for the public and the agency; the editor's second request reached the view, the public's not
    assert calls.builds_of("public.get_closure") == 2
    assert sum(1 for key in calls.reached if key.representation == "public.get_closure") == 3


# ---------------------------------------------------------------------------- validators

def test_if_none_match_strong_or_weak_gets_a_304_from_the_cache(client, calls, replayed):
    first = client.get(CLOSURES)
    tag = first.headers["ETag"]
    assert not tag.startswith("W/")
    for held in (tag, f"W/{tag}", f'"other", {tag}'):
        response = client.get(CLOSURES, headers={"If-None-Match": held})
        assert response.status_code == 304 and response.data == b"", held
        assert response.headers["ETag"] == tag
        assert response.headers["Vary"] == first.headers["Vary"]
        assert "Cache-Control" in response.headers and "RateLimit" in response.headers
        assert "Content-Type" not in response.headers and "Link" not in response.headers
    assert len(calls.reached) == 1 and [r[2] for r in replayed] == [304] * 3


def test_a_non_matching_etag_gets_the_full_answer_from_the_cache(client, calls):
    first = client.get(CLOSURES)
    response = client.get(CLOSURES, headers={"If-None-Match": '"0123456789abcdef"'})
    assert response.status_code == 200 and response.data == first.data
    assert response.headers["ETag"] == first.headers["ETag"]
    assert len(calls.reached) == 1


def test_if_modified_since_gets_a_304_from_the_cache(client, clock, calls):
    clock.advance(seconds=1)
    first = client.get(CLOSURES)
    modified = first.headers["Last-Modified"]
    clock.advance(seconds=5)
    assert client.get(CLOSURES, headers={"If-Modified-Since": modified}).status_code == 304
    replay = client.get(CLOSURES)
    assert replay.headers.getlist("Last-Modified") == [modified]  # recomputed, not repeated as well
    earlier = "Mon, 20 May 2024 03:00:00 GMT"
    older = client.get(CLOSURES, headers={"If-Modified-Since": earlier})
    assert older.status_code == 200 and older.data == first.data
    # If-None-Match decides when both are sent
    both = client.get(CLOSURES, headers={"If-Modified-Since": modified, "If-None-Match": '"nope"'})
    assert both.status_code == 200 and both.data == first.data
    assert len(calls.reached) == 1


def test_a_304_from_the_app_and_one_from_the_replay_say_the_same(client, clock, calls, replayed):
    clock.advance(seconds=1)
    first = client.get(CLOSURES, query_string={"limit": 10})
    # Another spelling of the same query: the replay does not know it yet, the app answers it.
    from_app = client.get(CLOSURES, query_string={"limit": "010"}, headers={"If-None-Match": first.headers["ETag"]})
    from_replay = client.get(CLOSURES, query_string={"limit": 10}, headers={"If-None-Match": first.headers["ETag"]})
    assert from_app.status_code == from_replay.status_code == 304
    assert len(calls.reached) == 2 and len(calls.built) == 1 and [r[2] for r in replayed] == [304]
    assert from_app.data == from_replay.data == b""
    for name in ("ETag", "Vary", "Cache-Control"):
        assert from_app.headers[name] == from_replay.headers[name], name
    assert "Content-Type" not in from_app.headers and "Content-Type" not in from_replay.headers


def test_a_304_from_the_app_carries_the_same_headers_as_one_from_the_replay(client, clock, calls, replayed):
    clock.advance(seconds=1)
    first = client.get(CLOSURES, query_string={"limit": 10})
    from_app = client.get(CLOSURES, query_string={"limit": "010"}, headers={"If-None-Match": first.headers["ETag"]})
    from_replay = client.get(CLOSURES, query_string={"limit": 10}, headers={"If-None-Match": first.headers["ETag"]})
    assert len(calls.reached) == 2 and [r[2] for r in replayed] == [304]
    assert from_app.headers.get("Last-Modified") == from_replay.headers.get("Last-Modified")
    assert stable(from_app) == stable(from_replay)


def test_a_304_from_the_app_leaves_the_full_answer_for_the_next_asker(client, calls, replayed):
    tag = client.get(CLOSURES).headers["ETag"]
    assert client.get(CLOSURES, headers={"Accept-Encoding": "br", "If-None-Match": tag}).status_code == 304
    assert len(calls.reached) == 2 and replayed == []  # no br copy yet: the app answered (and made one)
    full = client.get(CLOSURES, headers={"Accept-Encoding": "br"})
    assert full.status_code == 200 and full.headers["Content-Encoding"] == "br" and full.data
    assert full.headers["ETag"] == f"W/{tag}"
    assert len(calls.reached) == 2 and len(calls.built) == 1 and replayed == [(CLOSURES, "", 200)]


# ---------------------------------------------------------------------------- staying true

def test_a_write_makes_the_next_get_reach_the_app_and_return_new_content(client, calls, auth, editor_token):
    before = client.get(CLOSURES)
    client.get(CLOSURES)
    assert len(calls.reached) == 1
    patch_road(client, auth, editor_token, NANXIAO, "南小街")
    after = client.get(CLOSURES, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and roads(after)[NANXIAO] == "南小街"
    assert calls.builds_of("public.list_closures") == 2
    reached = len(calls.reached)
    assert client.get(CLOSURES).data == after.data and len(calls.reached) == reached  # the new answer is replayed


def test_a_write_through_another_worker_is_seen_at_once(client, calls, make_app, auth, editor_token):
    """Two apps on one database stand for two worker processes: each keeps its own answers."""
    other = make_app().test_client()
    kept = {path: client.get(path).data for path in LIVE.values()}
    assert all(client.get(path).data == body for path, body in kept.items())
    reached = len(calls.reached)
    tag = other.get(f"{CLOSURES}/{GONGHE}").headers["ETag"]
    patched = other.patch(f"{CLOSURES}/{GONGHE}", json={"properties": {"detour": "经南小街绕行"}},
                          headers=auth(editor_token, If_Match=tag))
    assert patched.status_code == 200
    for path, body in kept.items():
        now = client.get(path)
        assert now.data != body and now.data == afresh(client, path).data, path
    assert len(calls.reached) == reached + len(kept)


def test_a_deleted_closure_is_never_replayed(client, calls, replayed, auth, editor_token):
    paths = [f"{CLOSURES}/{GONGHE}", f"{ITEMS}/{GONGHE}", f"{EVENTS}/{JURISDICTION}/{GONGHE}"]
    for path in paths:
        assert [client.get(path).status_code for _ in range(2)] == [200, 200], path
    assert len(replayed) == len(paths)
    tag = client.get(f"{CLOSURES}/{GONGHE}").headers["ETag"]
    assert client.delete(f"{CLOSURES}/{GONGHE}", headers=auth(editor_token, If_Match=tag)).status_code in (200, 204)
    for path in paths:
        assert [client.get(path).status_code for _ in range(2)] == [404, 404], path
    assert len(replayed) == len(paths) + 1  # only the ETag's lookup, before the deletion


def test_no_stale_status_from_the_cache_across_the_reopening(client, clock, calls):
    clock.now = REOPENING.astimezone(UTC) - timedelta(seconds=2)
    first = client.get(CLOSURES)
    assert GONGHE in ids(first.json)
    tag = first.headers["ETag"]
    seen = []
    for _ in range(12):
        clock.advance(milliseconds=250)
        plain = client.get(CLOSURES)
        conditional = client.get(CLOSURES, headers={"If-None-Match": tag})
        if clock.now < REOPENING:
            assert GONGHE in ids(plain.json) and conditional.status_code == 304, clock.now
            assert clock.now + timedelta(seconds=max_age(plain)) <= REOPENING
        else:
            assert GONGHE not in ids(plain.json), clock.now
            assert conditional.status_code == 200 and GONGHE not in ids(conditional.json), clock.now
        seen.append(len(calls.reached))
    # replayed up to the reopening; the app answered exactly once at it, then the new answer is replayed
    assert seen == [1] * 7 + [2] * 5


@pytest.mark.parametrize("name", LIVE)
def test_no_representation_replays_a_stale_answer_across_the_reopening(demo, client, clock, calls, replayed, name):
    path = LIVE[name]
    clock.now = REOPENING.astimezone(UTC) - timedelta(seconds=1)
    first = client.get(path)
    tag = first.headers["ETag"]
    for _ in range(8):
        clock.advance(milliseconds=250)
        plain = client.get(path)
        conditional = client.get(path, headers={"If-None-Match": tag})
        truth = afresh(client, path)
        assert plain.data == truth.data and plain.headers["ETag"] == truth.headers["ETag"], clock.now
        assert conditional.status_code == (304 if truth.headers["ETag"] == tag else 200), clock.now
        if clock.now < REOPENING:
            assert plain.data == first.data and clock.now + timedelta(seconds=max_age(plain)) <= REOPENING
    # Built again at the reopening (every answer moves with its closures' statuses), then replayed.
    assert len(calls.built) == 2 and len(replayed) == 8 * 2 - 1
    if name in SHOWS_STATUS:
        assert plain.data != first.data


@pytest.mark.parametrize("path", [CLOSURES, f"{CLOSURES}/dongguan-draft", ITEMS, f"{ITEMS}/dongguan-draft", WZDX,
                                  WAZE_JSON, WAZE_XML, ICS, EVENTS, f"{EVENTS}/{JURISDICTION}/dongguan-draft"])
def test_a_drafts_publication_ends_every_kept_answer_without_being_told_beforehand(
        demo, client, clock, calls, replayed, auth, editor_token, closure_body, path):
    clock.now = datetime(2024, 5, 20, 4, 0, 10, tzinfo=UTC)
    published = clock.now + timedelta(seconds=20)
    body = closure_body("dongguan-draft", publish_at=published.isoformat())
    assert client.post(CLOSURES, json=body, headers=auth(editor_token)).status_code == 201
    before = [client.get(path) for _ in range(2)]
    kept = before[0].status_code == 200  # a 404 is never kept: each asks the app
    if kept:
        assert all(b"dongguan-draft" not in b.data for b in before)
        # max-age runs to the next whole minute, not to the publication: that would tell the draft exists
        assert max_age(before[1]) == 50 and before[1].data == before[0].data
    else:
        assert [b.status_code for b in before] == [404, 404]
    clock.now = published - timedelta(milliseconds=1)
    assert client.get(path).data == before[0].data
    clock.now = published
    after = client.get(path)
    assert after.status_code == 200 and b"dongguan-draft" in after.data
    assert after.data == afresh(client, path).data
    again = client.get(path)
    assert again.data == after.data
    assert len(calls.built) == (2 if kept else 4) and len(replayed) == (3 if kept else 1)


def test_an_explicit_at_listing_is_replayed_while_the_clock_moves_on(client, clock, calls):
    query = {"at": "2024-05-30T12:00:00+08:00"}
    first = client.get(CLOSURES, query_string=query)
    for days in (1, 20, 200):
        clock.advance(days=days)
        again = client.get(CLOSURES, query_string=query)
        assert again.data == first.data and max_age(again) == 60
    assert len(calls.reached) == 1


def test_a_clock_set_back_before_the_answer_was_built_is_not_replayed(client, clock, calls):
    client.get(CLOSURES)
    clock.advance(seconds=-1)
    assert client.get(CLOSURES).status_code == 200
    assert len(calls.reached) == len(calls.built) == 2


# ---------------------------------------------------------------------------- every public GET

@pytest.mark.parametrize("path", PUBLIC_GETS.values(), ids=PUBLIC_GETS.keys())
def test_every_public_get_is_built_once_and_replayed_with_its_validators(demo, client, clock, calls, replayed,
                                                                         path):
    first = client.get(path)
    assert first.status_code == 200 and len(calls.reached) == len(calls.built) == 1
    clock.advance(seconds=2)
    again = client.get(path)
    assert again.status_code == 200 and again.data == first.data and stable(again) == stable(first)
    assert again.headers["Content-Length"] == str(len(first.data))
    assert "Last-Modified" in again.headers
    not_modified = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert not_modified.headers["ETag"] == first.headers["ETag"]
    assert "Content-Type" not in not_modified.headers
    modified = client.get(path, headers={"If-Modified-Since": again.headers["Last-Modified"]})
    assert modified.status_code == 304
    raw = path.partition("?")[2]
    assert replayed == [(path.partition("?")[0], raw, status) for status in (200, 304, 304)]
    assert len(calls.reached) == 1


@pytest.mark.parametrize("path", PUBLIC_GETS.values(), ids=PUBLIC_GETS.keys())
def test_a_replay_is_what_the_app_would_answer_now(demo, client, clock, replayed, path):
    first = client.get(path, headers={"Accept-Encoding": "gzip"})
    clock.advance(seconds=1)
    again = client.get(path, headers={"Accept-Encoding": "gzip"})
    truth = afresh(client, path, headers={"Accept-Encoding": "gzip"})
    assert len(replayed) == 1 and again.data == first.data
    assert again.data == truth.data and stable(again) == stable(truth)
    for name in ("Cache-Control", "Last-Modified"):
        assert again.headers.get(name) == truth.headers.get(name), name


@pytest.mark.parametrize("path", [f"{CLOSURES}/{GONGHE}", f"{ITEMS}/{GONGHE}", f"{EVENTS}/{JURISDICTION}/{GONGHE}"])
def test_every_replays_max_age_shrinks_toward_the_next_change(demo, client, clock, calls, path):
    clock.now = REOPENING.astimezone(UTC) - timedelta(seconds=50)
    assert max_age(client.get(path)) == 50
    for step, expected in ((10, 40), (25, 15), (14.5, 0)):
        clock.advance(seconds=step)
        assert max_age(client.get(path)) == expected, clock.now
    assert len(calls.reached) == 1


def test_open511_replays_never_give_one_format_to_an_asker_of_the_other(demo, client, calls, replayed):
    askers = [("application/json", "application/json"), ("application/xml", "application/xml"),
              (None, "application/xml"), ("text/xml", "application/xml"), ("*/*", "application/xml"),
              ("application/xml;q=0.5, application/json", "application/json")]
    for round_ in range(2):
        for accept, mimetype in askers:
            response = client.get(EVENTS, headers={"Accept": accept} if accept else {})
            assert response.status_code == 200 and response.mimetype == mimetype, (round_, accept)
            assert response.data[:1] == (b"{" if mimetype == "application/json" else b"<"), (round_, accept)
            assert {"Accept", "Open511-Version"} <= {v.strip() for v in response.headers["Vary"].split(",")}
    assert len(calls.built) == 2  # one JSON and one XML answer, each asker pointed at the right one
    assert len(calls.reached) == len(askers) and len(replayed) == len(askers)
    # `format` outranks Accept, and is another request
    asked = client.get(EVENTS, query_string={"format": "json"}, headers={"Accept": "application/xml"})
    assert asked.mimetype == "application/json" and json.loads(asked.data)["events"]
    again = client.get(EVENTS, query_string={"format": "xml"}, headers={"Accept": "application/json"})
    assert again.mimetype == "application/xml" and again.data.startswith(b"<")


def test_open511_versions_are_their_own_requests_and_a_wrong_one_is_never_replayed(demo, client, calls, replayed):
    plain = client.get(EVENTS)
    versioned = [client.get(EVENTS, headers={"Open511-Version": "v1"}) for _ in range(2)]
    assert {v.data for v in versioned} == {plain.data} and len(calls.built) == 1
    for _ in range(2):
        wrong = client.get(EVENTS, headers={"Open511-Version": "v2"})
        assert wrong.status_code == 400 and wrong.mimetype == "application/problem+json"
    assert [r[2] for r in replayed] == [200]


@pytest.mark.parametrize("path, other", [
    (f"{ITEMS}?limit=2", f"{ITEMS}?limit=2&f=json"),
    (f"{ITEMS}?limit=2", f"{ITEMS}?limit=3"),
    (f"{ITEMS}/{GONGHE}", f"{ITEMS}/{NANXIAO}"),
    (f"{ITEMS}/{GONGHE}", f"{ITEMS}/{GONGHE}?crs=gcj02"),
    (f"{CLOSURES}/{GONGHE}", f"{CLOSURES}/{GONGHE}?at=2024-06-01T00:00:00%2B08:00"),
    (WZDX, f"{WZDX}?bbox=101.70,36.55,101.792,36.70"),
    (WAZE_XML, f"{WAZE_XML}?crs=gcj02"),
    (ICS, f"{ICS}?bbox=101.70,36.55,101.792,36.70"),
    (f"{EVENTS}?format=json", f"{EVENTS}?format=json&status=ALL"),
])
def test_another_query_never_gets_this_ones_answer(demo, client, calls, path, other):
    first, second = client.get(path), client.get(other)
    assert first.status_code == second.status_code == 200
    assert first.data != second.data and len(calls.built) == 2
    assert client.get(path).data == first.data and client.get(other).data == second.data
    assert second.data == afresh(client, other).data and len(calls.built) == 2


@pytest.mark.parametrize("spellings", [
    [f"{ITEMS}?limit=0010", f"{ITEMS}?limit=10", f"{ITEMS}?limit=+10"],
    [f"{ITEMS}?bbox=101.78,36.60,101.81,36.62&limit=2", f"{ITEMS}?limit=2&bbox=101.780,36.6,101.8100,36.62"],
    [f"{EVENTS}?format=json&limit=050", f"{EVENTS}?limit=50&format=json"],
    [f"{WZDX}?road=东关&bbox=101.70,36.55,101.85,36.70", f"{WZDX}?bbox=101.7,36.55,101.85,36.7&road=东关"],
    [f"{CLOSURES}/{GONGHE}?crs=gcj02", f"{CLOSURES}/{GONGHE}?crs=gcj02&"],
])
def test_equivalent_raw_queries_share_one_answer_for_every_representation(demo, client, calls, spellings):
    answers = [client.get(s) for s in spellings]
    assert {a.status_code for a in answers} == {200} and len({a.data for a in answers}) == 1
    assert len(calls.built) == 1 and len(calls.reached) == len(spellings)
    assert len(demo.answers) == 1
    assert [client.get(s).data for s in spellings] == [answers[0].data] * len(spellings)
    assert len(calls.reached) == len(spellings)  # then each spelling is replayed


def test_a_404_is_never_kept_or_replayed(demo, client, calls, replayed, pointed):
    for path in (f"{CLOSURES}/no-such", f"{ITEMS}/no-such", f"{EVENTS}/{JURISDICTION}/no-such",
                 "/ogc/collections/other", "/open511/jurisdictions/elsewhere"):
        assert [client.get(path).status_code for _ in range(2)] == [404, 404], path
    assert replayed == [] and pointed == [] and len(demo.answers) == 0


# ---------------------------------------------------------------------------- rate limits

def test_replays_count_against_the_rate_limit_and_the_sixth_is_429(make_app, demo, monkeypatch):
    app = make_app(RATE_LIMIT="5 per minute")
    calls = watch(monkeypatch, app.extensions["roadworks"])
    client = app.test_client()
    answers = [client.get(CLOSURES) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [budget(a) for a in answers] == [4, 3, 2, 1, 0]
    assert len(calls.reached) == 1  # four of them were replays
    refused = client.get(CLOSURES)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.json["status"] == 429 and refused.json["type"] == "/problems/too-many-requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert rate_remaining(refused.headers) == 0
    assert refused.headers["Cache-Control"] == "no-store"
    assert len(calls.reached) == 1


@pytest.mark.parametrize("path", LIVE.values(), ids=LIVE.keys())
def test_replays_of_every_representation_are_counted(make_app, demo, monkeypatch, path):
    app = make_app(RATE_LIMIT="3 per minute")
    calls = watch(monkeypatch, app.extensions["roadworks"])
    client = app.test_client()
    answers = [client.get(path) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [budget(a) for a in answers] == [2, 1, 0, 0]
    assert len(calls.reached) == 1


def test_a_304_replay_is_counted_too(make_app, demo):
    client = make_app(RATE_LIMIT="3 per minute").test_client()
    tag = client.get(CLOSURES).headers["ETag"]
    answers = [client.get(CLOSURES, headers={"If-None-Match": tag}) for _ in range(3)]
    assert [a.status_code for a in answers] == [304, 304, 429]
    assert [budget(a) for a in answers] == [1, 0, 0]


def test_each_request_is_counted_exactly_once_on_replays_and_refusals(make_app, demo, monkeypatch):
    app = make_app(RATE_LIMIT="50 per hour;5 per minute")
    limiter = app.extensions["roadworks_limiter"]
    counts = []
    real = limiter.count
    monkeypatch.setattr(limiter, "count", lambda *a: counts.append(a) or real(*a))
    client = app.test_client()
    statuses = [client.get(path).status_code for path in (CLOSURES, WZDX) for _ in range(4)]
    assert statuses == [200] * 4 + [200, 429, 429, 429]
    assert len(counts) == 8
    hour = limiter.policies["anonymous"][0]
    assert limiter.window(hour, "addr:127.0.0.1")[1] == 50 - 8  # the hourly budget took one hit each


def test_replays_are_counted_per_client_address(make_app, demo):
    client = make_app(RATE_LIMIT="2 per minute").test_client()

    def get(address):
        return client.get(CLOSURES, environ_base={"REMOTE_ADDR": address}).status_code

    assert [get("198.51.100.7") for _ in range(3)] == [200, 200, 429]
    assert [get("203.0.113.9") for _ in range(3)] == [200, 200, 429]


def test_replays_behind_a_trusted_proxy_are_counted_per_forwarded_client(make_app, demo):
    client = make_app(RATE_LIMIT="2 per minute", TRUSTED_PROXIES=1).test_client()

    def get(address):
        return client.get(ITEMS, headers={"X-Forwarded-For": address}).status_code

    assert [get("198.51.100.7") for _ in range(3)] == [200, 200, 429]
    assert [get("203.0.113.9") for _ in range(3)] == [200, 200, 429]


def test_without_a_limit_replays_carry_no_rate_limit_fields(make_app, demo, monkeypatch):
    app = make_app(RATE_LIMIT="")
    calls = watch(monkeypatch, app.extensions["roadworks"])
    client = app.test_client()
    answers = [client.get(path) for path in (CLOSURES, ITEMS) for _ in range(3)]
    assert len(calls.reached) == 2 and all(a.status_code == 200 for a in answers)
    assert not any("RateLimit" in a.headers or "RateLimit-Policy" in a.headers for a in answers)


# ---------------------------------------------------------------------------- encodings

def test_a_gzip_replay_is_gzip_and_decompresses_to_the_identity_answer(client, calls, replayed):
    identity = client.get(CLOSURES)
    first = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"})
    again = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"})
    # one answer; the app made its gzip copy on the first gzip request, the third request was a replay
    assert len(calls.built) == 1 and len(calls.reached) == 2 and len(replayed) == 1
    assert again.headers["Content-Encoding"] == "gzip"
    assert again.headers["ETag"] == first.headers["ETag"] == f"W/{identity.headers['ETag']}"
    assert again.data == first.data and int(again.headers["Content-Length"]) == len(again.data)
    assert gzip.decompress(again.data) == identity.data
    assert json.loads(gzip.decompress(again.data)) == identity.json


def test_identity_requests_never_get_a_compressed_replay(client, calls):
    compressed = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["Content-Encoding"] == "gzip"
    for offer in (None, "identity", None, "identity"):
        response = client.get(CLOSURES, headers={"Accept-Encoding": offer} if offer else {})
        assert response.status_code == 200 and "Content-Encoding" not in response.headers
        assert not response.headers["ETag"].startswith("W/")
        assert gzip.decompress(compressed.data) == response.data
    assert len(calls.reached) == 1  # the identity body is kept with the answer: all replays


def test_a_weak_etag_revalidates_the_gzip_copy(client, calls):
    weak = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    again = client.get(CLOSURES, headers={"Accept-Encoding": "gzip", "If-None-Match": weak})
    assert again.status_code == 304 and again.headers["ETag"] == weak
    assert "Content-Encoding" not in again.headers and again.data == b""
    assert len(calls.reached) == 1


@pytest.mark.parametrize("first", ["gzip", "gzip, deflate", "deflate, gzip;q=1.0"])
def test_accept_encoding_variants_that_choose_gzip_share_one_copy(client, calls, first):
    offers = ["gzip", "gzip, deflate", "deflate, gzip;q=1.0", "br;q=0.1, gzip", "GZIP"]
    offers.remove(first) if first in offers else None
    answers = [client.get(CLOSURES, headers={"Accept-Encoding": offer}) for offer in [first] + offers]
    assert len(calls.reached) == 1  # only the first reached the app
    assert {a.headers["Content-Encoding"] for a in answers} == {"gzip"}
    assert len({a.data for a in answers}) == 1
    assert all("Accept-Encoding" in a.headers["Vary"] for a in answers)
    # Vary stays true: offers that choose another coding get that coding, never the gzip bytes
    other = {offer: client.get(CLOSURES, headers={"Accept-Encoding": offer})
             for offer in ("br", "identity", "gzip;q=0, deflate")}
    assert {o: r.headers.get("Content-Encoding") for o, r in other.items()} == \
        {"br": "br", "identity": None, "gzip;q=0, deflate": "deflate"}
    assert gzip.decompress(answers[0].data) == other["identity"].data
    # br and deflate were each compressed once by the app; identity was replayed
    assert len(calls.reached) == 3 and len(calls.built) == 1


@pytest.mark.parametrize("path", [f"{ITEMS}/{GONGHE}", WAZE_XML, ICS, EVENTS])
def test_every_representation_replays_each_coding_to_its_own_askers(demo, client, calls, replayed, path):
    identity = client.get(path)
    askers = ["gzip", "br", None, "gzip", "br", "identity"]
    answers = [client.get(path, headers={"Accept-Encoding": offer} if offer else {}) for offer in askers]
    assert [a.headers.get("Content-Encoding") for a in answers] == ["gzip", "br", None, "gzip", "br", None]
    assert gzip.decompress(answers[0].data) == identity.data and answers[2].data == identity.data
    assert len(calls.built) == 1 and len(calls.reached) == 3 and len(replayed) == 4


# ---------------------------------------------------------------------------- never replayed

def test_requests_with_a_token_are_never_replayed(client, calls, replayed, pointed, auth, editor_token,
                                                  other_editor_token, clock, closure_body):
    body = closure_body("dongguan-draft", publish_at=(clock.now + timedelta(hours=1)).isoformat())
    assert client.post(CLOSURES, json=body, headers=auth(editor_token)).status_code == 201
    editor = [client.get(CLOSURES, headers=auth(editor_token)) for _ in range(2)]
    assert len(calls.reached) == 2 and len(calls.built) == 1  # kept for the agency, yet never replayed
    assert all("dongguan-draft" in ids(e.json) for e in editor)
    assert editor[1].headers["Cache-Control"].startswith("private")
    public = client.get(CLOSURES)
    assert "dongguan-draft" not in ids(public.json) and len(calls.built) == 2
    again = client.get(CLOSURES, headers=auth(editor_token))  # the public answer is now kept as well
    assert "dongguan-draft" in ids(again.json) and len(calls.built) == 2
    police = client.get(CLOSURES, headers=auth(other_editor_token))  # another agency: not its draft
    assert "dongguan-draft" not in ids(police.json) and len(calls.built) == 3
    assert police.headers["Cache-Control"].startswith("private")
    assert [client.get(CLOSURES, headers=auth("rw_guess")).status_code for _ in range(2)] == [401, 401]
    assert pointed == [(CLOSURES, "")] and replayed == []


def test_a_partner_gets_the_public_answer_but_never_a_replay(demo, client, calls, replayed, pointed, auth):
    from roadworks.auth import create_token

    partner, _ = create_token(demo.store, role="partner", name="Navigation partner", agency=None, now=demo.clock())
    public = client.get(ITEMS)
    answers = [client.get(ITEMS, headers=auth(partner)) for _ in range(2)]
    assert {a.data for a in answers} == {public.data} and len(calls.built) == 1
    assert all(a.headers["Cache-Control"].startswith("private") for a in answers)
    assert len(calls.reached) == 3 and replayed == [] and pointed == [(ITEMS, "")]


def test_head_and_post_are_never_replayed(client, calls, replayed):
    client.get(CLOSURES)
    head = client.head(CLOSURES)
    assert head.status_code == 200 and head.data == b"" and len(calls.reached) == 2
    post = client.post(CLOSURES, json={})
    assert post.status_code == 401
    assert replayed == []


def test_a_400_is_never_kept_or_replayed(client, calls, replayed, pointed):
    for path in (f"{CLOSURES}?bbox=x", f"{ITEMS}?limit=0", f"{WZDX}?crs=mars", f"{EVENTS}?status=SOON"):
        for _ in range(2):
            response = client.get(path)
            assert response.status_code == 400 and response.mimetype == "application/problem+json", path
    assert pointed == [] and replayed == [] and calls.reached == []


# ---------------------------------------------------------------------------- keys

def test_different_query_strings_are_different_answers(client, calls, replayed):
    default = client.get(CLOSURES)
    every = client.get(CLOSURES, query_string={"status": "all"})
    active = client.get(CLOSURES, query_string={"status": "active"})
    assert len(calls.built) == 3
    assert ids(active.json) == [GONGHE] and set(ids(default.json)) == {GONGHE, NANXIAO, YANGJIA}
    assert client.get(CLOSURES, query_string={"status": "active"}).data == active.data
    assert client.get(CLOSURES, query_string={"status": "all"}).data == every.data
    assert client.get(CLOSURES).data == default.data
    assert len(calls.reached) == 3
    assert replayed == [(CLOSURES, "status=active", 200), (CLOSURES, "status=all", 200), (CLOSURES, "", 200)]


def test_a_replayed_next_link_is_relative_so_it_fits_every_host_and_scheme(client, calls, demo):
    query = {"limit": 1}
    first = client.get(CLOSURES, query_string=query)
    other = client.get(CLOSURES, query_string=query, base_url="https://roads.example.org")
    assert len(calls.reached) == 1  # the second answer was a replay
    assert first.headers["Link"] == other.headers["Link"]
    assert other.headers["Link"].startswith("</api/v1/closures?limit=1&cursor=")


def test_absolute_links_are_on_the_public_base_whatever_host_asked_first(demo, client, calls):
    first = client.get(ITEMS, base_url="https://planted.example.net")
    again = client.get(ITEMS)
    assert len(calls.reached) == 1 and again.data == first.data
    assert b"planted.example.net" not in first.data and b"http://localhost/ogc/" in first.data


# ---------------------------------------------------------------------------- canonical keys

def test_zero_padded_limits_share_one_answer(client, demo, calls):
    answers = [client.get(f"{CLOSURES}?limit={limit}") for limit in ("0010", "10", "010", "+10")]
    assert {a.status_code for a in answers} == {200} and len({a.data for a in answers}) == 1
    assert len(calls.built) == 1 and len(demo.answers) == 1
    assert len(calls.reached) == 4  # each spelling reached the view once, to learn what it means
    assert [client.get(f"{CLOSURES}?limit={limit}").data for limit in ("10", "0010")] == [answers[0].data] * 2
    assert len(calls.reached) == 4 and len(demo.answers) == 1  # then replayed


def test_reordered_parameters_and_rewritten_bbox_numbers_share_one_answer(client, demo, calls):
    spellings = ["bbox=101.78,36.60,101.81,36.62&status=all&limit=2",
                 "limit=2&status=all&bbox=101.780,36.6,101.8100,36.62",
                 "status=all&limit=02&bbox=1.0178e2,36.60,101.81,3.662E1",
                 "status=all&bbox=101.78,%2036.6,101.81,36.62&limit=2"]
    bodies = {client.get(f"{CLOSURES}?{q}").data for q in spellings}
    assert len(bodies) == 1 and len(calls.built) == 1 and len(demo.answers) == 1
    # A reordered status list is the same set of statuses.
    client.get(f"{CLOSURES}?status=active,upcoming"), client.get(f"{CLOSURES}?status=upcoming,active")
    assert len(calls.built) == 2 and len(demo.answers) == 2


def test_different_meanings_stay_different_answers(client, demo, calls):
    for query in ("limit=10", "limit=1", "road=10", "road=010", "at=2024-05-20T12:00:00%2B08:00",
                  "at=2024-05-20T04:00:00Z"):
        assert client.get(f"{CLOSURES}?{query}").status_code == 200, query
    # the same instant in another offset is another answer: it echoes `at` as written
    assert len(calls.built) == 6 and len(demo.answers) == 6


# ---------------------------------------------------------------------------- byte budgets

@pytest.fixture
def city(app, database_url):
    """120 closures of the benchmark's synthetic city, written straight into the database."""
    from bench import run

    run.populate(database_url, 120)
    app.extensions["roadworks"].index.snapshot()
    return 120


def test_600_queries_differing_in_limit_keep_the_answer_cache_within_its_budget(make_app, city, monkeypatch):
    app = make_app(ANSWER_CACHE_BYTES=600_000, FRAGMENT_CACHE_BYTES=2_000_000, RATE_LIMIT="")
    services = app.extensions["roadworks"]
    calls, client, cache, memo = watch(monkeypatch, services), app.test_client(), services.answers, services.fragments
    assert cache.budget == 600_000 and memo.budget == 2_000_000
    biggest = 0
    for limit in range(1, 601):
        response = client.get(CLOSURES, query_string={"limit": limit, "status": "all"})
        assert response.status_code == 200
        biggest = max(biggest, len(response.data))
        assert cache.used <= cache.budget and memo.used <= memo.budget, limit
    assert biggest > 100_000  # answers big enough that a few fill the budget
    assert 0 < len(cache) < 10 and cache.used > cache.budget // 4  # in use, not disabled
    assert len(memo) == 120  # one fragment per closure, shared by every page
    reached = len(calls.reached)
    again = client.get(CLOSURES, query_string={"limit": 600, "status": "all"})  # the newest is still kept
    assert again.status_code == 200 and len(calls.reached) == reached


def test_default_budgets_hold_a_city_of_small_answers(client, city, monkeypatch):
    services = client.application.extensions["roadworks"]
    for limit in range(1, 41):
        assert client.get(CLOSURES, query_string={"limit": limit, "status": "all"}).status_code == 200
    cache = services.answers
    assert len(cache) == 40 and cache.budget == 64 * 1024 * 1024  # nothing evicted
    calls = watch(monkeypatch, services)
    bodies = sum(len(client.get(CLOSURES, query_string={"limit": n, "status": "all"}).data) for n in range(1, 41))
    assert calls.reached == []  # every one replayed
    assert cache.used >= bodies


def test_an_answer_larger_than_the_whole_budget_is_served_but_not_kept(make_app, city, monkeypatch):
    app = make_app(ANSWER_CACHE_BYTES=40_000)
    services = app.extensions["roadworks"]
    calls = watch(monkeypatch, services)
    client = app.test_client()
    big = [client.get(CLOSURES, query_string={"status": "all"}) for _ in range(2)]
    assert [b.status_code for b in big] == [200, 200] and len(big[0].data) > 40_000
    assert big[0].data == big[1].data
    assert len(calls.built) == 2 and len(services.answers) == 0
    small = client.get(CLOSURES, query_string={"status": "all", "limit": 1})
    assert small.status_code == 200 and len(services.answers) == 1  # small ones are still kept
    assert client.get(CLOSURES, query_string={"status": "all", "limit": 1}).data == small.data
    assert len(calls.built) == 3 and len(calls.reached) == 3


def test_feed_answers_and_fragments_keep_within_their_budgets(make_app, city):
    app = make_app(ANSWER_CACHE_BYTES=400_000, FRAGMENT_CACHE_BYTES=60_000)
    client = app.test_client()
    for west in range(20):
        bbox = f"{101.60 + west * 0.01:.2f},36.50,101.95,36.75"
        for path in (WZDX, ICS, ITEMS):
            assert client.get(path, query_string={"bbox": bbox, "limit": 1000} if path == ITEMS
                              else {"bbox": bbox}).status_code == 200
    answers, fragments = app.extensions["roadworks"].answers, app.extensions["roadworks"].fragments
    assert answers.budget == 400_000 and 0 < answers.used <= answers.budget and len(answers) < 60
    assert fragments.budget == 60_000 and 0 < fragments.used <= fragments.budget and 0 < len(fragments) < 360


# ---------------------------------------------------------------------------- over-long query strings

def query_of(length: int) -> str:
    """A query string of exactly `length` bytes (percent escapes count as the bytes they are sent as)."""
    head = "road=%E4%B8%9C"
    return head + "a" * (length - len(head))


@pytest.mark.parametrize("path", [CLOSURES, f"{CLOSURES}/{GONGHE}", ITEMS, f"{ITEMS}/{GONGHE}", WZDX, WAZE_XML,
                                  ICS, EVENTS, "/ogc/", "/no/such/path"])
def test_an_over_long_query_string_is_a_400_naming_max_query_bytes_and_never_kept(make_app, demo, monkeypatch,
                                                                                    path):
    app = make_app(MAX_QUERY_BYTES=64)
    services = app.extensions["roadworks"]
    calls, client = watch(monkeypatch, services), app.test_client()
    for _ in range(2):
        refused = client.get(f"{path}?{query_of(65)}")
        assert refused.status_code == 400 and refused.mimetype == "application/problem+json"
        assert "MAX_QUERY_BYTES is 64" in refused.json["detail"]
        assert refused.json["errors"] == {"query": ["longer than MAX_QUERY_BYTES (64 bytes)"]}
    assert calls.reached == [] and len(services.answers) == 0
    at_cap = client.get(f"{path}?{query_of(64)}")
    assert "MAX_QUERY_BYTES" not in at_cap.get_data(as_text=True)


def test_a_gzip_copy_is_the_same_bytes_whenever_and_wherever_it_is_made(app, monkeypatch):
    body = b'{"type":"FeatureCollection","features":[]}' * 40
    copies = []
    with app.app_context():
        for second in (1_700_000_000, 1_700_000_001):  # gzip's header holds the time, unless told otherwise
            monkeypatch.setattr("time.time", lambda second=second: float(second))
            copies.append(answering.compressed(body, "gzip"))
    assert copies[0] == copies[1] and gzip.decompress(copies[0]) == body
