"""The cached-read fast path (api/fastpath.py): repeated anonymous GET /api/v1/closures answered from memory.

The middleware replays the app's own final answer (after compression) while the change sequence is
unchanged and the listing is still true, recomputing Cache-Control, Last-Modified and the rate-limit
fields, and answering 304 itself. These tests prove a replay without timing: the view's
`services.listings.get` is counted, and a replayed request must not reach it. Whatever the fast path
does, a client must get what the app would have answered: never a stale status, never a skipped count
against its rate limit, never someone else's (token holder's, other encoding's, other query's) answer.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest

from roadworks.api import fastpath

CLOSURES = "/api/v1/closures"
GONGHE, NANXIAO, YANGJIA = "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"
XINING = timezone(timedelta(hours=8))
REOPENING = datetime(2024, 5, 31, tzinfo=XINING)  # Ledu-Gonghe: active -> completed
# Recomputed for each answer (or, like Content-Length, per body), so a replay may differ in these.
VOLATILE = {"cache-control", "last-modified", "date", "retry-after", "ratelimit", "ratelimit-policy",
            "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "content-length",
            "x-request-id"}  # each request's own id (observability.py)


# ---------------------------------------------------------------------------- helpers

def count_views(monkeypatch, services) -> list:
    """Every call of the view's listing lookup: a request answered by the fast path adds none."""
    calls = []
    real = services.listings.get
    monkeypatch.setattr(services.listings, "get", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    return calls


@pytest.fixture
def views(monkeypatch, demo):
    return count_views(monkeypatch, demo)


@pytest.fixture
def kept(monkeypatch):
    """Keys the fast path stores and keys it replays: {"put": [...], "replayed": [...]}."""
    seen = {"put": [], "replayed": []}
    put, replay = fastpath.ResponseCache.put, fastpath.CachedReads._replay

    def spy_put(self, path, raw_query, canonical, coding, item):
        seen["put"].append((path, raw_query, coding))
        return put(self, path, raw_query, canonical, coding, item)

    def spy_replay(self, item, now, counted, limiter, environ, start_response):
        seen["replayed"].append((environ["PATH_INFO"], environ["QUERY_STRING"], self.coding_of(environ)))
        return replay(self, item, now, counted, limiter, environ, start_response)

    monkeypatch.setattr(fastpath.ResponseCache, "put", spy_put)
    monkeypatch.setattr(fastpath.CachedReads, "_replay", spy_replay)
    return seen


def stable(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in VOLATILE}


def max_age(response) -> int:
    match = re.fullmatch(r"public, max-age=(\d+)", response.headers["Cache-Control"])
    assert match, response.headers["Cache-Control"]
    return int(match.group(1))


def ids(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


def budget(response) -> int:
    return int(response.headers["X-RateLimit-Remaining"])


def patch_road(client, auth, token, id: str, road: str) -> None:
    tag = client.get(f"{CLOSURES}/{id}").headers["ETag"]
    response = client.patch(f"{CLOSURES}/{id}", json={"properties": {"road": road}},
                            headers=auth(token, If_Match=tag))
    assert response.status_code == 200, response.json


def roads(response) -> dict[str, str]:
    return {f["id"]: f["properties"]["road"] for f in response.json["features"]}


# ---------------------------------------------------------------------------- replays

def test_a_repeated_get_does_not_reach_the_view(client, views):
    first = client.get(CLOSURES)
    assert first.status_code == 200 and len(views) == 1
    for _ in range(3):
        again = client.get(CLOSURES)
        assert again.status_code == 200 and again.data == first.data
    assert len(views) == 1


def test_a_replay_repeats_status_body_and_every_stable_header(client, clock, views):
    query = {"limit": 1}  # a page with a Link to the next one
    first = client.get(CLOSURES, query_string=query)
    clock.advance(seconds=2)
    again = client.get(CLOSURES, query_string=query)
    assert len(views) == 1
    assert again.status_code == first.status_code == 200 and again.data == first.data
    assert stable(again) == stable(first)
    assert {"etag", "content-type", "vary", "link"} <= set(stable(first))
    assert again.headers["Content-Length"] == str(len(first.data))
    names = [k.lower() for k in again.headers.keys()]
    assert len(names) == len(set(names))  # nothing both kept and recomputed
    assert {k.lower() for k in again.headers.keys()} == {k.lower() for k in first.headers.keys()} | {"last-modified"}


def test_a_replay_recomputes_last_modified_and_rate_limit_fields(client, clock, views):
    first = client.get(CLOSURES)
    assert "Last-Modified" not in first.headers  # the demo was written this very second
    clock.advance(seconds=1)
    again = client.get(CLOSURES)
    assert len(views) == 1
    modified = parsedate_to_datetime(again.headers["Last-Modified"])
    assert modified == clock.now.replace(microsecond=0) - timedelta(seconds=1)
    assert budget(again) == budget(first) - 1
    assert again.headers["RateLimit"] != first.headers["RateLimit"]


def test_a_replays_max_age_shrinks_toward_the_next_change_and_never_passes_it(client, clock, views):
    clock.now = REOPENING.astimezone(UTC) - timedelta(seconds=50)
    assert max_age(client.get(CLOSURES)) == 50
    for step, expected in ((10, 40), (25, 15), (14.5, 0), (0.4, 0)):
        clock.advance(seconds=step)
        again = client.get(CLOSURES)
        assert max_age(again) == expected, clock.now
        assert clock.now + timedelta(seconds=max_age(again)) <= REOPENING
    assert len(views) == 1


# ---------------------------------------------------------------------------- validators

def test_if_none_match_strong_or_weak_gets_a_304_from_the_cache(client, views):
    first = client.get(CLOSURES)
    tag = first.headers["ETag"]
    assert not tag.startswith("W/")
    for held in (tag, f"W/{tag}", f'"other", {tag}'):
        response = client.get(CLOSURES, headers={"If-None-Match": held})
        assert response.status_code == 304 and response.data == b"", held
        assert response.headers["ETag"] == tag
        assert response.headers["Vary"] == first.headers["Vary"]
        assert "Cache-Control" in response.headers and "X-RateLimit-Remaining" in response.headers
        assert "Content-Type" not in response.headers and "Link" not in response.headers
    assert len(views) == 1


def test_a_non_matching_etag_gets_the_full_answer_from_the_cache(client, views):
    first = client.get(CLOSURES)
    response = client.get(CLOSURES, headers={"If-None-Match": '"0123456789abcdef"'})
    assert response.status_code == 200 and response.data == first.data
    assert response.headers["ETag"] == first.headers["ETag"]
    assert len(views) == 1


def test_if_modified_since_gets_a_304_from_the_cache(client, clock, views):
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
    assert len(views) == 1


def test_a_304_from_the_app_is_not_kept(client, views):
    tag = client.get(CLOSURES).headers["ETag"]
    assert client.get(CLOSURES, headers={"Accept-Encoding": "br", "If-None-Match": tag}).status_code == 304
    assert len(views) == 2  # another encoding: the app answered
    full = client.get(CLOSURES, headers={"Accept-Encoding": "br"})
    assert full.status_code == 200 and full.headers["Content-Encoding"] == "br" and full.data
    assert len(views) == 3


# ---------------------------------------------------------------------------- staying true

def test_a_write_makes_the_next_get_reach_the_app_and_return_new_content(client, views, auth, editor_token):
    before = client.get(CLOSURES)
    client.get(CLOSURES)
    assert len(views) == 1
    patch_road(client, auth, editor_token, NANXIAO, "南小街")
    after = client.get(CLOSURES, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and roads(after)[NANXIAO] == "南小街"
    assert len(views) == 2
    assert client.get(CLOSURES).data == after.data and len(views) == 2  # the new answer is replayed


def test_no_stale_status_from_the_cache_across_the_reopening(client, clock, views):
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
        seen.append(len(views))
    # replayed up to the reopening; the app answered exactly once at it, then the new answer is replayed
    assert seen == [1] * 7 + [2] * 5


def test_an_explicit_at_listing_is_replayed_while_the_clock_moves_on(client, clock, views):
    query = {"at": "2024-05-30T12:00:00+08:00"}
    first = client.get(CLOSURES, query_string=query)
    for days in (1, 20, 200):
        clock.advance(days=days)
        again = client.get(CLOSURES, query_string=query)
        assert again.data == first.data and max_age(again) == 60
    assert len(views) == 1


def test_a_clock_set_back_before_the_listing_was_computed_is_not_replayed(client, clock, views):
    client.get(CLOSURES)
    clock.advance(seconds=-1)
    assert client.get(CLOSURES).status_code == 200
    assert len(views) == 2


# ---------------------------------------------------------------------------- rate limits

def test_replays_count_against_the_rate_limit_and_the_sixth_is_429(make_app, demo, monkeypatch):
    app = make_app(RATE_LIMIT="5 per minute")
    views = count_views(monkeypatch, app.extensions["roadworks"])
    client = app.test_client()
    answers = [client.get(CLOSURES) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [budget(a) for a in answers] == [4, 3, 2, 1, 0]
    assert len(views) == 1  # four of them were replays
    refused = client.get(CLOSURES)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.json["status"] == 429 and refused.json["type"] == "/problems/too-many-requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["Cache-Control"] == "no-store"
    assert len(views) == 1


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
    statuses = [client.get(CLOSURES).status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    assert len(counts) == 8
    hour = limiter.policies["anonymous"][0]
    assert limiter.window(hour, "addr:127.0.0.1")[1] == 50 - 8  # the hourly budget took one hit each


def test_replays_are_counted_per_client_address(make_app, demo):
    client = make_app(RATE_LIMIT="2 per minute").test_client()

    def get(address):
        return client.get(CLOSURES, environ_base={"REMOTE_ADDR": address}).status_code

    assert [get("198.51.100.7") for _ in range(3)] == [200, 200, 429]
    assert [get("203.0.113.9") for _ in range(3)] == [200, 200, 429]


def test_without_a_limit_replays_carry_no_rate_limit_fields(make_app, demo, monkeypatch):
    app = make_app(RATE_LIMIT="")
    views = count_views(monkeypatch, app.extensions["roadworks"])
    client = app.test_client()
    answers = [client.get(CLOSURES) for _ in range(3)]
    assert len(views) == 1 and all(a.status_code == 200 for a in answers)
    assert not any("X-RateLimit-Remaining" in a.headers or "RateLimit" in a.headers for a in answers)


# ---------------------------------------------------------------------------- encodings

def test_a_gzip_replay_is_gzip_and_decompresses_to_the_identity_answer(client, views):
    identity = client.get(CLOSURES)
    first = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"})
    again = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"})
    assert len(views) == 2  # identity and gzip are separate entries; the third request was a replay
    assert again.headers["Content-Encoding"] == "gzip"
    assert again.headers["ETag"] == first.headers["ETag"] == f"W/{identity.headers['ETag']}"
    assert again.data == first.data and int(again.headers["Content-Length"]) == len(again.data)
    assert gzip.decompress(again.data) == identity.data
    assert json.loads(gzip.decompress(again.data)) == identity.json


def test_identity_requests_never_get_a_compressed_replay(client, views):
    compressed = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["Content-Encoding"] == "gzip"
    for offer in (None, "identity", None, "identity"):
        response = client.get(CLOSURES, headers={"Accept-Encoding": offer} if offer else {})
        assert response.status_code == 200 and "Content-Encoding" not in response.headers
        assert not response.headers["ETag"].startswith("W/")
        assert gzip.decompress(compressed.data) == response.data
    assert len(views) == 2  # gzip, then no header and identity: both choose identity, one entry


def test_a_weak_etag_revalidates_the_gzip_entry(client, views):
    weak = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    again = client.get(CLOSURES, headers={"Accept-Encoding": "gzip", "If-None-Match": weak})
    assert again.status_code == 304 and again.headers["ETag"] == weak
    assert "Content-Encoding" not in again.headers and again.data == b""
    assert len(views) == 1


# ---------------------------------------------------------------------------- never replayed

def test_requests_with_a_token_are_never_replayed(client, views, kept, auth, editor_token, clock,
                                                  closure_body):
    body = closure_body("dongguan-draft", publish_at=(clock.now + timedelta(hours=1)).isoformat())
    assert client.post(CLOSURES, json=body, headers=auth(editor_token)).status_code == 201
    editor = [client.get(CLOSURES, headers=auth(editor_token)) for _ in range(2)]
    assert len(views) == 2 and all("dongguan-draft" in ids(e.json) for e in editor)
    assert editor[1].headers["Cache-Control"].startswith("private")
    public = client.get(CLOSURES)
    assert "dongguan-draft" not in ids(public.json) and len(views) == 3
    again = client.get(CLOSURES, headers=auth(editor_token))  # the public answer is now kept
    assert "dongguan-draft" in ids(again.json) and len(views) == 4
    assert [client.get(CLOSURES, headers=auth("rw_guess")).status_code for _ in range(2)] == [401, 401]
    assert kept["put"] == [(CLOSURES, "", "identity")] and kept["replayed"] == []


def test_head_and_post_are_never_replayed(client, views, kept):
    client.get(CLOSURES)
    head = client.head(CLOSURES)
    assert head.status_code == 200 and head.data == b"" and len(views) == 2
    post = client.post(CLOSURES, json={})
    assert post.status_code == 401
    assert kept["replayed"] == []


def test_other_paths_are_never_kept(demo, client, kept):
    for path in ("/api/v1/projects", f"{CLOSURES}/{GONGHE}", f"{CLOSURES}/{GONGHE}/history"):
        assert [client.get(path).status_code for _ in range(2)] == [200, 200], path
    assert kept["put"] == [] and kept["replayed"] == []


def test_a_400_is_never_kept_or_replayed(client, kept, views):
    for _ in range(2):
        response = client.get(CLOSURES, query_string={"bbox": "x"})
        assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert kept["put"] == [] and kept["replayed"] == []


# ---------------------------------------------------------------------------- keys

def test_different_query_strings_are_different_entries(client, views, kept):
    default = client.get(CLOSURES)
    every = client.get(CLOSURES, query_string={"status": "all"})
    active = client.get(CLOSURES, query_string={"status": "active"})
    assert len(views) == 3
    assert ids(active.json) == [GONGHE] and set(ids(default.json)) == {GONGHE, NANXIAO, YANGJIA}
    assert client.get(CLOSURES, query_string={"status": "active"}).data == active.data
    assert client.get(CLOSURES, query_string={"status": "all"}).data == every.data
    assert client.get(CLOSURES).data == default.data
    assert len(views) == 3
    assert kept["replayed"] == [(CLOSURES, "status=active", "identity"), (CLOSURES, "status=all", "identity"),
                                (CLOSURES, "", "identity")]


def test_a_replayed_next_link_is_relative_so_it_fits_every_host_and_scheme(client, views, demo):
    query = {"limit": 1}
    first = client.get(CLOSURES, query_string=query)
    other = client.get(CLOSURES, query_string=query, base_url="https://roads.example.org")
    assert len(views) == 1  # the second answer was a replay
    assert first.headers["Link"] == other.headers["Link"]
    assert other.headers["Link"].startswith("</api/v1/closures?limit=1&cursor=")


# ---------------------------------------------------------------------------- canonical keys

def count_renders(monkeypatch) -> list:
    """Every listing rendered (a ListingCache miss)."""
    from roadworks.api import listing

    made, real = [], listing.render_listing
    monkeypatch.setattr(listing, "render_listing", lambda *a, **k: made.append(a[1]) or real(*a, **k))
    return made


def replays(client) -> fastpath.ResponseCache:
    return client.application.extensions["roadworks_replays"]


def test_zero_padded_limits_share_one_listing_and_one_replay_entry(client, views, monkeypatch):
    renders = count_renders(monkeypatch)
    answers = [client.get(f"{CLOSURES}?limit={limit}") for limit in ("0010", "10", "010", "+10")]
    assert {a.status_code for a in answers} == {200} and len({a.data for a in answers}) == 1
    assert len(renders) == 1 and len(replays(client)) == 1
    assert len(views) == 4  # each spelling reached the view once, to learn what it means
    assert [client.get(f"{CLOSURES}?limit={limit}").data for limit in ("10", "0010")] == [answers[0].data] * 2
    assert len(views) == 4 and len(replays(client)) == 1  # then replayed


def test_reordered_parameters_and_rewritten_bbox_numbers_share_one_entry(client, views, monkeypatch):
    renders = count_renders(monkeypatch)
    spellings = ["bbox=101.78,36.60,101.81,36.62&status=all&limit=2",
                 "limit=2&status=all&bbox=101.780,36.6,101.8100,36.62",
                 "status=all&limit=02&bbox=1.0178e2,36.60,101.81,3.662E1",
                 "status=all&bbox=101.78,%2036.6,101.81,36.62&limit=2"]
    bodies = {client.get(f"{CLOSURES}?{q}").data for q in spellings}
    assert len(bodies) == 1 and len(renders) == 1 and len(replays(client)) == 1
    # A reordered status list is the same set of statuses.
    client.get(f"{CLOSURES}?status=active,upcoming"), client.get(f"{CLOSURES}?status=upcoming,active")
    assert len(renders) == 2 and len(replays(client)) == 2


def test_different_meanings_stay_different_entries(client, monkeypatch):
    renders = count_renders(monkeypatch)
    for query in ("limit=10", "limit=1", "road=10", "road=010", "at=2024-05-20T12:00:00%2B08:00",
                  "at=2024-05-20T04:00:00Z"):
        assert client.get(f"{CLOSURES}?{query}").status_code == 200, query
    # the same instant in another offset is another answer: it echoes `at` as written
    assert len(renders) == 6 and len(replays(client)) == 6


@pytest.mark.parametrize("first", ["gzip", "gzip, deflate", "deflate, gzip;q=1.0"])
def test_accept_encoding_variants_that_choose_gzip_share_one_replay_entry(client, views, first):
    offers = ["gzip", "gzip, deflate", "deflate, gzip;q=1.0", "br;q=0.1, gzip", "GZIP"]
    offers.remove(first) if first in offers else None
    answers = [client.get(CLOSURES, headers={"Accept-Encoding": offer}) for offer in [first] + offers]
    assert len(views) == 1 and len(replays(client)) == 1  # only the first reached the app
    assert {a.headers["Content-Encoding"] for a in answers} == {"gzip"}
    assert len({a.data for a in answers}) == 1
    assert all("Accept-Encoding" in a.headers["Vary"] for a in answers)
    # Vary stays true: offers that choose another coding get that coding, never the gzip bytes
    other = {offer: client.get(CLOSURES, headers={"Accept-Encoding": offer})
             for offer in ("br", "identity", "gzip;q=0, deflate")}
    assert {o: r.headers.get("Content-Encoding") for o, r in other.items()} == \
        {"br": "br", "identity": None, "gzip;q=0, deflate": "deflate"}
    assert len(views) == 4 and len(replays(client)) == 4


# ---------------------------------------------------------------------------- byte budgets

@pytest.fixture
def city(app, database_url):
    """120 closures of the benchmark's synthetic city, written straight into the database."""
    from bench import run

    run.populate(database_url, 120)
    app.extensions["roadworks"].index.snapshot()
    return 120


def test_600_queries_differing_in_limit_keep_every_answer_cache_within_its_budget(make_app, city):
    app = make_app(ANSWER_CACHE_BYTES=2_000_000, RATE_LIMIT="")
    client, listings = app.test_client(), app.extensions["roadworks"].listings
    cache = replays(client)
    assert cache.budget == listings.budget == 500_000  # a quarter each; feeds get the other half
    biggest = 0
    for limit in range(1, 601):
        response = client.get(CLOSURES, query_string={"limit": limit, "status": "all"})
        assert response.status_code == 200
        biggest = max(biggest, len(response.data))
        assert cache.used <= cache.budget and listings.used <= listings.budget, limit
    assert biggest > 100_000  # answers big enough that a few fill the budget
    assert 0 < len(cache) < 10 and 0 < len(listings) < 10
    assert cache.used > cache.budget // 4 and listings.used > listings.budget // 4  # in use, not disabled


def test_default_budgets_hold_a_city_of_small_answers(client, city):
    for limit in range(1, 41):
        assert client.get(CLOSURES, query_string={"limit": limit, "status": "all"}).status_code == 200
    listings = client.application.extensions["roadworks"].listings
    assert len(replays(client)) == len(listings) == 40  # 64 MiB: nothing evicted
    assert replays(client).budget == listings.budget == 16 * 1024 * 1024
    assert listings.used >= sum(len(client.get(CLOSURES, query_string={"limit": n, "status": "all"}).data)
                                for n in range(1, 41))


def test_an_answer_larger_than_the_whole_budget_is_served_but_not_kept(make_app, city, monkeypatch):
    app = make_app(ANSWER_CACHE_BYTES=40_000)
    views = count_views(monkeypatch, app.extensions["roadworks"])
    client = app.test_client()
    big = [client.get(CLOSURES, query_string={"status": "all"}) for _ in range(2)]
    assert [b.status_code for b in big] == [200, 200] and len(big[0].data) > 40_000
    assert len(views) == 2 and len(replays(client)) == 0 and len(app.extensions["roadworks"].listings) == 0
    small = client.get(CLOSURES, query_string={"status": "all", "limit": 1})
    assert small.status_code == 200 and len(replays(client)) == 1  # small ones are still kept


def test_feed_caches_keep_within_their_budgets(make_app, city):
    app = make_app(ANSWER_CACHE_BYTES=400_000, FRAGMENT_CACHE_BYTES=60_000)
    client = app.test_client()
    for west in range(20):
        bbox = f"{101.60 + west * 0.01:.2f},36.50,101.95,36.75"
        assert client.get("/feeds/wzdx.geojson", query_string={"bbox": bbox}).status_code == 200
    feeds, parts = app.extensions["roadworks_feeds"], app.extensions["roadworks_feed_parts"]
    assert feeds.budget == 200_000 and 0 < feeds.used <= feeds.budget and len(feeds) < 20
    assert parts.budget == 60_000 and 0 < parts.used <= parts.budget and 0 < len(parts) < 120
