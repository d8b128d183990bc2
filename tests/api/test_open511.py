"""Open511 events: JSON and XML valid against the `open511` package's RELAX NG and Schematron, the schedule
read back by that package as the domain's periods, filters, paging, negotiation, problems and caching."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import pytz
from lxml import etree
from open511.converter import json_doc_to_xml, xml_to_json
from open511.utils.schedule import Schedule
from open511.validator import validate

from roadworks.domain.crs import URIS, wgs84_to_gcj02
from roadworks.feeds.open511 import daily_parts
from roadworks.domain.schedule import Hours

EVENTS = "/open511/events"
GONGHE, NANXIAO, YANGJIA = "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"
JURISDICTION = "roadworks.invalid"
XINING = timezone(timedelta(hours=8))
SHANGHAI = pytz.timezone("Asia/Shanghai")
NIGHTS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "06:00"}]
PAUSE = (datetime(2024, 6, 1, tzinfo=XINING), datetime(2024, 9, 1, tzinfo=XINING))  # the demo project's


def valid_json(document: dict) -> None:
    # The package's converter pops members of the document it is given: hand it a copy.
    validate(json_doc_to_xml(copy.deepcopy(document)))


def valid_xml(body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    validate(root)
    return root


def ids(response) -> list[str]:
    return [e["id"].split("/", 1)[1] for e in response.json["events"]]


def get_json(client, **query):
    response = client.get(EVENTS, query_string={"format": "json", **query})
    assert response.status_code == 200, response.json
    return response


def event_of(client, closure_id: str, **query) -> dict:
    found = [e for e in get_json(client, status="ALL", **query).json["events"] if e["id"].endswith("/" + closure_id)]
    assert len(found) == 1
    return found[0]


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=XINING)


def intervals(event: dict) -> list[tuple[datetime, datetime | None]]:
    out = []
    for item in event["schedule"]["intervals"]:
        start, end = item.split("/")
        out.append((local(start), local(end) if end else None))
    return out


# ---------------------------------------------------------------------------- the demo, valid in both forms

def test_demo_gives_three_valid_events_in_json_and_xml_with_the_same_content(demo, client):
    response = get_json(client, status="ALL")
    document = response.json
    assert ids(response) == [GONGHE, NANXIAO, YANGJIA]
    valid_json(document)
    xml = client.get(EVENTS, query_string={"status": "ALL"})
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    root = valid_xml(xml.data)
    # The package reads our XML back into exactly our JSON.
    read = json.loads(json.dumps(xml_to_json(root)))
    assert read.pop("meta")["url"].endswith("/open511/events?status=ALL")
    assert read == {k: v for k, v in document.items() if k != "meta"}
    gonghe = document["events"][0]
    assert gonghe["id"] == f"{JURISDICTION}/{GONGHE}" and gonghe["event_type"] == "CONSTRUCTION"
    assert gonghe["severity"] == "MAJOR" and gonghe["timezone"] == "Asia/Shanghai"
    assert gonghe["roads"] == [{"name": "东关大街", "from": "乐都路", "to": "共和路", "direction": "BOTH",
                                "state": "CLOSED"}]
    assert gonghe["geography"]["type"] == "LineString"
    assert gonghe["jurisdiction_url"] == f"http://localhost/open511/jurisdictions/{JURISDICTION}"
    # Closed from 12 April, reopened on 31 May, five days early; the others run until further notice.
    assert gonghe["schedule"] == {"intervals": ["2024-04-12T00:00/2024-05-31T00:00"]}
    assert document["events"][1]["schedule"] == {"intervals": ["2024-09-01T00:00/"]}


def test_reopened_closure_is_archived_and_updated_when_it_reopened(demo, client, clock):
    clock.now = datetime(2024, 6, 3, 4, tzinfo=timezone.utc)
    assert ids(get_json(client)) == [NANXIAO, YANGJIA]  # ACTIVE by default
    assert ids(get_json(client, status="archived")) == [GONGHE]
    gonghe = event_of(client, GONGHE)
    assert gonghe["status"] == "ARCHIVED" and gonghe["updated"] == "2024-05-31T00:00:00+08:00"
    assert ids(get_json(client, status="ALL", updated=">2024-05-30T00:00+08:00")) == [GONGHE]


def test_single_event_and_its_self_link(demo, client, clock):
    clock.now = datetime(2024, 6, 3, 4, tzinfo=timezone.utc)
    listed = event_of(client, GONGHE)
    one = client.get(urlsplit(listed["url"]).path, query_string={"format": "json"})
    assert one.status_code == 200 and one.json["events"] == [listed]
    valid_json(one.json)
    assert client.get(f"{EVENTS}/other.example.org/{GONGHE}").status_code == 404
    assert client.get(f"{EVENTS}/{JURISDICTION}/nope").status_code == 404


# ---------------------------------------------------------------------------- schedules

def test_a_window_across_the_pause_shows_two_intervals_and_none_inside_the_pause(demo, client, add_closure):
    add_closure("across-pause", schedule={"windows": [{"start": "2024-04-01", "end": "2024-10-31"}]})
    event = event_of(client, "across-pause")
    assert intervals(event) == [(local("2024-04-01T00:00"), PAUSE[0]), (PAUSE[1], local("2024-11-01T00:00"))]
    for start, end in intervals(event):
        assert end <= PAUSE[0] or start >= PAUSE[1]
    valid_json(get_json(client, status="ALL").json)
    valid_xml(client.get(EVENTS, query_string={"status": "ALL", "format": "xml"}).data)


def test_night_works_are_recurring_schedules_that_read_back_as_the_domain_periods(demo, client, services,
                                                                                  add_closure):
    add_closure("nights", schedule={"windows": [{"start": "2024-04-01", "end": "2024-10-31"}], "hours": NIGHTS},
                actual_end="2024-10-15T03:00:00+08:00")
    xml = client.get(f"{EVENTS}/{JURISDICTION}/nights", query_string={"format": "xml"})
    root = valid_xml(xml.data)
    event = event_of(client, "nights")
    rules = event["schedule"]["recurring_schedules"]
    # One stretch before the pause, one after; each night split at midnight.
    assert {(r["start_date"], r.get("end_date")) for r in rules} == {("2024-04-01", "2024-05-31"),
                                                                     ("2024-09-01", "2024-10-15")}
    assert {(r["daily_start_time"], r["daily_end_time"], tuple(r["days"])) for r in rules} == {
        ("22:00", "23:59", (1, 2, 3, 4, 5)), ("00:00", "06:00", (2, 3, 4, 5, 6))}
    assert "2024-10-15 00:00-03:00" in event["schedule"]["exceptions"]  # reopened at 03:00
    # The open511 package turns our schedule into the same periods as the domain (23:59 stands for midnight).
    read = Schedule.from_element(root.find("events/event/schedule"), SHANGHAI)
    lo, hi = datetime(2024, 3, 25, tzinfo=XINING), datetime(2024, 11, 10, tzinfo=XINING)
    theirs = [(s, e + timedelta(minutes=1) if e.minute == 59 else e) for s, e in read.intervals(lo, hi)]
    ours = [(p.start, p.end) for p in services.index.snapshot().get("nights").timeline.periods(lo, hi)]
    assert len(ours) == 76 and theirs == ours  # 45 nights before the pause, 31 after
    assert all(end <= PAUSE[0] or start >= PAUSE[1] for start, end in theirs)


def test_daily_parts_split_nights_at_midnight():
    from datetime import time

    night = Hours(frozenset({4}), time(22), time(6))  # Friday night into Saturday
    day = Hours(frozenset({0, 1}), time(8), time(0), ends_at_midnight=True)
    assert daily_parts([night, day]) == {(0, 360): frozenset({5}), (480, 1440): frozenset({0, 1}),
                                         (1320, 1440): frozenset({4})}


def test_cancelled_closure_is_archived_with_its_planned_schedule(demo, client, add_closure):
    add_closure("called-off", cancelled=True, schedule={"windows": [{"start": "2024-05-01", "end": "2024-05-30"}]})
    event = event_of(client, "called-off")
    assert event["status"] == "ARCHIVED" and event["schedule"] == {"intervals": ["2024-05-01T00:00/2024-05-31T00:00"]}
    assert "called-off" not in ids(get_json(client))
    valid_json(get_json(client, status="ALL").json)


# ---------------------------------------------------------------------------- filters and paging

def test_in_effect_on_takes_a_day_an_instant_or_a_range(demo, client):
    assert ids(get_json(client, in_effect_on="2024-05-20")) == [GONGHE]
    assert ids(get_json(client, in_effect_on="2024-09-02T12:00+08:00")) == [NANXIAO, YANGJIA]
    assert ids(get_json(client, in_effect_on="2024-05-25,2024-09-01")) == [GONGHE, NANXIAO, YANGJIA]
    assert ids(get_json(client, in_effect_on="2024-07-15")) == []  # reopened, and the tourist-season pause
    assert ids(get_json(client, in_effect_on="now")) == [GONGHE]


def test_filters_by_area_road_jurisdiction_severity_and_dates(demo, client, add_closure):
    add_closure("lanes", road="南小街", impact="lanes-closed", direction="forward")
    assert ids(get_json(client, bbox="101.802,36.610,101.809,36.612")) == [YANGJIA]
    assert ids(get_json(client, road_name="东关大街", status="ALL")) == [GONGHE, NANXIAO, YANGJIA]
    assert ids(get_json(client, road_name="南小街,nowhere")) == ["lanes"]
    assert ids(get_json(client, road_name="东关")) == []  # names match whole, as in Open511
    assert len(ids(get_json(client, jurisdiction=f"http://localhost/open511/jurisdictions/{JURISDICTION}"))) == 4
    assert ids(get_json(client, jurisdiction="other.example.org")) == []
    assert ids(get_json(client, severity="moderate")) == ["lanes"]
    assert ids(get_json(client, event_type="INCIDENT")) == []
    lanes = event_of(client, "lanes")
    assert lanes["roads"][0] == {"name": "南小街", "from": "乐都路", "to": "共和路", "direction": "E",
                                 "state": "SOME_LANES_CLOSED"}
    created = lanes["created"]
    assert ids(get_json(client, created=f">={created}", road_name="南小街")) == ["lanes"]
    assert ids(get_json(client, updated=f">{created}")) == []
    # An unencoded '>' and 'Z' with minutes only, as partners type it.
    raw = client.get(f"{EVENTS}?format=json&updated=>2024-05-01T00:00Z")
    assert raw.status_code == 200 and len(raw.json["events"]) == 4


def test_pages_link_to_each_other_keeping_the_other_parameters(demo, client):
    seen, url = [], f"{EVENTS}?format=json&status=ALL&road_name=东关大街&limit=2"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        valid_json(page.json)
        seen += ids(page)
        url = page.json["pagination"].get("next_url")
        if url:
            assert parse_qs(urlsplit(url).query)["road_name"] == ["东关大街"]
    assert seen == [GONGHE, NANXIAO, YANGJIA]
    last = page.json["pagination"]
    assert last["offset"] == 2 and "offset=0" in last["previous_url"]
    xml = client.get(EVENTS, query_string={"status": "ALL", "limit": 1})
    assert valid_xml(xml.data).find("pagination/link[@rel='next']") is not None


# ---------------------------------------------------------------------------- negotiation and problems

def test_format_follows_the_parameter_then_accept_then_defaults_to_xml(demo, client):
    assert client.get(EVENTS).mimetype == "application/xml"
    assert client.get(EVENTS, headers={"Accept": "*/*"}).mimetype == "application/xml"
    assert client.get(EVENTS, headers={"Accept": "application/json"}).mimetype == "application/json"
    assert client.get(EVENTS, headers={"Accept": "text/html,application/xml;q=0.9"}).mimetype == "application/xml"
    assert client.get(EVENTS, query_string={"format": "json"},
                      headers={"Accept": "application/xml"}).mimetype == "application/json"
    refused = client.get(EVENTS, headers={"Accept": "text/csv"})
    assert refused.status_code == 406 and "Accept" in refused.json["errors"]
    answer = client.get(EVENTS, headers={"Open511-Version": "v1"})
    assert answer.status_code == 200 and "Accept" in answer.headers["Vary"]
    assert "Open511-Version" in client.get(EVENTS, headers={"Open511-Version": "v2"}).json["errors"]


@pytest.mark.parametrize("name, value", [
    ("status", "OPEN"), ("in_effect_on", "2024-13-01"), ("in_effect_on", "2024-05-20T12:00"),
    ("in_effect_on", "2024-01-01,2029-06-01"), ("in_effect_on", "2024-06-01,2024-05-01"),
    ("updated", "~2024-05-01T00:00Z"), ("updated", ">2024-05-01"), ("bbox", "1,2,3"), ("limit", "0"),
    ("offset", "-1"), ("format", "csv"), ("version", "v2"), ("crs", "bd09"), ("severity", "HUGE"),
    ("colour", "red"),
])
def test_bad_parameters_get_a_problem_naming_them(demo, client, name, value):
    response = client.get(EVENTS, query_string={name: value})
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert name in response.json["errors"]


# ---------------------------------------------------------------------------- caching, drafts, coordinates

def test_conditional_polls_get_304_and_max_age_stops_at_the_next_change(demo, client, clock):
    for fmt in ("json", "xml"):
        first = client.get(EVENTS, query_string={"format": fmt})
        clock.advance(seconds=5)
        again = client.get(EVENTS, query_string={"format": fmt}, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304
    clock.now = datetime(2024, 5, 30, 15, 59, 30, tzinfo=timezone.utc)  # 30 s before the reopening
    age = int(client.get(EVENTS).headers["Cache-Control"].split("max-age=")[1])
    assert clock.now + timedelta(seconds=age) <= datetime(2024, 5, 30, 16, tzinfo=timezone.utc)


def test_drafts_stay_out_until_published(demo, client, clock, auth, editor_token, closure_body):
    publish = clock.now + timedelta(hours=1)
    body = closure_body("draft-1", publish_at=publish.isoformat())
    assert client.post("/api/v1/closures", json=body, headers=auth(editor_token)).status_code == 201
    assert "draft-1" not in ids(get_json(client, status="ALL"))
    assert client.get(f"{EVENTS}/{JURISDICTION}/draft-1").status_code == 404
    clock.now = publish
    assert "draft-1" in ids(get_json(client, status="ALL"))
    assert datetime.fromisoformat(event_of(client, "draft-1")["updated"]) == publish


def test_gcj02_moves_the_geography_and_the_bbox_and_marks_the_answer(demo, client):
    wgs = event_of(client, YANGJIA)["geography"]["coordinates"]
    shifted = [list(wgs84_to_gcj02(*p)) for p in wgs]
    lons, lats = [p[0] for p in shifted], [p[1] for p in shifted]
    gcj_box = f"{min(lons) - 0.0005},{min(lats) - 0.0005},{max(lons) + 0.0005},{max(lats) + 0.0005}"
    response = get_json(client, crs="gcj02", bbox=gcj_box)
    assert ids(response) == [YANGJIA]
    assert response.headers["Content-Crs"] == f"<{URIS['gcj02']}>"
    flat = [x for p in response.json["events"][0]["geography"]["coordinates"] for x in p]
    assert flat == pytest.approx([x for p in shifted for x in p], abs=1e-6)
    assert abs(flat[0] - wgs[0][0]) > 1e-3  # GCJ-02 lies some hundred metres off in Xining
    valid_xml(client.get(EVENTS, query_string={"crs": "gcj02"}).data)
    assert "Content-Crs" not in client.get(EVENTS).headers


# ---------------------------------------------------------------------------- discovery and jurisdictions

def test_discovery_and_jurisdiction_resources_are_valid(demo, make_app):
    app = make_app(CONTACT="roads@xining.example.cn", OPEN511_JURISDICTION="jtj.xining.gov.cn")
    client = app.test_client()
    for path in ("/open511/", "/open511/jurisdictions", "/open511/jurisdictions/jtj.xining.gov.cn",
                 "/open511/jurisdictions/jtj.xining.gov.cn/geography"):
        valid_xml(client.get(path).data)
        valid_json(client.get(path, query_string={"format": "json"}).json)
    discovery = client.get("/open511/", query_string={"format": "json"}).json
    assert discovery["services"][0]["url"] == "http://localhost/open511/events"
    jurisdiction = client.get("/open511/jurisdictions", query_string={"format": "json"}).json["jurisdictions"][0]
    assert jurisdiction["email"] == "roads@xining.example.cn" and jurisdiction["id"] == "jtj.xining.gov.cn"
    assert client.get("/open511/jurisdictions/other.example.org").status_code == 404
    assert client.get(EVENTS, query_string={"format": "json"}).json["events"][0]["id"].startswith("jtj.xining.gov.cn/")


# ---------------------------------------------------------------------------- interval cap (issue 10)

def _range_cap_refused(response, value: int = 1830):
    assert response.status_code == 400 and response.mimetype == "application/problem+json", response.json
    assert f"MAX_INTERVAL_DAYS={value}" in " ".join(response.json["errors"]["in_effect_on"]), response.json


def test_a_range_past_max_interval_days_is_a_400_naming_it(demo, client):
    first = datetime(2024, 1, 1).date()
    last_day = first + timedelta(days=1829)  # a date end lasts through its day: 1,830 days in all
    assert client.get(EVENTS, query_string={"format": "json", "in_effect_on": f"{first},{last_day}"}).status_code == 200
    _range_cap_refused(client.get(EVENTS, query_string={"in_effect_on": f"{first},{last_day + timedelta(days=1)}"}))
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=1830)
    instants = f"{start:%Y-%m-%dT%H:%M:%SZ},{end:%Y-%m-%dT%H:%M:%SZ}"
    assert client.get(EVENTS, query_string={"format": "json", "in_effect_on": instants}).status_code == 200
    past = f"{start:%Y-%m-%dT%H:%M:%SZ},{end + timedelta(seconds=1):%Y-%m-%dT%H:%M:%SZ}"
    _range_cap_refused(client.get(EVENTS, query_string={"format": "json", "in_effect_on": past}))
    _range_cap_refused(client.get(EVENTS, query_string={"in_effect_on": "2025-01-01,2199-01-01"}))


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "2024-05-20,9999-12-31", "0001-01-01,2024-05-20",
                                   "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59", "1899-12-31,2024-01-01",
                                   "2024-05-20T00:00:00Z,99999-01-01T00:00:00Z"])
def test_years_out_of_range_are_a_400_not_a_500(demo, client, value):
    response = client.get(EVENTS, query_string={"format": "json", "in_effect_on": value})
    assert response.status_code == 400 and "in_effect_on" in response.json["errors"], response.json


def test_the_range_cap_is_a_setting(demo, make_app):
    client = make_app(MAX_INTERVAL_DAYS=10).test_client()
    assert get_json(client, in_effect_on="2024-05-11,2024-05-20").status_code == 200
    _range_cap_refused(client.get(EVENTS, query_string={"format": "json", "in_effect_on": "2024-05-11,2024-05-21"}), 10)


def test_intervals_widen_to_whole_minutes_never_ending_early(demo, client, add_closure):
    # Open511 intervals are HH:MM: a window of 08:00:15-18:29:45 is published as 08:00-18:30, not 18:29.
    add_closure("seconds", schedule={"windows": [{"start": "2024-05-20T08:00:15+08:00",
                                                  "end": "2024-05-20T18:29:45+08:00"}]})
    event = event_of(client, "seconds")
    assert event["schedule"]["intervals"] == ["2024-05-20T08:00/2024-05-20T18:30"]
    valid_json(get_json(client, status="ALL").json)


def test_a_period_ending_at_midnight_ends_at_the_next_day_in_intervals(demo, client, add_closure):
    add_closure("to-midnight", schedule={"windows": [{"start": "2024-05-20", "end": "2024-05-21"}]})
    assert event_of(client, "to-midnight")["schedule"]["intervals"] == ["2024-05-20T00:00/2024-05-22T00:00"]


def test_a_december_of_nights_reads_back_from_the_first_evening_to_new_year_morning(demo, client, services,
                                                                                     add_closure):
    # Issue 12: a date window selects the days sessions start on; Open511's reader must see the same nights.
    every_day = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "22:00", "end": "06:00"}]
    add_closure("december", schedule={"windows": [{"start": "2026-12-01", "end": "2026-12-31"}], "hours": every_day})
    root = valid_xml(client.get(f"{EVENTS}/{JURISDICTION}/december", query_string={"format": "xml"}).data)
    read = Schedule.from_element(root.find("events/event/schedule"), SHANGHAI)
    lo, hi = datetime(2026, 11, 29, tzinfo=XINING), datetime(2027, 1, 3, tzinfo=XINING)
    theirs = [(s, e + timedelta(minutes=1) if e.minute == 59 else e) for s, e in read.intervals(lo, hi)]
    ours = [(p.start, p.end) for p in services.index.snapshot().get("december").timeline.periods(lo, hi)]
    assert theirs == ours and len(ours) == 31
    assert ours[0] == (datetime(2026, 12, 1, 22, tzinfo=XINING), datetime(2026, 12, 2, 6, tzinfo=XINING))
    assert ours[-1] == (datetime(2026, 12, 31, 22, tzinfo=XINING), datetime(2027, 1, 1, 6, tzinfo=XINING))
