"""The feed endpoints: WZDx and iCalendar over HTTP, filtered like /closures, cached, drafts left out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import icalendar
import recurring_ical_events

WZDX, ICS = "/feeds/wzdx.geojson", "/feeds/closures.ics"
WAZE_JSON, WAZE_XML = "/feeds/waze.json", "/feeds/waze.xml"
GONGHE, NANXIAO, YANGJIA = "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"


def closure_ids_in_wzdx(response) -> set[str]:
    return {f["id"].split(":")[0]
            for f in response.json["features"]}


def closure_ids_in_ics(response) -> set[str]:
    calendar = icalendar.Calendar.from_ical(response.data)
    return {str(event["UID"]).rsplit("-", 2)[0] for event in calendar.walk("VEVENT")}


def test_wzdx_feed_is_geojson_with_the_closures_in_its_horizon(demo, client, clock):
    clock.now = datetime(2024, 8, 20, 4, tzinfo=timezone.utc)
    response = client.get(WZDX)
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert response.json["type"] == "FeatureCollection"
    assert closure_ids_in_wzdx(response) == {NANXIAO, YANGJIA}
    assert response.json["feed_info"]["update_date"].endswith("Z")


def test_calendar_is_text_calendar_and_readable_by_a_client(demo, client):
    response = client.get(ICS)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    events = recurring_ical_events.of(calendar).at((2024, 5, 20))
    assert [str(e["UID"]).startswith(GONGHE) for e in events] == [True]


def test_feeds_filter_by_road_project_and_area(demo, client, clock):
    clock.now = datetime(2024, 8, 20, 4, tzinfo=timezone.utc)
    yangjia_box = "101.802,36.610,101.809,36.612"
    assert closure_ids_in_ics(client.get(ICS, query_string={"bbox": yangjia_box})) == {YANGJIA}
    assert closure_ids_in_wzdx(client.get(WZDX, query_string={"bbox": yangjia_box})) == {YANGJIA}
    assert closure_ids_in_ics(client.get(ICS, query_string={"project": "nope"})) == set()
    assert closure_ids_in_ics(client.get(ICS, query_string={"road": "东关"})) == {NANXIAO, YANGJIA}


def test_bad_feed_queries_get_problems_naming_the_parameter(demo, client):
    for path in (WZDX, ICS, WAZE_JSON, WAZE_XML):
        response = client.get(path, query_string={"bbox": "1,2,3"})
        assert response.status_code == 400 and "bbox" in response.json["errors"]
        assert "colour" in client.get(path, query_string={"colour": "red"}).json["errors"]


def test_feeds_answer_304_until_the_data_changes(demo, client, clock, auth, editor_token):
    for path in (WZDX, ICS, WAZE_JSON, WAZE_XML):
        first = client.get(path)
        clock.advance(seconds=5)
        assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    tag = client.get(f"/api/v1/closures/{GONGHE}").headers["ETag"]
    before = client.get(ICS)
    patched = client.patch(f"/api/v1/closures/{GONGHE}", json={"properties": {"detour": "经南小街绕行"}},
                           headers=auth(editor_token, If_Match=tag))
    assert patched.status_code == 200
    assert client.get(ICS, headers={"If-None-Match": before.headers["ETag"]}).status_code == 200


def test_feed_max_age_never_passes_the_next_change(demo, client, clock):
    clock.now = datetime(2024, 5, 30, 15, 59, 30, tzinfo=timezone.utc)  # 30 s before the reopening
    for path in (WZDX, ICS, WAZE_JSON, WAZE_XML):
        age = int(client.get(path).headers["Cache-Control"].split("max-age=")[1])
        assert clock.now + timedelta(seconds=age) <= datetime(2024, 5, 30, 16, tzinfo=timezone.utc)


def test_drafts_stay_out_of_the_feeds_until_published(demo, client, clock, auth, editor_token, closure_body):
    publish = clock.now + timedelta(hours=1)
    body = closure_body("draft-1", publish_at=publish.isoformat(),
                        schedule={"windows": [{"start": "2024-05-01", "end": "2024-05-30"}]})
    assert client.post("/api/v1/closures", json=body, headers=auth(editor_token)).status_code == 201
    assert "draft-1" not in closure_ids_in_ics(client.get(ICS))
    assert "draft-1" not in closure_ids_in_wzdx(client.get(WZDX))
    clock.now = publish
    assert "draft-1" in closure_ids_in_ics(client.get(ICS))
    assert "draft-1" in closure_ids_in_wzdx(client.get(WZDX))


def test_waze_feeds_carry_the_same_incidents_in_json_and_xml(demo, client):
    from lxml import etree

    incidents = client.get(WAZE_JSON).json["incidents"]
    response = client.get(WAZE_XML)
    assert response.status_code == 200 and response.mimetype == "application/xml"
    ids = [i.get("id") for i in etree.fromstring(response.data).iter("incident")]
    assert ids == [i["id"] for i in incidents]
    assert {i.split(":")[0] for i in ids} == {GONGHE, NANXIAO, YANGJIA}  # September lies within the horizon


def _first_point_wzdx(response) -> tuple[float, float]:
    return tuple(response.json["features"][0]["geometry"]["coordinates"][0])


def _first_point_waze(incidents) -> tuple[float, float]:
    lat, lon = incidents[0]["polyline"].split()[:2]
    return float(lon), float(lat)


def test_every_feed_answers_in_gcj02_when_asked_and_says_so(demo, client):
    from lxml import etree
    from pyproj import Geod

    from roadworks.domain.crs import URIS, point_from

    def shift_m(a, b) -> float:
        return Geod(ellps="WGS84").inv(a[0], a[1], b[0], b[1])[2]

    gcj = {"crs": "gcj02"}
    wgs_wzdx, gcj_wzdx = client.get(WZDX), client.get(WZDX, query_string=gcj)
    wgs_waze, gcj_waze = client.get(WAZE_JSON), client.get(WAZE_JSON, query_string=gcj)
    xml = etree.fromstring(client.get(WAZE_XML, query_string=gcj).data)
    for response in (gcj_wzdx, gcj_waze, client.get(WAZE_XML, query_string=gcj), client.get(ICS, query_string=gcj)):
        assert response.status_code == 200 and response.headers["Content-Crs"] == f"<{URIS['gcj02']}>"
    assert "Content-Crs" not in wgs_wzdx.headers and "coordinate_system" not in wgs_wzdx.json
    assert gcj_wzdx.json["coordinate_system"]["name"] == "GCJ-02"
    for wgs, moved in ((_first_point_wzdx(wgs_wzdx), _first_point_wzdx(gcj_wzdx)),
                       (_first_point_waze(wgs_waze.json["incidents"]), _first_point_waze(gcj_waze.json["incidents"]))):
        assert 100 < shift_m(wgs, moved) < 700 and shift_m(point_from(*moved, "gcj02"), wgs) < 1
    assert xml.find(".//polyline").text == gcj_waze.json["incidents"][0]["polyline"]
    wgs_geo = icalendar.Calendar.from_ical(client.get(ICS).data).walk("VEVENT")[0]["GEO"]
    gcj_geo = icalendar.Calendar.from_ical(client.get(ICS, query_string=gcj).data).walk("VEVENT")[0]["GEO"]
    assert 100 < shift_m((wgs_geo.longitude, wgs_geo.latitude), (gcj_geo.longitude, gcj_geo.latitude)) < 700


def test_a_gcj02_bbox_is_read_in_gcj02(demo, client, clock):
    from roadworks.domain.crs import wgs84_to_gcj02

    clock.now = datetime(2024, 8, 20, 4, tzinfo=timezone.utc)
    yangjia_gcj = ",".join(f"{v:.6f}" for v in (*wgs84_to_gcj02(101.802, 36.610), *wgs84_to_gcj02(101.809, 36.612)))
    assert closure_ids_in_wzdx(client.get(WZDX, query_string={"bbox": yangjia_gcj, "crs": "gcj02"})) == {YANGJIA}


def test_an_unknown_crs_is_a_problem_naming_it(demo, client):
    for path in (WZDX, ICS, WAZE_JSON, WAZE_XML):
        response = client.get(path, query_string={"crs": "bd09"})
        assert response.status_code == 400 and "crs" in response.json["errors"]


def test_feed_max_age_never_passes_the_horizon_sliding_at_utc_midnight(demo, client, clock):
    clock.now = datetime(2024, 8, 20, 23, 59, tzinfo=timezone.utc)  # the September closures change on 1 Sep
    for path in (WZDX, ICS, WAZE_JSON, WAZE_XML):
        assert client.get(path).headers["Cache-Control"].endswith("max-age=60")


def test_the_horizon_is_configurable(demo, make_app, clock):
    clock.now = datetime(2024, 8, 20, 4, tzinfo=timezone.utc)
    near = make_app(FEED_DAYS_AHEAD=5, FEED_DAYS_BACK=1).test_client()
    assert closure_ids_in_wzdx(near.get(WZDX)) == set()  # 1 Sep lies beyond five days ahead
    wide = make_app(FEED_DAYS_AHEAD=20).test_client()
    assert closure_ids_in_wzdx(wide.get(WZDX)) == {NANXIAO, YANGJIA}


def test_a_feed_is_built_once_per_change_not_once_per_poll(demo, client, clock, auth, editor_token, monkeypatch):
    from roadworks.api import feeds

    built = []
    real = feeds.work_zone_feed
    monkeypatch.setattr(feeds, "work_zone_feed", lambda *a, **k: built.append(1) or real(*a, **k))
    first = client.get(WZDX)
    clock.advance(seconds=10)
    again = client.get(WZDX)
    assert len(built) == 1 and again.data == first.data
    assert client.get(WZDX, query_string={"road": "东关"}).status_code == 200 and len(built) == 2  # its own key
    tag = client.get(f"/api/v1/closures/{GONGHE}").headers["ETag"]
    client.patch(f"/api/v1/closures/{GONGHE}", json={"properties": {"detour": "经南小街绕行"}},
                 headers=auth(editor_token, If_Match=tag))
    assert client.get(WZDX).data != first.data and len(built) == 3


def test_a_reopened_closure_leaves_the_waze_feed_a_day_later_even_when_cached(demo, client, clock):
    reopened = datetime(2024, 5, 30, 16, tzinfo=timezone.utc)  # 31 May 00:00 in Xining
    clock.now = reopened + timedelta(hours=20)
    response = client.get(WAZE_JSON)
    assert GONGHE in {i["id"].split(":")[0] for i in response.json["incidents"]}
    age = int(response.headers["Cache-Control"].split("max-age=")[1])
    assert clock.now + timedelta(seconds=age) <= reopened + timedelta(days=1)
    clock.now = reopened + timedelta(days=1)
    assert GONGHE not in {i["id"].split(":")[0] for i in client.get(WAZE_JSON).json["incidents"]}


def test_after_a_write_only_the_changed_closure_is_rendered_again(demo, client, clock, auth, editor_token,
                                                                  monkeypatch):
    from roadworks.feeds import waze, wzdx

    rendered = []

    def counted(name, real):
        return lambda entry, *args: rendered.append((name, entry.id)) or real(entry, *args)

    for module, name in ((wzdx, "_serialised"), (waze, "_by_period")):
        monkeypatch.setattr(module, name, counted(name, getattr(module, name)))
    paths = [WZDX, WAZE_JSON, WAZE_XML, WZDX + "?crs=gcj02", WAZE_XML + "?crs=gcj02"]
    for path in paths:
        assert client.get(path).status_code == 200
    assert len(rendered) == 3 * len(paths)
    rendered.clear()
    tag = client.get(f"/api/v1/closures/{GONGHE}").headers["ETag"]
    patched = client.patch(f"/api/v1/closures/{GONGHE}", json={"properties": {"detour": "经南小街绕行"}},
                           headers=auth(editor_token, If_Match=tag))
    assert patched.status_code == 200
    memoised = {path: client.get(path).data for path in paths}
    assert {id for _, id in rendered} == {GONGHE} and len(rendered) == len(paths)
    assert "经南小街绕行".encode() in memoised[WZDX]
    _assert_rendered_afresh_alike(client, monkeypatch, memoised)


def test_a_new_utc_day_renders_again_only_the_closures_whose_shown_periods_moved(demo, client, clock,
                                                                                 add_closure, monkeypatch):
    from roadworks.api.feeds import horizon
    from roadworks.feeds import feed_periods, ical, waze, wzdx

    # Nights in September, over before the horizon's end: nothing about it moves when a new day begins.
    add_closure("nights", schedule={"windows": [{"start": "2024-09-02", "end": "2024-09-20", "label": "夜间"}],
                                    "hours": [{"days": ["mon", "tue", "wed"], "start": "22:00", "end": "06:00"}]})
    rendered = []

    def counted(name, real):
        return lambda entry, *args: rendered.append((name, entry.id)) or real(entry, *args)

    for module, name in ((wzdx, "_serialised"), (waze, "_by_period"), (ical, "closure_part")):
        monkeypatch.setattr(module, name, counted(name, getattr(module, name)))
    paths = [WZDX, ICS, WAZE_JSON, WAZE_XML, WZDX + "?crs=gcj02", WAZE_XML + "?crs=gcj02"]
    clock.now = datetime(2024, 8, 20, 23, 59, 59, tzinfo=timezone.utc)
    for path in paths:
        assert client.get(path).status_code == 200
    assert {id for _, id in rendered} == {GONGHE, NANXIAO, YANGJIA, "nights"}
    rendered.clear()
    entries = list(demo.index.snapshot().entries())
    with client.application.test_request_context():
        before = {e.id: feed_periods(e, clock.now, horizon()) for e in entries}
        clock.now += timedelta(seconds=1)  # midnight: the horizon slides a day
        moved = {e.id for e in entries if feed_periods(e, clock.now, horizon()) != before[e.id]}
    memoised = {path: client.get(path).data for path in paths}
    # The closures open until further notice end at the horizon's end, which moved; the others are reused.
    assert moved == {NANXIAO, YANGJIA} and {id for _, id in rendered} == moved
    assert len(rendered) == len(moved) * len(paths)
    assert b"nights" in memoised[ICS] and b"nights" in memoised[WAZE_XML]
    _assert_rendered_afresh_alike(client, monkeypatch, memoised)


def test_memoised_feeds_stay_exact_as_the_clock_moves(demo, client, clock, monkeypatch):
    reopened = datetime(2024, 5, 30, 16, tzinfo=timezone.utc)  # 31 May 00:00 in Xining
    paths = [WZDX, WAZE_JSON, WAZE_XML, WAZE_JSON + "?crs=gcj02"]
    for now in (reopened + timedelta(hours=20), reopened + timedelta(days=1) - timedelta(seconds=1),
                reopened + timedelta(days=1), datetime(2024, 8, 20, 23, 59, 59, tzinfo=timezone.utc),
                datetime(2024, 8, 21, tzinfo=timezone.utc)):
        clock.now = now
        _assert_rendered_afresh_alike(client, monkeypatch, {path: client.get(path).data for path in paths})


def _assert_rendered_afresh_alike(client, monkeypatch, memoised: dict[str, bytes]) -> None:
    """The same feeds rendered whole, with no parts memoised and no kept answer: byte for byte the same."""
    from roadworks.answers import AnswerCache
    from roadworks.api import feeds
    from roadworks.feeds import FragmentMemo

    services = client.application.extensions["roadworks"]
    with monkeypatch.context() as patch:
        patch.setattr(feeds, "_memo", lambda: None)  # the feeds render every closure's part afresh
        patch.setattr(services, "answers", AnswerCache(services.answers.budget))  # nothing kept to replay
        patch.setattr(services, "fragments", FragmentMemo())  # nor any page fragment
        for path, body in memoised.items():
            assert client.get(path).data == body, path


def test_fragment_memo_keeps_one_version_per_closure_within_its_limit(demo):
    from dataclasses import replace

    from roadworks.feeds import FragmentMemo
    from roadworks.domain.model import ClosureView

    memo, made = FragmentMemo(limit=2), []
    gonghe, nanxiao, yangjia = demo.index.snapshot().entries()

    def part(entry, extra="day 1"):
        return memo.get("wzdx", entry, "wgs84", extra, lambda: made.append(entry.id) or f"{entry.id} {entry.seq}")

    assert part(gonghe) == part(gonghe) == f"{GONGHE} {gonghe.seq}" and made == [GONGHE]
    assert part(replace(gonghe, seq=gonghe.seq + 1)).endswith(str(gonghe.seq + 1)) and len(memo) == 1
    assert part(gonghe) and len(made) == 3  # the older version was dropped
    # A project edit gives the closure a new view under the same sequence: rendered again.
    moved = replace(gonghe, view=ClosureView(gonghe.view.closure, replace(gonghe.view.project, agency="x")))
    assert part(moved) and len(made) == 4
    assert part(moved, "day 2") and len(made) == 5 and len(memo) == 1
    part(nanxiao), part(yangjia)
    assert len(memo) == 2 and part(moved, "day 2") and len(made) == 8  # the least recently used went first


# ---------------------------------------------------------------------- cost per new query and the feed cap

def test_a_new_calendar_area_joins_kept_closure_parts(demo, client, monkeypatch):
    from roadworks.api.feeds import horizon
    from roadworks.feeds import ical

    rendered = []
    real = ical.closure_part
    monkeypatch.setattr(ical, "closure_part",
                        lambda entry, *a, **kw: rendered.append(entry.id) or real(entry, *a, **kw))
    whole = client.get(ICS + "?bbox=101.70,36.55,101.85,36.70")
    assert whole.status_code == 200 and sorted(rendered) == sorted([GONGHE, NANXIAO, YANGJIA])
    for bbox in ("101.70,36.55,101.85,36.69", "101.71,36.55,101.85,36.70", "101.78,36.60,101.80,36.62"):
        assert client.get(f"{ICS}?bbox={bbox}").status_code == 200
    assert client.get(ICS + "?road=东关").status_code == 200
    assert len(rendered) == 3  # four more answers, no closure rendered again
    # The joined calendar is byte for byte what rendering afresh, without kept parts, writes.
    with client.application.test_request_context():
        fresh = ical.closure_calendar(demo.index.snapshot().entries(), demo.clock(), horizon(),
                                      map_url=_map_url(whole))
    assert whole.data == fresh


def _map_url(response) -> str:
    calendar = icalendar.Calendar.from_ical(response.data)
    url = str(next(iter(calendar.walk("VEVENT")))["URL"])
    return url.split("?")[0]


def test_a_write_past_the_feed_cap_is_a_422_naming_it(demo, client, auth, editor_token, closure_body):
    body = closure_body("flood", direction="both", schedule={
        "windows": [{"start": "2024-05-01", "end": "2199-12-31"}],
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "22:00", "end": "06:00"}]})
    body["geometry"] = {"type": "MultiLineString", "coordinates": [
        [[101.70 + k * 0.0003, 36.60], [101.7002 + k * 0.0003, 36.6001]] for k in range(400)]}
    response = client.post("/api/v1/closures", json=body, headers=auth(editor_token))
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "FEED_MAX_EVENTS_PER_CLOSURE is 15000" in response.json["errors"]["properties.schedule.hours"][0]
    assert client.get("/api/v1/closures/flood").status_code == 404


def test_feeds_cut_a_stored_closure_at_the_cap_setting(make_app, demo):
    from tests.feeds.test_wzdx import NIGHTS, inject
    from roadworks.domain.schedule import Schedule, Span
    from datetime import date

    inject(demo, "flood", 400, Schedule((Span(date(2024, 1, 1), date(2199, 12, 31)),), (), NIGHTS))
    client = make_app(FEED_MAX_EVENTS_PER_CLOSURE=1600).test_client()
    wzdx = client.get(WZDX + "?road=攻击").json["features"]
    assert len(wzdx) == 1600  # two nights, both ways, 400 parts
    waze = client.get(WAZE_JSON + "?road=攻击").json["incidents"]
    assert 0 < len(waze) <= 1600
    calendar = icalendar.Calendar.from_ical(client.get(ICS + "?road=攻击").data)
    assert 0 < len(list(calendar.walk("VEVENT"))) <= 1600


def test_open511_schedule_and_ogc_extent_do_not_walk_a_far_reaching_schedule():
    import time as clock_time
    from datetime import date, time

    from roadworks.domain.model import Closure, Project
    from roadworks.domain.schedule import Hours, Schedule, Span
    from roadworks.feeds import ogc, open511

    # Eight weekly entries over a window to 2999: 300,000 sessions if listed one by one.
    hours = tuple(Hours(frozenset({d}), time(8 + d), time(9 + d)) for d in range(7)) + (
        Hours(frozenset({6}), time(2, 30), time(4)),)
    closure = Closure(id="far", project="p", geometry={"type": "LineString", "coordinates": [[101.7, 36.6],
                                                                                            [101.71, 36.6]]},
                      schedule=Schedule((Span(date(2025, 1, 1), date(2999, 12, 31)),), (), hours), road="r")
    for zone in ("Asia/Shanghai", "Europe/Berlin"):
        timeline = closure.timeline(Project(id="p", name="n", agency="a", timezone=zone))
        started = clock_time.process_time()
        schedule = open511.schedule(timeline)
        span = ogc.effect_span(timeline)
        assert clock_time.process_time() - started < 5  # listing every session took minutes
        assert len(schedule["recurring_schedules"]) == 8
        assert span[0].date() == date(2025, 1, 1) and span[1].date() == date(2999, 12, 31)
        # 02:30 on a Sunday does not exist when Berlin's clocks spring forward: an exception once a year.
        assert (len(schedule.get("exceptions", [])) > 900) == (zone == "Europe/Berlin")


def _events_in(path: str, response) -> int:
    if path == WZDX:
        return len(response.json["features"])
    if path == WAZE_JSON:
        return len(response.json["incidents"])
    if path == WAZE_XML:
        return response.data.count(b"<incident ")
    return len(list(icalendar.Calendar.from_ical(response.data).walk("VEVENT")))


def test_a_feed_past_the_total_cap_is_a_400_naming_it_and_a_narrower_one_is_served(demo, client, make_app,
                                                                                  clock):
    clock.now = datetime(2024, 8, 20, 4, tzinfo=timezone.utc)
    yangjia_box = "101.802,36.610,101.809,36.612"
    for path in (WZDX, ICS, WAZE_JSON, WAZE_XML):
        whole = _events_in(path, client.get(path))
        narrow = _events_in(path, client.get(path, query_string={"bbox": yangjia_box}))
        assert 0 < narrow < whole, path
        capped = make_app(FEED_MAX_EVENTS=whole - 1, FEED_MAX_EVENTS_PER_CLOSURE=1).test_client()
        refused = capped.get(path)
        assert refused.status_code == 400 and refused.mimetype == "application/problem+json", path
        assert f"FEED_MAX_EVENTS={whole - 1}" in refused.json["errors"]["bbox"][0]
        served = capped.get(path, query_string={"bbox": yangjia_box})
        assert served.status_code == 200 and _events_in(path, served) == narrow, path
        assert capped.get(path).status_code == 400  # refused again, never a cut feed taken for the whole


def test_the_total_cap_never_refuses_what_one_closure_may_hold(demo, make_app, clock):
    clock.now = datetime(2024, 8, 20, 4, tzinfo=timezone.utc)
    capped = make_app(FEED_MAX_EVENTS=1, FEED_MAX_EVENTS_PER_CLOSURE=100).test_client()
    response = capped.get(WZDX, query_string={"bbox": "101.802,36.610,101.809,36.612"})
    assert response.status_code == 200 and 1 < len(response.json["features"]) <= 100


def test_a_refused_feed_is_refused_again_without_the_work_until_a_write_or_the_horizon_slides(
        demo, make_app, clock, auth, editor_token, monkeypatch):
    from roadworks.api import feeds

    clock.now = datetime(2024, 8, 20, 4, tzinfo=timezone.utc)
    capped = make_app(FEED_MAX_EVENTS=1, FEED_MAX_EVENTS_PER_CLOSURE=1).test_client()
    built = []
    real = feeds.work_zone_feed
    monkeypatch.setattr(feeds, "work_zone_feed", lambda *a, **k: built.append(1) or real(*a, **k))
    assert capped.get(WZDX).status_code == 400 and len(built) == 1
    clock.advance(hours=10)  # 14:00 UTC: the same horizon day
    again = capped.get(WZDX)
    assert again.status_code == 400 and "FEED_MAX_EVENTS=1" in again.json["errors"]["bbox"][0] and len(built) == 1
    clock.advance(hours=10)  # past UTC midnight: the horizon slid
    assert capped.get(WZDX).status_code == 400 and len(built) == 2
    tag = capped.get(f"/api/v1/closures/{GONGHE}").headers["ETag"]
    assert capped.delete(f"/api/v1/closures/{GONGHE}", headers=auth(editor_token, If_Match=tag)).status_code == 204
    assert capped.get(WZDX).status_code == 400 and len(built) == 3
