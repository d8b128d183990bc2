"""Project and Closure values: zones, drafts, planned ends and the checks tied to the project."""

from __future__ import annotations

import time as pytime
from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from roadworks.config import DEFAULTS
from roadworks.domain.errors import ValidationFailed
from roadworks.domain.model import Closure, FeedCap, Project, feed_events, most_periods
from roadworks.domain.schedule import Hours, Schedule, Span, zone
from tests.hypothesis_profiles import scaled

SHANGHAI = timezone(timedelta(hours=8))
PROJECT = Project(id="p", name="n", agency="a", pauses=(Span(date(2024, 6, 1), date(2024, 8, 31)),))
LINE = {"type": "LineString", "coordinates": [[101.79, 36.61], [101.80, 36.61]]}


def closure(**changes) -> Closure:
    values = dict(id="c", project="p", geometry=LINE, road="r",
                  schedule=Schedule((Span(date(2024, 4, 12), date(2024, 6, 4)),)))
    values.update(changes)
    return Closure(**values)


def test_planned_end_is_the_day_after_the_inclusive_last_date():
    assert closure().planned_end(PROJECT) == datetime(2024, 6, 5, tzinfo=SHANGHAI)


def test_planned_end_of_an_open_ended_closure_is_unknown():
    assert closure(schedule=Schedule((Span(date(2024, 9, 1), None),))).planned_end(PROJECT) is None


def test_actual_dates_mean_the_start_of_that_local_day():
    began, reopened = closure(actual_start=date(2024, 4, 12), actual_end=date(2024, 5, 31)).resolved_actuals(
        zone("Asia/Shanghai"))
    assert began == datetime(2024, 4, 12, tzinfo=SHANGHAI)
    assert reopened == datetime(2024, 5, 31, tzinfo=SHANGHAI)


def test_a_draft_is_hidden_until_publish_at():
    draft = closure(publish_at=datetime(2024, 5, 1, 9, tzinfo=SHANGHAI))
    assert not draft.is_published(PROJECT, datetime(2024, 5, 1, 8, 59, tzinfo=SHANGHAI))
    assert draft.is_published(PROJECT, datetime(2024, 5, 1, 9, tzinfo=SHANGHAI))
    assert closure().is_published(PROJECT, datetime(2000, 1, 1, tzinfo=timezone.utc))


def test_project_pauses_reach_the_timeline():
    timeline = closure(schedule=Schedule((Span(date(2024, 4, 1), date(2024, 10, 31)),))).timeline(PROJECT)
    assert timeline.status_at(datetime(2024, 7, 15, 12, tzinfo=SHANGHAI)) == "paused"


def test_reopening_before_the_start_is_refused():
    with pytest.raises(ValidationFailed) as failure:
        closure(actual_start=date(2024, 4, 12), actual_end=date(2024, 4, 1)).check(PROJECT)
    assert "properties.actual_end" in failure.value.errors


@pytest.mark.parametrize("actual_end", [date(2024, 4, 1), date(2024, 4, 12),
                                        datetime(2024, 4, 11, 20, tzinfo=SHANGHAI)])
def test_reopening_before_the_first_window_is_refused(actual_end):
    with pytest.raises(ValidationFailed) as failure:
        closure(actual_end=actual_end).check(PROJECT)
    assert list(failure.value.errors) == ["properties.actual_end"]
    # The earliest window counts, whatever order the windows come in.
    phased = Schedule((Span(date(2024, 9, 1), date(2024, 9, 30)), Span(date(2024, 4, 12), date(2024, 6, 4))))
    with pytest.raises(ValidationFailed):
        closure(schedule=phased, actual_end=actual_end).check(PROJECT)
    closure(actual_end=datetime(2024, 4, 12, 0, 0, 1, tzinfo=SHANGHAI)).check(PROJECT)


def test_schedule_errors_are_named_under_properties():
    bad = closure(schedule=Schedule((Span(date(2024, 6, 1), date(2024, 5, 1)),)))
    with pytest.raises(ValidationFailed) as failure:
        bad.check(PROJECT)
    assert "properties.schedule.windows[0].end" in failure.value.errors


def test_in_zone_keeps_instants_and_dates():
    moved = closure(actual_end=datetime(2024, 5, 31, 2, tzinfo=timezone.utc)).in_zone(zone("Asia/Shanghai"))
    assert moved.actual_end.isoformat() == "2024-05-31T10:00:00+08:00"
    assert moved.schedule.windows[0].start == date(2024, 4, 12)


def test_unknown_project_zone_is_refused():
    with pytest.raises(ValidationFailed) as failure:
        Project(id="p", name="n", agency="a", timezone="Asia/Xining").check()
    assert "timezone" in failure.value.errors


# ---------------------------------------------------------------------- feed output (FEED_MAX_EVENTS_PER_CLOSURE)

NIGHTS = (Hours(frozenset(range(7)), time(22), time(6)),)
BARE = Project(id="p", name="n", agency="a")


def parts(n: int) -> dict:
    return {"type": "MultiLineString",
            "coordinates": [[[101.70 + k * 0.001, 36.60], [101.7005 + k * 0.001, 36.6001]] for k in range(n)]}


def test_a_year_of_night_works_on_a_30_part_street_both_ways_fits_the_default_cap():
    year = closure(geometry=parts(30), direction="both",
                   schedule=Schedule((Span(date(2025, 1, 1), date(2025, 12, 31)),), (), NIGHTS))
    # 211 days (30 back, 180 ahead and today) meet at most 213 nights: 213 x 2 ways x 30 parts.
    assert feed_events(most_periods(year, BARE, 211), year) == 12_780
    FeedCap(DEFAULTS["FEED_MAX_EVENTS_PER_CLOSURE"], 211).check(year, BARE)
    # With a horizon of a whole year it would need 367 nights x 60: the cap must grow with the horizon.
    assert feed_events(most_periods(year, BARE, 366), year) == 22_020


def test_the_400_part_attack_is_refused_naming_the_cap_and_its_value():
    attack = closure(geometry=parts(400), direction="both",
                     schedule=Schedule((Span(date(2025, 1, 1), date(2199, 12, 31)),), (), NIGHTS))
    with pytest.raises(ValidationFailed) as failure:
        attack.check(BARE, FeedCap(15_000, 211))
    assert list(failure.value.errors) == ["properties.schedule.hours"]
    assert "FEED_MAX_EVENTS_PER_CLOSURE is 15000" in failure.value.errors["properties.schedule.hours"][0]


def test_a_line_with_more_parts_than_the_cap_allows_is_refused_on_its_geometry():
    wide = closure(geometry=parts(400), direction="both")
    with pytest.raises(ValidationFailed) as failure:
        wide.check(BARE, FeedCap(500, 211))
    assert list(failure.value.errors) == ["geometry"]


def test_without_hours_the_bound_is_the_periods_one_span_meets():
    # Three 10-day windows 20 days apart: a 211-day span meets all three, a 15-day span one of them.
    windows = tuple(Span(date(2025, 1, 1) + timedelta(days=30 * i), date(2025, 1, 10) + timedelta(days=30 * i))
                    for i in range(3))
    three = closure(schedule=Schedule(windows), direction="both")
    assert feed_events(most_periods(three, BARE, 211), three) == 6
    assert most_periods(three, BARE, 15) == 1
    FeedCap(6, 211).check(three, BARE)
    with pytest.raises(ValidationFailed, match="FEED_MAX_EVENTS_PER_CLOSURE is 5"):
        FeedCap(5, 211).check(three, BARE)


def test_the_bound_takes_bounded_work_for_a_schedule_reaching_to_2199():
    hours = tuple(Hours(frozenset(range(7)), time(h), time(h, 30)) for h in range(23))  # 23 sessions a day
    far = closure(schedule=Schedule((Span(date(2025, 1, 1), date(2199, 12, 31)),), (), hours))
    started = pytime.perf_counter()
    assert most_periods(far, BARE, 211) == 23 * 213
    assert pytime.perf_counter() - started < 2  # the full expansion is 1.4 million sessions


@settings(max_examples=scaled(60), deadline=None)
@given(starts=st.lists(st.integers(0, 120), min_size=1, max_size=4), lengths=st.lists(st.integers(1, 40), min_size=4,
       max_size=4), days=st.sets(st.integers(0, 6), min_size=1), start=st.integers(0, 23), length=st.integers(1, 30),
       span=st.integers(1, 60), pause=st.integers(0, 150))
def test_the_bound_is_never_below_the_periods_any_span_meets(starts, lengths, days, start, length, span, pause):
    first = date(2025, 1, 1)
    windows, cursor = [], first
    for gap, size in zip(starts, lengths):
        begin = cursor + timedelta(days=gap % 30)
        windows.append(Span(begin, begin + timedelta(days=size)))
        cursor = begin + timedelta(days=size + 1)
    end_minute = (start * 60 + length * 30) % (24 * 60)
    hours = (Hours(frozenset(days), time(start), time(end_minute // 60, end_minute % 60)),)
    pauses = (Span(first + timedelta(days=pause), first + timedelta(days=pause + 3)),)
    project = Project(id="p", name="n", agency="a", pauses=pauses)
    c = closure(schedule=Schedule(tuple(windows), (), hours))
    timeline = c.timeline(project)
    bound = most_periods(c, project, span)
    midnight = datetime(2024, 12, 25, tzinfo=SHANGHAI)
    for hour in range(0, 24 * 320, 6):  # spans starting every 6 hours over the whole schedule
        a = midnight + timedelta(hours=hour)
        assert len(timeline.periods(a, a + timedelta(days=span))) <= bound
