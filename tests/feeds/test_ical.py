"""The iCalendar feed, read back as a real client would: `icalendar` to parse, `recurring-ical-events` to expand."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar

from roadworks.api.bodies import load_closure, load_project, patched
from roadworks.auth import Actor
from roadworks.feeds import Horizon
from roadworks.feeds.ical import closure_calendar

XINING = ZoneInfo("Asia/Shanghai")
ADMIN = Actor(name="t", role="admin")
MAP = "https://roadworks.example/map/"


def render(services, now: datetime, horizon: Horizon = Horizon(), **kw) -> bytes:
    return closure_calendar(services.index.snapshot().entries(), now, horizon, map_url=MAP, **kw)


def parse(services, now: datetime, **kw) -> Calendar:
    return Calendar.from_ical(render(services, now, **kw))


def local(*args) -> datetime:
    return datetime(*args, tzinfo=XINING)


def spans(events, closure_id: str | None = None) -> list[tuple[datetime, datetime]]:
    return sorted((e.decoded("dtstart"), e.decoded("dtend")) for e in events
                  if closure_id is None or str(e["uid"]).startswith(closure_id + "-"))


def add_closure(services, closure_body, id: str, **props) -> None:
    services.registry.create_closure(load_closure(closure_body(id, **props)), ADMIN)


def horizon_end(now: datetime) -> datetime:
    return Horizon().bounds(now)[1]


# -- the founding case


def test_in_may_a_client_finds_ledu_gonghe_until_its_early_reopening(demo, clock):
    cal = parse(demo, clock())
    before_september = recurring_ical_events.of(cal).between(local(2024, 1, 1), local(2024, 9, 1))
    assert [str(e["uid"]).split("-0-")[0] for e in before_september] == ["dongguan-ledu-gonghe"]
    assert spans(before_september) == [(local(2024, 4, 12), local(2024, 5, 31))]


def test_in_august_a_client_finds_the_two_september_closures_open_until_the_horizon(demo, clock):
    clock.now = local(2024, 8, 20, 12)
    cal = parse(demo, clock())
    events = recurring_ical_events.of(cal).between(local(2024, 1, 1), local(2026, 1, 1))
    end = horizon_end(clock())
    assert spans(events) == [(local(2024, 9, 1), end)] * 2
    assert {str(e["uid"]).split("-0-")[0] for e in events} == {"dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"}
    assert all(e.decoded("dtend") == end == local(2025, 2, 16, 8) for e in events)
    # The DTEND is only where the feed stops: each event says first that no end is known.
    assert all(str(e["description"]).startswith("结束时间另行通知\n") for e in events)


def test_only_open_ended_events_say_their_end_is_not_known(demo, clock):
    events = parse(demo, clock()).walk("VEVENT")  # 20 May 2024: Ledu-Gonghe has a real end, the others none
    told = {str(e["uid"]).split("-0-")[0]: str(e["description"]).startswith("结束时间另行通知") for e in events}
    assert told == {"dongguan-ledu-gonghe": False, "dongguan-ledu-nanxiao": True, "dongguan-yangjia-jianguo": True}


def test_the_tourist_season_pause_splits_a_closure_into_two_events_and_none_falls_inside(demo, clock,
                                                                                        closure_body):
    add_closure(demo, closure_body, "long", schedule={"windows": [{"start": "2024-04-01", "end": "2024-10-31"}]})
    cal = parse(demo, clock())
    events = recurring_ical_events.of(cal).between(local(2024, 1, 1), local(2025, 1, 1))
    assert spans(events, "long") == [(local(2024, 4, 1), local(2024, 6, 1)), (local(2024, 9, 1), local(2024, 11, 1))]
    day = date(2024, 6, 1)
    while day < date(2024, 9, 1):
        assert not spans(recurring_ical_events.of(cal).at(day), "long"), day
        day += timedelta(days=1)
    for instant in (local(2024, 6, 1), local(2024, 7, 15, 12), local(2024, 8, 31, 23, 59)):
        assert not spans(recurring_ical_events.of(cal).at(instant.timetuple()[:5]), "long")
    assert spans(recurring_ical_events.of(cal).at((2024, 5, 31, 23, 59)), "long")
    assert spans(recurring_ical_events.of(cal).at((2024, 9, 1, 0, 0)), "long")


def test_night_works_give_one_eight_hour_event_per_night(demo, clock, closure_body):
    hours = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "06:00"}]
    # Monday 7 October through Saturday 19 October: two working weeks of nights.
    add_closure(demo, closure_body, "nights",
                schedule={"windows": [{"start": "2024-10-07", "end": "2024-10-19"}], "hours": hours})
    cal = parse(demo, clock())
    nights = spans(recurring_ical_events.of(cal).between(local(2024, 10, 1), local(2024, 11, 1)), "nights")
    assert len(nights) == 10
    assert all(end - start == timedelta(hours=8) for start, end in nights)
    assert all(start.hour == 22 and start.weekday() < 5 for start, _ in nights)
    assert not spans(recurring_ical_events.of(cal).at((2024, 10, 12, 23, 0)), "nights")  # Saturday night
    assert spans(recurring_ical_events.of(cal).at((2024, 10, 12, 3, 0)), "nights")  # Friday's night, Saturday 03:00


# -- identity and versions


def test_uids_are_stable_across_renders_and_horizon_moves(demo, clock):
    first = render(demo, clock())
    assert render(demo, clock()) == first  # same instant: byte for byte
    clock.advance(days=3)
    uids = lambda raw: sorted(str(e["uid"]) for e in Calendar.from_ical(raw).walk("VEVENT"))  # noqa: E731
    assert uids(render(demo, clock())) == uids(first)
    assert len(set(uids(first))) == len(uids(first)) == 3


def test_bytes_do_not_change_within_a_day_without_edits(demo, clock):
    """DTSTAMP is the last revision, not the request time, so caches and ETags hold."""
    first = render(demo, clock())
    clock.advance(hours=2)
    assert render(demo, clock()) == first


def test_sequence_increases_after_a_patch(demo, clock):
    def sequence() -> int:
        cal = parse(demo, clock())
        return {int(e["sequence"]) for e in cal.walk("VEVENT") if str(e["uid"]).startswith("dongguan-ledu-nanxiao-")
                }.pop()

    before = sequence()
    entry = next(e for e in demo.index.snapshot().entries() if e.id == "dongguan-ledu-nanxiao")
    clock.advance(hours=1)
    edit = patched(load_closure, {"properties": {"description": "改期"}})
    demo.registry.edit_closure(entry.id, edit, ADMIN, entry.view.closure.version)
    assert sequence() > before
    event = next(e for e in parse(demo, clock()).walk("VEVENT") if str(e["uid"]).startswith("dongguan-ledu-nanxiao-"))
    assert "改期" in str(event["description"])
    assert event.decoded("dtstamp") == clock().astimezone(timezone.utc)


# -- form


def test_times_carry_the_project_zone_with_its_vtimezone(demo, clock):
    cal = parse(demo, clock())
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    for event in cal.walk("VEVENT"):
        for name in ("dtstart", "dtend"):
            assert event[name].params["TZID"] == "Asia/Shanghai"
            assert event.decoded(name).utcoffset() == timedelta(hours=8)


def test_a_second_zone_gets_its_own_vtimezone(demo, clock, closure_body):
    demo.registry.create_project(load_project({"id": "berlin", "name": "Berlin", "agency": "西宁市城乡建设局",
                                               "timezone": "Europe/Berlin"}), ADMIN)
    add_closure(demo, closure_body, "berlin-1", project="berlin",
                schedule={"windows": [{"start": "2024-10-20", "end": "2024-10-30"}]})
    cal = parse(demo, clock())
    assert sorted(str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")) == ["Asia/Shanghai", "Europe/Berlin"]
    berlin = ZoneInfo("Europe/Berlin")
    # Across the end of summer time (27 October): local midnights on both sides.
    assert spans(recurring_ical_events.of(cal).between(local(2024, 10, 1), local(2024, 12, 1)), "berlin-1") == [
        (datetime(2024, 10, 20, tzinfo=berlin), datetime(2024, 10, 31, tzinfo=berlin))]


def test_calendar_header_and_event_fields(demo, clock):
    cal = parse(demo, clock(), name="东关大街封闭")
    assert str(cal["x-wr-calname"]) == "东关大街封闭"
    assert str(cal["version"]) == "2.0" and "prodid" in cal
    event = next(e for e in cal.walk("VEVENT") if str(e["uid"]).startswith("dongguan-ledu-gonghe-"))
    assert str(event["summary"]) == "封闭：东关大街 乐都路—共和路"
    assert str(event["location"]) == "东关大街 乐都路—共和路"
    assert str(event["url"]) == MAP + "?closure=dongguan-ledu-gonghe"
    assert str(event["status"]) == "CONFIRMED"
    description = str(event["description"])
    for part in ("提前5天建成通车", "绕行：请绕行周边道路", "西宁市城乡建设局", "12345", "乐都路至共和路段施工"):
        assert part in description
    assert int(event["sequence"]) >= 1


def test_impact_and_direction_are_worded_in_the_summary(demo, clock, closure_body):
    add_closure(demo, closure_body, "alt", impact="alternating")
    add_closure(demo, closure_body, "fwd", impact="lanes-closed", direction="forward")
    summaries = {str(e["uid"]).split("-")[0]: str(e["summary"]) for e in parse(demo, clock()).walk("VEVENT")}
    assert summaries["alt"] == "单车道双向交替通行：东关大街 乐都路—共和路"
    assert summaries["fwd"] == "单向部分车道封闭：东关大街 乐都路—共和路"


def test_text_with_markup_and_ical_specials_round_trips(demo, clock, closure_body):
    description = '<b>Tom & Jerry</b>; a,b\\c "q"\n第二行：<script>alert(1)</script>'
    add_closure(demo, closure_body, "odd", road="Main; St, <i>north</i>", description=description,
                detour="via A\\B; then C,D")
    raw = render(demo, clock())
    assert b"Main\\; St\\, <i>north</i>" in raw
    event = next(e for e in Calendar.from_ical(raw).walk("VEVENT") if str(e["uid"]).startswith("odd-"))
    assert str(event["location"]) == "Main; St, <i>north</i> 乐都路—共和路"
    assert description in str(event["description"])
    assert "绕行：via A\\B; then C,D" in str(event["description"])


def test_cancelled_closures_and_unpublished_drafts_are_left_out(demo, clock, closure_body):
    add_closure(demo, closure_body, "gone", cancelled=True)
    add_closure(demo, closure_body, "draft", publish_at="2024-06-01")
    uids = lambda: {str(e["uid"]).split("-")[0] for e in parse(demo, clock()).walk("VEVENT")}  # noqa: E731
    assert not {"gone", "draft"} & uids()
    clock.now = local(2024, 6, 2)
    assert uids() & {"gone", "draft"} == {"draft"}  # published now; its April-May period is within the horizon


def test_published_drafts_appear(demo, clock, closure_body):
    add_closure(demo, closure_body, "draft", publish_at="2024-05-25",
                schedule={"windows": [{"start": "2024-09-10", "end": "2024-09-20"}]})
    assert "draft" not in {str(e["uid"]).split("-")[0] for e in parse(demo, clock()).walk("VEVENT")}
    clock.now = local(2024, 5, 26)
    assert "draft" in {str(e["uid"]).split("-")[0] for e in parse(demo, clock()).walk("VEVENT")}


def test_no_entries_give_a_valid_empty_calendar(services, clock):
    cal = Calendar.from_ical(closure_calendar([], clock(), Horizon(), map_url=MAP))
    assert cal.name == "VCALENDAR" and not cal.walk("VEVENT") and not cal.walk("VTIMEZONE")
    assert recurring_ical_events.of(cal).between(local(2024, 1, 1), local(2025, 1, 1)) == []


@pytest.mark.parametrize("back,ahead", [(0, 1), (400, 400)])
def test_the_horizon_bounds_what_is_listed(demo, clock, back, ahead):
    horizon = Horizon(back=timedelta(days=back), ahead=timedelta(days=ahead))
    cal = parse(demo, clock(), horizon=horizon)
    names = {str(e["uid"]).split("-0-")[0] for e in cal.walk("VEVENT")}
    if ahead == 1:
        assert names == {"dongguan-ledu-gonghe"}
    else:
        assert len(names) == 3
        assert all(e.decoded("dtend") == horizon.bounds(clock())[1] for e in cal.walk("VEVENT")
                   if "gonghe" not in str(e["uid"]))


# -- events written line by line, read back as the icalendar library's own rendering is

def library_events(entry, periods) -> bytes:
    """The oracle: the same closure's VEVENTs built and serialised by the icalendar library."""
    from icalendar import Event, vGeo

    from roadworks.feeds import ical

    closure, texts = entry.view.closure, ical._texts(entry)
    point = entry.shape.representative_point()
    out = []
    for period in periods:
        event = Event()
        event.add("uid", ical.event_uid(closure.id, period))
        event.add("sequence", closure.version)
        stamp = (closure.updated_at or period.start).astimezone(timezone.utc)
        event.add("dtstamp", stamp)
        event.add("last-modified", stamp)
        if closure.created_at is not None:
            event.add("created", closure.created_at.astimezone(timezone.utc))
        event.add("dtstart", period.start)
        event.add("dtend", period.end)
        event.add("summary", texts["summary"])
        event.add("location", texts["location"])
        lines = [ical.OPEN_END if period.open_end else None, period.label, texts["description"]]
        event.add("description", "\n".join(x for x in lines if x))
        event.add("url", ical._map_link(MAP, closure.id))
        event.add("status", "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        event.add("geo", vGeo((round(point.y, 6), round(point.x, 6))))
        out.append(event.to_ical())
    return b"".join(out)


def read_events(vevents: bytes) -> list[dict]:
    """Each event as a client reads it: every property's decoded value and parameters."""
    calendar = Calendar.from_ical(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t\r\n" + vevents
                                  + b"END:VCALENDAR\r\n")
    return [{name: (event.decoded(name), dict(event[name].params)) for name in event}
            for event in calendar.walk("VEVENT")]


def assert_like_the_library(entry, periods) -> None:
    from roadworks.feeds import ical

    part = ical.closure_part(entry, tuple(periods), MAP)
    assert read_events(part.events) == read_events(library_events(entry, periods))
    lines = part.events.split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) <= 75 and b"\n" not in line and b"\r" not in line for line in lines)
    part.events.decode("utf-8")  # raises if a fold split a character
    if periods:
        assert part.first == min(p.start for p in periods) and part.last == max(p.end for p in periods)


def test_demo_events_read_back_as_the_library_writes_them(demo, clock):
    from roadworks.feeds import feed_periods

    for now in (clock(), datetime(2024, 8, 20, 4, tzinfo=timezone.utc)):
        for entry in demo.index.snapshot().entries():
            assert_like_the_library(entry, feed_periods(entry, now, Horizon()))


def test_synthetic_events_with_awkward_texts_read_back_as_the_library_writes_them():
    import random
    from dataclasses import replace

    from bench.synthetic import PROJECTS, closures
    from roadworks.feeds import feed_periods
    from roadworks.index import make_entry

    rng = random.Random(5545)
    # Every character TEXT escapes, line breaks of each kind, and 2-, 3- and 4-octet characters to fold across.
    pieces = ["a", "b c", ",", ";", "\\", "\\n", "\\N", "\n", "\r\n", "\r", ":", '"', "é", "东关大街", "施工", "🚧", "^"]
    projects = {p.id: p for p in PROJECTS}
    zones = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC")

    def text(longest: int) -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(1, longest)))

    checked = 0
    for closure in closures(300, seed=11):
        project = replace(projects[closure.project], timezone=rng.choice(zones), agency=text(20),
                          contact=rng.choice((None, text(10))), name=text(30))
        stamps = {"created_at": datetime(2024, 3, 1, 8, 30, 15, tzinfo=XINING), "version": rng.randint(1, 9),
                  "updated_at": datetime(2024, 3, 2, 23, 59, 59, tzinfo=timezone.utc)} if rng.random() < 0.5 else {}
        closure = replace(closure, description=rng.choice((None, text(80))), detour=rng.choice((None, text(40))),
                          from_=rng.choice((None, text(8))), to=rng.choice((None, text(8))), road=text(12),
                          id=closure.id + rng.choice(("", ",x", ";y", "\\z")), **stamps)
        entry = make_entry(closure, project)
        now = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(days=rng.randint(0, 1000))
        periods = feed_periods(entry, now, Horizon())
        assert_like_the_library(entry, periods)
        checked += bool(periods)
    assert checked > 50


def test_events_in_zones_without_a_key_read_back_as_the_library_writes_them(demo, clock):
    from dataclasses import replace

    from roadworks.feeds import feed_periods

    for zone in (timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30), "X"), timezone.utc):
        for entry in demo.index.snapshot().entries():
            periods = feed_periods(entry, datetime(2024, 8, 20, 4, tzinfo=timezone.utc), Horizon())
            assert_like_the_library(entry, [replace(p, start=p.start.astimezone(zone), end=p.end.astimezone(zone))
                                            for p in periods])


# -- VTIMEZONE onsets (issue 12): a reader that knows only the file's own definitions places events right

def _listed_rdates(component) -> list:
    rdate = component.get("RDATE")
    return [] if rdate is None else rdate if isinstance(rdate, list) else [rdate]


def read_with_own_vtimezones(text: bytes) -> list[tuple[str, datetime, datetime]]:
    """(uid, start, end) of every event, each wall time resolved by dateutil from the file's VTIMEZONEs alone."""
    from io import StringIO
    from dateutil import tz as dateutil_tz
    zones = dateutil_tz.tzical(StringIO(text.decode("utf-8")))
    out = []
    for event in Calendar.from_ical(text).walk("VEVENT"):
        pair = []
        for name in ("DTSTART", "DTEND"):
            wall = event.decoded(name).replace(tzinfo=None)
            own = zones.get(str(event[name].params["TZID"]))
            pair.append(wall.replace(tzinfo=own))
        out.append((str(event["UID"]), *pair))
    return out


@pytest.mark.parametrize("zone_name, switch, hours", [
    ("Europe/Berlin", date(2027, 3, 28), ("03:00", "05:00")),    # 02:00 CET becomes 03:00 CEST
    ("America/Havana", date(2027, 3, 14), ("01:00", "02:00")),   # 00:00 CST becomes 01:00 CDT
])
def test_vtimezone_onsets_are_the_wall_time_before_the_change(demo, clock, closure_body, zone_name, switch, hours):
    zone = ZoneInfo(zone_name)
    demo.registry.create_project(load_project({"id": "dst", "name": "DST", "agency": "西宁市城乡建设局",
                                               "timezone": zone_name}), ADMIN)
    window = {"start": (switch - timedelta(days=2)).isoformat(), "end": (switch + timedelta(days=1)).isoformat()}
    add_closure(demo, closure_body, "dst-1", project="dst",
                schedule={"windows": [window], "hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                                          "start": hours[0], "end": hours[1]}]})
    clock.now = datetime(2027, 3, 1, tzinfo=timezone.utc)
    text = render(demo, clock())
    (vtimezone,) = [tz for tz in Calendar.from_ical(text).walk("VTIMEZONE") if str(tz["TZID"]) == zone_name]
    onsets = [d.dt for daylight in vtimezone.walk("DAYLIGHT") for d in
              [daylight["DTSTART"], *(one for rdate in _listed_rdates(daylight) for one in rdate.dts)]]
    before = datetime.combine(switch, datetime.min.time()).replace(hour=int(hours[0][:2]) - 1)
    assert [t for t in onsets if t.date() == switch] == [before]
    events = [(s, e) for uid, s, e in read_with_own_vtimezones(text) if uid.startswith("dst-1-")]
    start_hour, end_hour = int(hours[0][:2]), int(hours[1][:2])
    expected = [(datetime(d.year, d.month, d.day, start_hour, tzinfo=zone),
                 datetime(d.year, d.month, d.day, end_hour, tzinfo=zone))
                for d in (switch - timedelta(days=k) for k in (2, 1, 0, -1))]
    assert [(s.astimezone(timezone.utc), e.astimezone(timezone.utc)) for s, e in events] == \
        [(s.astimezone(timezone.utc), e.astimezone(timezone.utc)) for s, e in expected]
    # And back: the true instants, seen through the file's zone, give the wall times the file wrote.
    for (s, _), (true_start, _) in zip(events, expected):
        seen = true_start.astimezone(timezone.utc).astimezone(s.tzinfo)
        assert (seen.replace(tzinfo=None), seen.utcoffset()) == (s.replace(tzinfo=None), true_start.utcoffset())
