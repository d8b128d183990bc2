"""Caching of GET /api/v1/closures, the partners' read side: its kept answers and the HTTP validators around them.

A partner polls the list with If-None-Match (or If-Modified-Since) and honours Cache-Control. Whatever
the clock does, the status a 304 lets the partner keep must still be true at that instant, and no
max-age may reach past the next status change. Listings are keyed by change sequence, scope (public,
or an editor's agency, because of drafts) and query.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from itertools import cycle
from urllib.parse import parse_qs, urlsplit

import pytest

from roadworks.auth import ANONYMOUS

CLOSURES = "/api/v1/closures"
GONGHE, NANXIAO, YANGJIA = "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"
DEMO = (GONGHE, NANXIAO, YANGJIA)
XINING = timezone(timedelta(hours=8))
REOPENING = datetime(2024, 5, 31, tzinfo=XINING)     # Ledu-Gonghe: active -> completed
SEPTEMBER = datetime(2024, 9, 1, tzinfo=XINING)      # Nanxiao and Yangjia: upcoming -> active
BOUNDARIES = {"reopening": REOPENING, "september": SEPTEMBER}
QUERIES = {"default": {}, "all": {"status": "all"}, "active": {"status": "active"},
           "bbox": {"bbox": "101.78,36.60,101.81,36.62", "status": "active,completed"}}
WANTED = {"default": {"active", "paused", "upcoming"}, "all": {"active", "paused", "upcoming", "completed",
                                                                "cancelled"},
          "active": {"active"}, "bbox": {"active", "completed"}}


def max_age(response) -> int:
    match = re.fullmatch(r"(public|private), max-age=(\d+)", response.headers["Cache-Control"])
    assert match, response.headers["Cache-Control"]
    return int(match.group(2))


def held(body: dict) -> dict[str, tuple[str, str | None]]:
    return {f["id"]: (f["properties"]["status"], f["properties"]["next_change"]) for f in body["features"]}


def ids(response) -> list[str]:
    return [f["id"] for f in response.json["features"]]


def local_iso(t: datetime) -> str:
    return t.astimezone(XINING).isoformat()


def truth(services, at: datetime, wanted: set[str]) -> tuple[dict, datetime | None]:
    """What the list must say at `at`, straight from each stored closure's timeline, and its next change."""
    out, changes = {}, []
    for id in DEMO:
        view = services.registry.closure(id, ANONYMOUS)
        timeline = view.closure.timeline(view.project)
        status, change = timeline.status_at(at), timeline.next_change(at)
        changes.append(change)
        if status in wanted:
            out[id] = (status, None if change is None else local_iso(change))
    return out, min((c for c in changes if c is not None), default=None)


def poll(client, services, clock, query: dict, wanted: set[str], validator: str) -> list[int]:
    """Poll like a partner, stepping the clock 1 s, 10 s, 59 s, ...; check every answer against the truth."""
    first = client.get(CLOSURES, query_string=query)
    assert first.status_code == 200
    body, tag, modified = first.json, first.headers["ETag"], first.headers.get("Last-Modified")
    codes, steps, stop = [], cycle([1, 10, 59]), clock.now + timedelta(seconds=400)
    while clock.now < stop:
        clock.advance(seconds=next(steps))
        headers = {"If-None-Match": tag} if validator == "etag" else {"If-Modified-Since": modified or ""}
        response = client.get(CLOSURES, query_string=query, headers=headers)
        assert response.status_code in (200, 304)
        if response.status_code == 200:
            body, tag, modified = response.json, response.headers["ETag"], response.headers.get("Last-Modified")
        expected, change = truth(services, clock.now, wanted)
        assert held(body) == expected, (clock.now, response.status_code)
        if change is not None:
            assert clock.now + timedelta(seconds=max_age(response)) <= change, (clock.now, max_age(response))
        codes.append(response.status_code)
    return codes


# ---------------------------------------------------------------------------- polling across a boundary

@pytest.mark.parametrize("offset", [-70, -61, -3, -1])
@pytest.mark.parametrize("boundary", list(BOUNDARIES))
@pytest.mark.parametrize("name", list(QUERIES))
def test_polling_with_if_none_match_never_keeps_a_stale_status(demo, client, clock, name, boundary, offset):
    clock.now = BOUNDARIES[boundary].astimezone(UTC) + timedelta(seconds=offset)
    codes = poll(client, demo, clock, QUERIES[name], WANTED[name], "etag")
    assert 304 in codes


@pytest.mark.parametrize("offset", [-70, -61, -3, -1])
@pytest.mark.parametrize("boundary", list(BOUNDARIES))
@pytest.mark.parametrize("name", list(QUERIES))
def test_polling_with_if_modified_since_never_keeps_a_stale_status(demo, client, clock, name, boundary, offset):
    clock.now = BOUNDARIES[boundary].astimezone(UTC) + timedelta(seconds=offset)
    codes = poll(client, demo, clock, QUERIES[name], WANTED[name], "date")
    assert 304 in codes


def test_list_changes_exactly_at_the_reopening(demo, client, clock):
    clock.now = REOPENING.astimezone(UTC) - timedelta(seconds=1)
    before = client.get(CLOSURES)
    assert held(before.json)[GONGHE][0] == "active" and max_age(before) <= 1
    clock.advance(seconds=1)
    after = client.get(CLOSURES, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and GONGHE not in ids(after)


def test_list_changes_exactly_when_september_works_begin(demo, client, clock):
    clock.now = SEPTEMBER.astimezone(UTC) - timedelta(seconds=59)
    before = client.get(CLOSURES)
    assert held(before.json)[NANXIAO][0] == "upcoming" and max_age(before) <= 59
    clock.advance(seconds=59)
    after = client.get(CLOSURES, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert held(after.json)[NANXIAO][0] == held(after.json)[YANGJIA][0] == "active"


def test_unchanged_list_stays_304_while_no_status_changes(demo, client, clock):
    tag = client.get(CLOSURES).headers["ETag"]
    for seconds in (1, 10, 59, 3600, 86400):
        clock.advance(seconds=seconds)
        response = client.get(CLOSURES, headers={"If-None-Match": tag})
        assert response.status_code == 304
        assert response.headers["ETag"] == tag and "Cache-Control" in response.headers


def test_304_carries_the_max_age_of_now(demo, client, clock):
    clock.now = REOPENING.astimezone(UTC) - timedelta(seconds=50)
    tag = client.get(CLOSURES).headers["ETag"]
    clock.advance(seconds=45)
    response = client.get(CLOSURES, headers={"If-None-Match": tag})
    assert response.status_code == 304 and max_age(response) <= 5


def test_if_modified_since_keeps_no_stale_status_at_a_sub_second_boundary(demo, client, clock, auth,
                                                                         editor_token, closure_body):
    start = clock.now + timedelta(seconds=10, milliseconds=500)
    body = closure_body("fraction", schedule={"windows": [{"start": local_iso(start), "end": "2024-05-25"}]})
    assert client.post(CLOSURES, json=body, headers=auth(editor_token)).status_code == 201
    clock.advance(seconds=10, milliseconds=200)
    before = client.get(CLOSURES)
    assert held(before.json)["fraction"][0] == "upcoming" and max_age(before) == 0
    clock.advance(milliseconds=500)
    after = client.get(CLOSURES, headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert after.status_code == 200 and held(after.json)["fraction"][0] == "active"


def test_if_none_match_keeps_no_stale_status_at_a_sub_second_boundary(demo, client, clock, auth, editor_token,
                                                                        closure_body):
    start = clock.now + timedelta(seconds=10, milliseconds=500)
    body = closure_body("fraction", schedule={"windows": [{"start": local_iso(start), "end": "2024-05-25"}]})
    assert client.post(CLOSURES, json=body, headers=auth(editor_token)).status_code == 201
    clock.advance(seconds=10, milliseconds=200)
    before = client.get(CLOSURES)
    clock.advance(milliseconds=500)
    after = client.get(CLOSURES, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and held(after.json)["fraction"][0] == "active"


# ---------------------------------------------------------------------------- writes

def patch_road(client, auth, token, id: str, road: str):
    tag = client.get(f"{CLOSURES}/{id}").headers["ETag"]
    response = client.patch(f"{CLOSURES}/{id}", json={"properties": {"road": road}},
                            headers=auth(token, If_Match=tag))
    assert response.status_code == 200, response.json


def test_a_write_makes_the_next_get_return_new_content(demo, client, auth, editor_token):
    before = client.get(CLOSURES)
    patch_road(client, auth, editor_token, NANXIAO, "南小街")
    after = client.get(CLOSURES, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert {f["id"]: f["properties"]["road"] for f in after.json["features"]}[NANXIAO] == "南小街"


def test_a_write_invalidates_the_listing_of_every_query(demo, client, auth, editor_token):
    queries = [{}, {"status": "all"}, {"road": "东关"}, {"at": "2024-06-03T12:00:00+08:00"}]
    tags = [client.get(CLOSURES, query_string=q).headers["ETag"] for q in queries]
    patch_road(client, auth, editor_token, NANXIAO, "东关大街西段")
    for query, tag in zip(queries, tags):
        assert client.get(CLOSURES, query_string=query, headers={"If-None-Match": tag}).status_code == 200, query


def test_a_delete_drops_the_closure_from_the_next_get(demo, client, auth, editor_token):
    before = client.get(CLOSURES, query_string={"status": "all"})
    tag = client.get(f"{CLOSURES}/{YANGJIA}").headers["ETag"]
    assert client.delete(f"{CLOSURES}/{YANGJIA}", headers=auth(editor_token, If_Match=tag)).status_code == 204
    after = client.get(CLOSURES, query_string={"status": "all"}, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and YANGJIA not in ids(after)


def test_a_write_a_second_later_beats_if_modified_since(demo, client, clock, auth, editor_token):
    clock.advance(seconds=1)
    before = client.get(CLOSURES)
    clock.advance(seconds=1)
    patch_road(client, auth, editor_token, NANXIAO, "南小街")
    after = client.get(CLOSURES, headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert after.status_code == 200
    assert {f["id"]: f["properties"]["road"] for f in after.json["features"]}[NANXIAO] == "南小街"


def test_a_write_in_the_same_second_beats_if_modified_since(demo, client, clock, auth, editor_token):
    clock.advance(seconds=1)
    before = client.get(CLOSURES)
    patch_road(client, auth, editor_token, NANXIAO, "南小街")
    after = client.get(CLOSURES, headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert after.status_code == 200


def test_no_last_modified_until_the_second_of_the_last_change_is_over(demo, client, clock, auth, editor_token):
    assert "Last-Modified" not in client.get(CLOSURES).headers  # the demo was written this very second
    clock.advance(milliseconds=999)
    patch_road(client, auth, editor_token, NANXIAO, "南小街")
    assert "Last-Modified" not in client.get(CLOSURES).headers
    clock.advance(seconds=1)
    modified = parsedate_to_datetime(client.get(CLOSURES).headers["Last-Modified"])
    assert modified == clock.now.replace(microsecond=0) - timedelta(seconds=1)


def test_last_modified_never_goes_back_after_a_write(demo, client, clock, auth, editor_token):
    clock.advance(seconds=1)
    first = parsedate_to_datetime(client.get(CLOSURES).headers["Last-Modified"])
    clock.advance(seconds=30)
    patch_road(client, auth, editor_token, NANXIAO, "南小街")
    clock.advance(seconds=1)
    second = parsedate_to_datetime(client.get(CLOSURES).headers["Last-Modified"])
    assert second > first


# ---------------------------------------------------------------------------- drafts

@pytest.fixture
def draft(demo, client, clock, auth, editor_token, closure_body):
    """A draft that becomes public 30 s from now, active from then on."""
    publish = clock.now + timedelta(seconds=30)
    body = closure_body("dongguan-draft", publish_at=local_iso(publish))
    response = client.post(CLOSURES, json=body, headers=auth(editor_token))
    assert response.status_code == 201, response.json
    return publish


def test_public_listing_expires_when_the_draft_is_published(draft, client, clock):
    before = client.get(CLOSURES)
    assert "dongguan-draft" not in ids(before)
    # max-age does not tell that a draft is coming (issue 10): it ends at the clock's next whole minute.
    assert max_age(before) == 60
    clock.advance(seconds=29)
    assert client.get(CLOSURES, headers={"If-None-Match": before.headers["ETag"]}).status_code == 304
    clock.advance(seconds=1)
    after = client.get(CLOSURES, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and "dongguan-draft" in ids(after)


def test_public_listing_with_if_modified_since_shows_the_published_draft(draft, client, clock):
    clock.advance(seconds=1)
    before = client.get(CLOSURES)
    clock.advance(seconds=30)
    after = client.get(CLOSURES, headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert after.status_code == 200 and "dongguan-draft" in ids(after)


def test_explicit_at_listing_also_shows_the_draft_once_published(draft, client, clock):
    query = {"at": "2024-05-25T12:00:00+08:00"}
    before = client.get(CLOSURES, query_string=query)
    assert "dongguan-draft" not in ids(before)
    clock.advance(seconds=31)
    after = client.get(CLOSURES, query_string=query, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and "dongguan-draft" in ids(after)


def test_editor_sees_the_draft_before_it_is_published(draft, client, auth, editor_token):
    response = client.get(CLOSURES, headers=auth(editor_token))
    assert "dongguan-draft" in ids(response)
    assert response.headers["Cache-Control"].startswith("private")


def test_editor_listing_does_not_leak_to_the_public(draft, client, auth, editor_token):
    editor = client.get(CLOSURES, headers=auth(editor_token))
    public = client.get(CLOSURES)
    assert "dongguan-draft" in ids(editor) and "dongguan-draft" not in ids(public)
    assert editor.headers["ETag"] != public.headers["ETag"]
    assert client.get(CLOSURES, headers={"If-None-Match": editor.headers["ETag"]}).status_code == 200


def test_public_listing_does_not_leak_to_the_editor(draft, client, auth, editor_token):
    public = client.get(CLOSURES)
    editor = client.get(CLOSURES, headers=auth(editor_token))
    assert "dongguan-draft" not in ids(public) and "dongguan-draft" in ids(editor)
    again = client.get(CLOSURES, headers=auth(editor_token, If_None_Match=public.headers["ETag"]))
    assert again.status_code == 200 and "dongguan-draft" in ids(again)


def test_other_agency_does_not_get_the_editor_listing(draft, client, auth, editor_token, other_editor_token,
                                                      admin_token):
    client.get(CLOSURES, headers=auth(editor_token))
    assert "dongguan-draft" not in ids(client.get(CLOSURES, headers=auth(other_editor_token)))
    assert "dongguan-draft" in ids(client.get(CLOSURES, headers=auth(admin_token)))


def test_editor_listing_is_unchanged_when_the_draft_goes_public(draft, client, clock, auth, editor_token):
    tag = client.get(CLOSURES, headers=auth(editor_token)).headers["ETag"]
    clock.advance(seconds=45)
    again = client.get(CLOSURES, headers=auth(editor_token, If_None_Match=tag))
    assert again.status_code == 304
    assert client.get(CLOSURES).headers["ETag"] == tag


# ---------------------------------------------------------------------------- explicit `at`

AT = "2024-05-30T12:00:00+08:00"


def test_explicit_at_is_echoed_in_the_body(demo, client):
    body = client.get(CLOSURES, query_string={"at": AT}).json
    assert datetime.fromisoformat(body["at"]) == datetime.fromisoformat(AT)
    assert held(body)[GONGHE] == ("active", "2024-05-31T00:00:00+08:00")


def test_default_listing_carries_no_at(demo, client):
    assert "at" not in client.get(CLOSURES).json


def test_explicit_at_listing_stays_the_same_while_the_clock_moves(demo, client, clock):
    first = client.get(CLOSURES, query_string={"at": AT})
    for seconds in (1, 10, 59, 3600, 86400 * 20, 86400 * 120):
        clock.advance(seconds=seconds)
        again = client.get(CLOSURES, query_string={"at": AT}, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, clock.now
        plain = client.get(CLOSURES, query_string={"at": AT})
        assert plain.headers["ETag"] == first.headers["ETag"] and plain.data == first.data


def test_explicit_at_listing_is_rendered_once_while_nothing_changes(demo, client, clock, monkeypatch):
    from roadworks.api import public

    renders = []
    real = public.closures_page
    monkeypatch.setattr(public, "closures_page", lambda *a, **k: renders.append(1) or real(*a, **k))
    first = client.get(CLOSURES, query_string={"at": AT})
    # Each a new spelling of the same query, so each reaches the view (a repeated one would be replayed).
    spellings = ({"at": AT, "limit": "500"}, {"limit": "0500", "at": AT}, {"crs": "wgs84", "at": AT}, {"at": AT})
    for seconds, query in zip((1, 10, 59, 86400 * 5), spellings):
        clock.advance(seconds=seconds)
        assert client.get(CLOSURES, query_string=query).data == first.data
    assert renders == [1]


def test_explicit_at_listing_changes_when_data_changes(demo, client, clock, auth, editor_token):
    first = client.get(CLOSURES, query_string={"at": AT})
    clock.advance(days=3)
    patch_road(client, auth, editor_token, GONGHE, "东关大街东段")
    again = client.get(CLOSURES, query_string={"at": AT}, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert {f["id"]: f["properties"]["road"] for f in again.json["features"]}[GONGHE] == "东关大街东段"


def test_same_instant_in_another_offset_gives_the_same_content(demo, client):
    local = client.get(CLOSURES, query_string={"at": AT})
    utc = client.get(CLOSURES, query_string={"at": "2024-05-30T04:00:00Z"})
    assert held(local.json) == held(utc.json)


# ---------------------------------------------------------------------------- paging

@pytest.fixture
def seven(demo, client, auth, editor_token, closure_body):
    """Seven closures, all on 东关大街 inside the street's box."""
    for id in ("extra-b", "extra-a", "extra-d", "extra-c"):
        assert client.post(CLOSURES, json=closure_body(id), headers=auth(editor_token)).status_code == 201
    return demo


def next_link(response) -> str | None:
    link = response.headers.get("Link")
    if not link:
        return None
    assert link.endswith('; rel="next"')
    return link[link.index("<") + 1:link.index(">")]


def walk(client, query: dict, headers=None) -> list:
    pages, url, args = [], CLOSURES, query
    while True:
        response = client.get(url, query_string=args, headers=headers)
        assert response.status_code == 200, response.json
        pages.append(response)
        target = next_link(response)
        if target is None:
            return pages
        parts = urlsplit(target)
        url, args = parts.path + "?" + parts.query, None
        assert len(pages) < 20


PAGED = {"status": "all", "limit": "2", "road": "东关", "bbox": "101.78,36.60,101.81,36.62",
         "project": "dongguan-gas-2024", "at": "2024-05-30T12:00:00+08:00"}


def test_pages_cover_everything_once_in_id_order(seven, client):
    pages = walk(client, PAGED)
    seen = [id for page in pages for id in ids(page)]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 7
    assert [len(ids(p)) for p in pages] == [2, 2, 2, 1]


def test_number_matched_is_stable_across_pages(seven, client):
    pages = walk(client, PAGED)
    assert [p.json["numberMatched"] for p in pages] == [7, 7, 7, 7]
    assert [p.json["numberReturned"] for p in pages] == [2, 2, 2, 1]


def test_number_matched_counts_only_the_status_filter(seven, client):
    pages = walk(client, dict(PAGED, status="active", at="2024-06-03T12:00:00+08:00"))
    # On 3 June the project pause holds the four extras; Ledu-Gonghe is completed; September ones upcoming.
    assert [p.json["numberMatched"] for p in pages] == [0]


def test_next_link_keeps_every_other_query_parameter(seven, client):
    first = client.get(CLOSURES, query_string=PAGED)
    args = {k: v[0] for k, v in parse_qs(urlsplit(next_link(first)).query).items()}
    cursor = args.pop("cursor")
    assert cursor and args == PAGED


def test_cursor_from_one_query_continues_that_query(seven, client):
    first = client.get(CLOSURES, query_string=PAGED)
    cursor = parse_qs(urlsplit(next_link(first)).query)["cursor"][0]
    second = client.get(CLOSURES, query_string=dict(PAGED, cursor=cursor))
    assert second.status_code == 200
    assert ids(first) == [GONGHE, NANXIAO] and ids(second) == [YANGJIA, "extra-a"]


def test_cursor_works_with_another_page_size(seven, client):
    first = client.get(CLOSURES, query_string=PAGED)
    cursor = parse_qs(urlsplit(next_link(first)).query)["cursor"][0]
    rest = client.get(CLOSURES, query_string=dict(PAGED, cursor=cursor, limit="10"))
    assert ids(rest) == [YANGJIA, "extra-a", "extra-b", "extra-c", "extra-d"]
    assert "Link" not in rest.headers and rest.json["numberMatched"] == 7


def test_pages_are_cached_separately(seven, client):
    first = client.get(CLOSURES, query_string=PAGED)
    second = client.get(next_link(first))
    assert first.headers["ETag"] != second.headers["ETag"]
    assert client.get(next_link(first), headers={"If-None-Match": second.headers["ETag"]}).status_code == 304
    assert client.get(CLOSURES, query_string=PAGED, headers={"If-None-Match": second.headers["ETag"]}).status_code \
        == 200


def test_paging_through_a_write_neither_repeats_nor_skips_the_others(seven, client, auth, editor_token,
                                                                       closure_body):
    first = client.get(CLOSURES, query_string=PAGED)
    assert client.post(CLOSURES, json=closure_body("aaa-new"), headers=auth(editor_token)).status_code == 201
    rest = walk(client, {k: v[0] for k, v in parse_qs(urlsplit(next_link(first)).query).items()})
    seen = ids(first) + [id for page in rest for id in ids(page)]
    assert seen == [GONGHE, NANXIAO, YANGJIA, "extra-a", "extra-b", "extra-c", "extra-d"]
    assert all(p.json["numberMatched"] == 8 for p in rest)


def test_editor_pages_include_drafts_and_count_them(seven, client, auth, editor_token, closure_body):
    body = closure_body("extra-draft", publish_at="2024-12-01")
    assert client.post(CLOSURES, json=body, headers=auth(editor_token)).status_code == 201
    editor = walk(client, PAGED, headers=auth(editor_token))
    public = walk(client, PAGED)
    assert {p.json["numberMatched"] for p in editor} == {8}
    assert {p.json["numberMatched"] for p in public} == {7}
    assert "extra-draft" in [id for page in editor for id in ids(page)]
