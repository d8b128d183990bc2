"""Tests of roadworks.domain.schedule: windows, pauses, hours and actual dates turned into statuses.

Everything here is pure: no app, no store, no fixtures from conftest.py.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from roadworks.domain.errors import ValidationFailed
from roadworks.domain.schedule import (
    Hours,
    Schedule,
    Span,
    Timeline,
    check_pauses,
    check_schedule,
    end_instant,
    start_instant,
    zone,
)
from tests.hypothesis_profiles import scaled

UTC = timezone.utc
SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
PLUS8 = timezone(timedelta(hours=8))
WEEKDAYS = frozenset(range(5))
ALL_DAYS = frozenset(range(7))
SECOND = timedelta(seconds=1)
TINY = timedelta(microseconds=1)
DAY = timedelta(days=1)


# ---------------------------------------------------------------------------- helpers

def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, tz=SH) -> datetime:
    """A local wall-clock instant in `tz` (Shanghai unless told)."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=tz)


def noon(d: date, tz=SH) -> datetime:
    return datetime.combine(d, time(12), tzinfo=tz)


def timeline(*windows: Span, pauses=(), hours=(), tz=SH, **kw) -> Timeline:
    return Timeline(Schedule(tuple(windows), tuple(pauses), tuple(hours)), tz, **kw)


def errors_of(schedule: Schedule, path: str = "schedule", tz=SH) -> dict[str, list[str]]:
    """The errors dict check_schedule raises, or {} when the schedule passes."""
    try:
        check_schedule(schedule, tz, path)
    except ValidationFailed as exc:
        return exc.errors
    return {}


def spans(periods) -> list[tuple[datetime, datetime | None]]:
    return [(p.start, p.end) for p in periods]


def closed_time(tl: Timeline, start: datetime, end: datetime) -> timedelta:
    """Total length of the active periods of `tl` overlapping [start, end), in elapsed time."""
    return sum((elapsed(p.start, p.end) for p in tl.periods(start, end)), timedelta())


def elapsed(a: datetime, b: datetime) -> timedelta:
    """Real time from a to b (aware subtraction within one zone would give wall-clock time)."""
    return b.astimezone(UTC) - a.astimezone(UTC)


def contains(period, t: datetime) -> bool:
    return period.start <= t and (period.end is None or t < period.end)


def merged(periods) -> list[tuple[datetime, datetime | None]]:
    """Union of periods as sorted disjoint [start, end) pairs; end None = open."""
    out: list[list] = []
    for p in sorted(periods, key=lambda p: p.start):
        if out and (out[-1][1] is None or p.start <= out[-1][1]):
            if out[-1][1] is not None:
                out[-1][1] = None if p.end is None else max(out[-1][1], p.end)
        else:
            out.append([p.start, p.end])
    return [(s, e) for s, e in out]


def covered_by(start: datetime, end: datetime | None, union) -> bool:
    """Is [start, end) inside a single interval of `union`?"""
    return any(s <= start and (e is None or (end is not None and end <= e)) for s, e in union)


# ---------------------------------------------------------------------------- 1. founding case: Xining

TOURIST_SEASON = (Span(date(2024, 6, 1), date(2024, 8, 31), "tourist season"),)
LEDU_GONGHE_WINDOW = Span(date(2024, 4, 12), date(2024, 6, 4), "Ledu-Gonghe")
LEDU_GONGHE_REOPENED = datetime(2024, 5, 31, tzinfo=PLUS8)
FROM_SEPTEMBER = Span(date(2024, 9, 1), None)


def xining() -> tuple[Timeline, Timeline, Timeline]:
    """Ledu-Gonghe, Ledu-Nanxiao and Yangjia-Jianguo in one project with the tourist-season pause."""
    gonghe = timeline(LEDU_GONGHE_WINDOW, project_pauses=TOURIST_SEASON, actual_end=LEDU_GONGHE_REOPENED)
    nanxiao = timeline(FROM_SEPTEMBER, project_pauses=TOURIST_SEASON)
    jianguo = timeline(FROM_SEPTEMBER, project_pauses=TOURIST_SEASON)
    return gonghe, nanxiao, jianguo


@pytest.mark.parametrize("day, expected", [
    (date(2024, 4, 11), ("upcoming", "upcoming", "upcoming")),
    (date(2024, 5, 20), ("active", "upcoming", "upcoming")),
    (date(2024, 6, 3), ("completed", "upcoming", "upcoming")),
    (date(2024, 7, 15), ("completed", "upcoming", "upcoming")),
    (date(2024, 9, 2), ("completed", "active", "active")),
])
def test_xining_statuses_at_local_noon(day, expected):
    assert tuple(tl.status_at(noon(day)) for tl in xining()) == expected


def test_xining_reopened_five_days_ahead_of_plan():
    planned = end_instant(LEDU_GONGHE_WINDOW.end, SH)
    assert planned == at(2024, 6, 5)
    assert planned - LEDU_GONGHE_REOPENED == timedelta(days=5)


def test_xining_ledu_gonghe_boundaries_instant_by_instant():
    gonghe = xining()[0]
    assert gonghe.status_at(at(2024, 4, 11, 23, 59, 59)) == "upcoming"
    assert gonghe.status_at(at(2024, 4, 12)) == "active"
    assert gonghe.status_at(LEDU_GONGHE_REOPENED - TINY) == "active"
    assert gonghe.status_at(LEDU_GONGHE_REOPENED) == "completed"
    assert gonghe.status_at(at(2024, 6, 4, 23, 59, 59)) == "completed"  # planned last day, already reopened


def test_xining_ledu_gonghe_closed_49_days():
    gonghe = xining()[0]
    (period,) = gonghe.periods(at(2024, 1, 1), at(2025, 1, 1))
    assert (period.start, period.end, period.state, period.window) == (at(2024, 4, 12), LEDU_GONGHE_REOPENED, "active", 0)
    assert period.label == "Ledu-Gonghe"
    assert closed_time(gonghe, at(2024, 1, 1), at(2025, 1, 1)) == timedelta(days=49)


@pytest.mark.parametrize("t, expected", [
    (noon(date(2024, 4, 11)), (at(2024, 4, 12), at(2024, 9, 1), at(2024, 9, 1))),
    (noon(date(2024, 5, 20)), (LEDU_GONGHE_REOPENED, at(2024, 9, 1), at(2024, 9, 1))),
    (noon(date(2024, 6, 3)), (None, at(2024, 9, 1), at(2024, 9, 1))),
    (noon(date(2024, 7, 15)), (None, at(2024, 9, 1), at(2024, 9, 1))),
    (noon(date(2024, 9, 2)), (None, None, None)),
])
def test_xining_next_changes(t, expected):
    assert tuple(tl.next_change(t) for tl in xining()) == expected


def test_xining_long_closure_paused_by_tourist_season():
    long = timeline(Span(date(2024, 4, 1), date(2024, 10, 31)), project_pauses=TOURIST_SEASON)
    assert long.status_at(noon(date(2024, 7, 15))) == "paused"
    assert long.status_at(noon(date(2024, 9, 2))) == "active"
    assert long.next_change(noon(date(2024, 7, 15))) == datetime(2024, 9, 1, tzinfo=PLUS8)
    assert long.next_change(noon(date(2024, 5, 15))) == at(2024, 6, 1)
    assert long.next_change(noon(date(2024, 9, 2))) == at(2024, 11, 1)
    assert long.status_at(at(2024, 11, 1)) == "completed"
    everything = long.periods(at(2024, 1, 1), at(2025, 1, 1), include_paused=True)
    assert [(p.start, p.end, p.state) for p in everything] == [
        (at(2024, 4, 1), at(2024, 6, 1), "active"),
        (at(2024, 6, 1), at(2024, 9, 1), "paused"),
        (at(2024, 9, 1), at(2024, 11, 1), "active"),
    ]
    assert [p.state for p in long.periods(at(2024, 1, 1), at(2025, 1, 1))] == ["active", "active"]


# ---------------------------------------------------------------------------- 2. night works

NIGHTS = Hours(WEEKDAYS, time(22), time(6))  # Mon-Fri 22:00-06:00, each night belongs to its evening


def night_works(window=Span(date(2024, 3, 1), date(2024, 3, 31)), **kw) -> Timeline:
    return timeline(window, hours=(NIGHTS,), **kw)


@pytest.mark.parametrize("t, status, change", [
    (at(2024, 3, 14, 12), "upcoming", at(2024, 3, 14, 22)),        # Thu noon
    (at(2024, 3, 14, 22), "active", at(2024, 3, 15, 6)),           # Thu 22:00 sharp
    (at(2024, 3, 15, 23), "active", at(2024, 3, 16, 6)),           # Fri 23:00
    (at(2024, 3, 16, 5, 59), "active", at(2024, 3, 16, 6)),        # Sat 05:59, Friday's night
    (at(2024, 3, 16, 6), "upcoming", at(2024, 3, 18, 22)),         # Sat 06:00
    (at(2024, 3, 16, 22, 30), "upcoming", at(2024, 3, 18, 22)),    # Sat not in days
    (at(2024, 3, 17, 23), "upcoming", at(2024, 3, 18, 22)),        # Sun not in days
    (at(2024, 3, 18, 3), "upcoming", at(2024, 3, 18, 22)),         # Mon early = Sunday's night
    (at(2024, 3, 19, 3), "active", at(2024, 3, 19, 6)),            # Tue early = Monday's night
    (at(2024, 3, 29, 23), "active", at(2024, 3, 30, 6)),           # last night of the window
    (at(2024, 3, 30, 6), "completed", None),
    (at(2024, 3, 31, 23), "completed", None),                      # Sun 31st is in the window, not in the hours
])
def test_night_works_status_and_next_change(t, status, change):
    tl = night_works()
    assert tl.status_at(t) == status
    assert tl.next_change(t) == change


def test_night_works_periods_are_eight_hour_nights():
    tl = night_works()
    week = tl.periods(at(2024, 3, 18), at(2024, 3, 25))
    assert [(p.start, p.end) for p in week] == [
        (at(2024, 3, d, 22), at(2024, 3, d + 1, 6)) for d in range(18, 23)
    ]
    # 21 weekday nights start in March; Thursday 29 Feb's night started before the window and is not part of it
    assert closed_time(tl, at(2024, 2, 29), at(2024, 4, 2)) == 21 * timedelta(hours=8)


def test_night_works_last_night_of_a_date_window_runs_to_its_morning():
    tl = night_works(Span(date(2024, 3, 1), date(2024, 3, 28)))  # ends Thu 28th inclusive
    assert tl.status_at(at(2024, 3, 28, 23, 30)) == "active"
    assert tl.next_change(at(2024, 3, 28, 23, 30)) == at(2024, 3, 29, 6)
    assert tl.status_at(at(2024, 3, 29, 0, 30)) == "active"
    assert tl.status_at(at(2024, 3, 29, 6)) == "completed"
    assert spans(tl.periods(at(2024, 3, 28), at(2024, 3, 30)))[-1] == (at(2024, 3, 28, 22), at(2024, 3, 29, 6))


def test_night_works_window_start_leaves_out_the_previous_evening_night():
    tl = night_works(Span(date(2024, 3, 5), date(2024, 3, 8)))  # starts Tue, Monday's night runs into it
    assert tl.status_at(at(2024, 3, 4, 23)) == "upcoming"
    assert tl.status_at(at(2024, 3, 5, 3)) == "upcoming"
    assert tl.next_change(at(2024, 3, 4, 23)) == at(2024, 3, 5, 22)
    assert tl.periods(at(2024, 3, 5), at(2024, 3, 6))[0].start == at(2024, 3, 5, 22)


def test_issue_12_december_night_window():
    # The contract's own example: 12-01..12-31 with 22:00-06:00 closes from 12-01 22:00 to 01-01 06:00.
    tl = timeline(Span(date(2026, 12, 1), date(2026, 12, 31)), hours=(Hours(ALL_DAYS, time(22), time(6)),))
    assert tl.status_at(at(2026, 12, 1, 3)) == "upcoming"
    assert tl.next_change(at(2026, 12, 1)) == at(2026, 12, 1, 22)
    assert tl.status_at(at(2027, 1, 1, 5, 59)) == "active"
    assert tl.next_change(at(2026, 12, 31, 23)) == at(2027, 1, 1, 6)
    assert tl.status_at(at(2027, 1, 1, 6)) == "completed"
    found = spans(tl.periods(at(2026, 11, 30), at(2027, 1, 3)))
    assert len(found) == 31
    assert found[0] == (at(2026, 12, 1, 22), at(2026, 12, 2, 6))
    assert found[-1] == (at(2026, 12, 31, 22), at(2027, 1, 1, 6))
    assert tl.in_effect(at(2027, 1, 1, 1), at(2027, 1, 1, 2))
    assert not tl.in_effect(at(2026, 12, 1, 1), at(2026, 12, 1, 2))


def test_date_time_bounds_clip_night_sessions():
    tl = timeline(Span(at(2026, 12, 1, 3), at(2026, 12, 31, 23)), hours=(Hours(ALL_DAYS, time(22), time(6)),))
    assert spans(tl.periods(at(2026, 11, 30), at(2026, 12, 2)))[0] == (at(2026, 12, 1, 3), at(2026, 12, 1, 6))
    assert spans(tl.periods(at(2026, 12, 31), at(2027, 1, 3)))[-1] == (at(2026, 12, 31, 22), at(2026, 12, 31, 23))


def test_adjacent_date_windows_hand_the_night_over_at_midnight():
    first, second = Span(date(2024, 3, 1), date(2024, 3, 14), "a"), Span(date(2024, 3, 15), date(2024, 3, 31), "b")
    tl = timeline(first, second, hours=(NIGHTS,))
    # Thursday 14th's night starts in the first window and goes on, in the second, to Friday 06:00.
    night = tl.periods(at(2024, 3, 14, 12), at(2024, 3, 15, 12))
    assert [(p.start, p.end, p.label) for p in night] == [
        (at(2024, 3, 14, 22), at(2024, 3, 15), "a"), (at(2024, 3, 15), at(2024, 3, 15, 6), "b")]
    assert tl.status_at(at(2024, 3, 15, 5)) == "active"


def test_a_session_of_the_first_day_overlapping_the_previous_night_is_kept():
    # Weeknights 22:00-06:00 and Saturdays all day: a window starting on Saturday keeps Saturday 00:00-06:00.
    hours = (NIGHTS, Hours(frozenset({5}), time(0), time(0), ends_at_midnight=True))
    tl = timeline(Span(date(2024, 3, 16), date(2024, 3, 17)), hours=hours)
    assert spans(tl.periods(at(2024, 3, 15), at(2024, 3, 18))) == [(at(2024, 3, 16), at(2024, 3, 17))]


def test_actual_start_clips_like_a_date_time():
    tl = night_works(Span(date(2024, 3, 5), date(2024, 3, 8)), actual_start=at(2024, 3, 5, 3))
    assert tl.status_at(at(2024, 3, 5, 4)) == "active"  # Monday's night, from the moment works began
    assert spans(tl.periods(at(2024, 3, 5), at(2024, 3, 6)))[0] == (at(2024, 3, 5, 3), at(2024, 3, 5, 6))


def test_pause_outside_hours_does_not_pause():
    tl = night_works(pauses=(Span(date(2024, 3, 11), date(2024, 3, 12)),))
    assert tl.status_at(at(2024, 3, 11, 12)) == "upcoming"   # daytime: hours do not cover it
    assert tl.status_at(at(2024, 3, 11, 23)) == "paused"
    assert tl.status_at(at(2024, 3, 13, 1)) == "active"     # Tuesday's night runs past the pause's end
    assert tl.next_change(at(2024, 3, 11, 23)) == at(2024, 3, 12, 6)  # paused -> upcoming (daytime)
    assert tl.next_change(at(2024, 3, 12, 23)) == at(2024, 3, 13)     # paused -> active


def test_hours_length():
    assert NIGHTS.length() == timedelta(hours=8)
    assert Hours(ALL_DAYS, time(18), time(0), ends_at_midnight=True).length() == timedelta(hours=6)
    assert Hours(ALL_DAYS, time(6), time(6)).length() == timedelta(hours=24)
    assert Hours(ALL_DAYS, time(7, 30), time(17)).length() == timedelta(hours=9, minutes=30)


def test_hours_ending_at_midnight():
    tl = timeline(Span(date(2024, 3, 1), date(2024, 3, 31)),
                  hours=(Hours(frozenset({0}), time(18), time(0), ends_at_midnight=True),))
    assert spans(tl.periods(at(2024, 3, 4), at(2024, 3, 5))) == [(at(2024, 3, 4, 18), at(2024, 3, 5))]


# ---------------------------------------------------------------------------- 3. boundaries, open ends, actual dates

def test_start_and_end_instants():
    assert start_instant(date(2024, 5, 1), SH) == at(2024, 5, 1)
    assert end_instant(date(2024, 5, 10), SH) == at(2024, 5, 11)
    assert end_instant(at(2024, 5, 10, 9, 30), SH) == at(2024, 5, 10, 9, 30)
    assert end_instant(None, SH) is None
    assert start_instant(at(2024, 5, 1, 9), SH).utcoffset() == timedelta(0)


def test_inclusive_date_end():
    tl = timeline(Span(date(2024, 5, 1), date(2024, 5, 10)))
    assert tl.status_at(at(2024, 4, 30, 23, 59, 59) + timedelta(microseconds=999999)) == "upcoming"
    assert tl.status_at(at(2024, 5, 1)) == "active"
    assert tl.status_at(at(2024, 5, 11) - TINY) == "active"
    assert tl.status_at(at(2024, 5, 11)) == "completed"
    assert tl.next_change(at(2024, 5, 5)) == at(2024, 5, 11)


def test_exclusive_datetime_end_and_datetime_start():
    tl = timeline(Span(at(2024, 5, 1, 9, 30), at(2024, 5, 10)))
    assert tl.status_at(at(2024, 5, 1, 9, 29, 59)) == "upcoming"
    assert tl.status_at(at(2024, 5, 1, 9, 30)) == "active"
    assert tl.status_at(at(2024, 5, 10) - TINY) == "active"
    assert tl.status_at(at(2024, 5, 10)) == "completed"
    assert tl.next_change(at(2024, 5, 1)) == at(2024, 5, 1, 9, 30)


def test_instants_in_other_offsets_are_the_same_instants():
    tl = timeline(Span(date(2024, 5, 1), date(2024, 5, 10)))
    assert tl.status_at(datetime(2024, 4, 30, 16, tzinfo=UTC)) == "active"
    assert tl.status_at(datetime(2024, 4, 30, 15, 59, 59, tzinfo=UTC)) == "upcoming"


def test_naive_instant_rejected():
    with pytest.raises(ValueError):
        timeline(Span(date(2024, 5, 1), None)).status_at(datetime(2024, 5, 2))


def test_open_ended_window():
    tl = timeline(Span(date(2024, 5, 1), None, "until further notice"))
    assert tl.status_at(at(2024, 4, 30, 12)) == "upcoming"
    assert tl.next_change(at(2024, 4, 30, 12)) == at(2024, 5, 1)
    assert tl.status_at(at(2031, 1, 1)) == "active"
    assert tl.next_change(at(2024, 6, 1)) is None
    (period,) = tl.periods(at(2024, 6, 1), at(2024, 7, 1))
    assert (period.start, period.end, period.label) == (at(2024, 5, 1), None, "until further notice")
    assert tl.periods(at(2024, 6, 1), None)[0].end is None


def test_open_ended_pause_pauses_forever():
    tl = timeline(Span(date(2024, 5, 1), None), pauses=(Span(date(2024, 6, 1), None),))
    assert tl.status_at(at(2030, 1, 1)) == "paused"
    assert tl.next_change(at(2024, 5, 15)) == at(2024, 6, 1)
    assert tl.next_change(at(2024, 6, 15)) is None


def test_pause_covering_the_rest_means_completed():
    tl = timeline(Span(date(2024, 5, 1), date(2024, 5, 10)), pauses=(Span(date(2024, 5, 5), date(2024, 5, 31)),))
    assert tl.status_at(at(2024, 5, 4, 12)) == "active"
    assert tl.status_at(at(2024, 5, 6)) == "paused"
    assert tl.status_at(at(2024, 5, 11)) == "completed"
    assert tl.next_change(at(2024, 5, 6)) == at(2024, 5, 11)


def test_cancelled():
    tl = timeline(Span(date(2024, 5, 1), date(2024, 5, 10)), cancelled=True)
    for t in (at(2024, 4, 1), at(2024, 5, 5), at(2024, 6, 1)):
        assert tl.status_at(t) == "cancelled"
        assert tl.next_change(t) is None
    assert tl.periods(at(2024, 1, 1), at(2025, 1, 1), include_paused=True) == []


def test_actual_start_earlier_than_planned():
    tl = timeline(Span(date(2024, 5, 10), date(2024, 5, 20)), actual_start=at(2024, 5, 8, 9))
    assert tl.status_at(at(2024, 5, 8, 8, 59, 59)) == "upcoming"
    assert tl.status_at(at(2024, 5, 8, 9)) == "active"
    assert spans(tl.periods(at(2024, 5, 1), at(2024, 6, 1))) == [(at(2024, 5, 8, 9), at(2024, 5, 21))]


def test_actual_start_later_than_planned():
    tl = timeline(Span(date(2024, 5, 10), date(2024, 5, 20)), actual_start=at(2024, 5, 12, 14))
    assert tl.status_at(at(2024, 5, 11)) == "upcoming"
    assert tl.next_change(at(2024, 5, 11)) == at(2024, 5, 12, 14)
    assert tl.status_at(at(2024, 5, 12, 14)) == "active"


def test_actual_start_moves_the_chronologically_first_window():
    tl = timeline(Span(date(2024, 6, 1), date(2024, 6, 10), "phase 2"), Span(date(2024, 5, 1), date(2024, 5, 10), "phase 1"),
                  actual_start=at(2024, 4, 28))
    first, second = tl.periods(at(2024, 4, 1), at(2024, 7, 1))
    assert (first.start, first.end, first.window, first.label) == (at(2024, 4, 28), at(2024, 5, 11), 1, "phase 1")
    assert (second.start, second.end, second.window) == (at(2024, 6, 1), at(2024, 6, 11), 0)


def test_actual_end_ends_every_window():
    tl = timeline(Span(date(2024, 5, 1), date(2024, 5, 10)), Span(date(2024, 6, 1), None),
                  actual_end=at(2024, 5, 5, 18))
    assert tl.status_at(at(2024, 5, 5, 17)) == "active"
    assert tl.next_change(at(2024, 5, 5, 17)) == at(2024, 5, 5, 18)
    assert tl.status_at(at(2024, 5, 5, 18)) == "completed"
    assert tl.status_at(at(2024, 6, 15)) == "completed"
    assert tl.next_change(at(2024, 5, 5, 18)) is None


# ---------------------------------------------------------------------------- 4. clock changes

def test_date_window_across_spring_forward_starts_and_ends_at_local_midnight():
    tl = timeline(Span(date(2024, 3, 25), date(2024, 4, 5)), tz=BERLIN)
    (p,) = tl.periods(at(2024, 3, 1, tz=BERLIN), at(2024, 5, 1, tz=BERLIN))
    assert p.start == datetime(2024, 3, 24, 23, tzinfo=UTC) and p.start.utcoffset() == timedelta(hours=1)
    assert p.end == datetime(2024, 4, 5, 22, tzinfo=UTC) and p.end.utcoffset() == timedelta(hours=2)
    assert elapsed(p.start, p.end) == timedelta(days=12, hours=-1)
    assert tl.status_at(at(2024, 3, 24, 23, 59, 59, tz=BERLIN)) == "upcoming"
    assert tl.status_at(at(2024, 4, 6, tz=BERLIN) - TINY) == "active"
    assert tl.status_at(at(2024, 4, 6, tz=BERLIN)) == "completed"


def test_date_window_across_fall_back_ends_at_local_midnight():
    tl = timeline(Span(date(2024, 10, 20), date(2024, 10, 30)), tz=BERLIN)
    (p,) = tl.periods(at(2024, 10, 1, tz=BERLIN), at(2024, 12, 1, tz=BERLIN))
    assert p.end == datetime(2024, 10, 30, 23, tzinfo=UTC)
    assert elapsed(p.start, p.end) == timedelta(days=11, hours=1)
    assert tl.next_change(at(2024, 10, 25, tz=BERLIN)) == at(2024, 10, 31, tz=BERLIN)


@pytest.mark.parametrize("tz, evening, hours", [
    (BERLIN, date(2024, 3, 23), 8),
    (BERLIN, date(2024, 3, 30), 7),
    (BERLIN, date(2024, 10, 26), 9),
    (NEW_YORK, date(2024, 3, 9), 7),
    (NEW_YORK, date(2024, 11, 2), 9),
])
def test_night_across_clock_change(tz, evening, hours):
    tl = timeline(Span(date(2024, 1, 1), date(2024, 12, 31)), hours=(Hours(ALL_DAYS, time(22), time(6)),), tz=tz)
    begin = datetime.combine(evening, time(22), tzinfo=tz)
    morning = datetime.combine(evening + DAY, time(6), tzinfo=tz)
    nights = [p for p in tl.periods(begin, morning) if p.start == begin]
    assert spans(nights) == [(begin, morning)]
    assert elapsed(nights[0].start, nights[0].end) == timedelta(hours=hours)
    assert tl.next_change(begin + timedelta(hours=1)) == morning
    assert tl.status_at(morning - TINY) == "active"
    assert tl.status_at(morning) == "upcoming"


# ---------------------------------------------------------------------------- 5. validation

def test_valid_schedule_passes():
    check_schedule(Schedule((Span(date(2024, 5, 1), date(2024, 5, 1)),), (Span(date(2024, 5, 1), None),)), SH)
    check_schedule(Schedule((Span(date(2024, 5, 1), None),)), SH)


def test_end_before_start():
    bad = Schedule((Span(date(2024, 5, 10), date(2024, 5, 1)),))
    assert set(errors_of(bad)) == {"schedule.windows[0].end"}
    assert set(errors_of(bad, "closures[2].schedule")) == {"closures[2].schedule.windows[0].end"}


def test_datetime_end_equal_to_start_is_empty():
    assert set(errors_of(Schedule((Span(at(2024, 5, 1, 9), at(2024, 5, 1, 9)),)))) == {"schedule.windows[0].end"}


def test_no_windows():
    assert set(errors_of(Schedule(()))) == {"schedule.windows"}


@pytest.mark.parametrize("windows, path", [
    ((Span(date(2024, 5, 1), date(2024, 5, 10)), Span(date(2024, 5, 10), date(2024, 5, 20))), "schedule.windows[1]"),
    ((Span(date(2024, 5, 10), date(2024, 5, 20)), Span(date(2024, 5, 1), date(2024, 5, 10))), "schedule.windows[0]"),
    ((Span(date(2024, 5, 1), None), Span(date(2024, 8, 1), date(2024, 8, 2))), "schedule.windows[1]"),
    ((Span(date(2024, 5, 1), date(2024, 5, 10)), Span(at(2024, 5, 10, 23, 59), None)), "schedule.windows[1]"),
])
def test_overlapping_windows_name_the_later_one(windows, path):
    errors = errors_of(Schedule(windows))
    assert list(errors) == [path]
    assert "overlap" in errors[path][0]


def test_every_overlapping_window_is_reported():
    windows = (Span(date(2024, 1, 1), date(2024, 12, 31)), Span(date(2024, 2, 1), date(2024, 2, 10)),
               Span(date(2024, 3, 1), date(2024, 3, 10)))
    assert set(errors_of(Schedule(windows))) == {"schedule.windows[1]", "schedule.windows[2]"}


@pytest.mark.parametrize("windows", [
    (Span(date(2024, 5, 1), date(2024, 5, 10)), Span(date(2024, 5, 11), date(2024, 5, 20))),
    (Span(date(2024, 5, 11), None), Span(date(2024, 5, 1), date(2024, 5, 10))),
    (Span(date(2024, 5, 1), date(2024, 5, 10)), Span(at(2024, 5, 11), at(2024, 5, 12))),
    (Span(at(2024, 5, 1, 8), at(2024, 5, 1, 18)), Span(at(2024, 5, 1, 18), at(2024, 5, 1, 20))),
])
def test_adjacent_windows_are_fine(windows):
    assert errors_of(Schedule(windows)) == {}


def test_pause_outside_every_window():
    windows = (Span(date(2024, 5, 1), date(2024, 5, 10)), Span(date(2024, 6, 1), date(2024, 6, 10)))
    pauses = (Span(date(2024, 5, 5), date(2024, 5, 6)), Span(date(2024, 5, 11), date(2024, 5, 31)),
              Span(date(2024, 6, 10), None))
    errors = errors_of(Schedule(windows, pauses))
    assert list(errors) == ["schedule.pauses[1]"]
    assert "outside every window" in errors["schedule.pauses[1]"][0]


def test_pause_end_before_start():
    schedule = Schedule((Span(date(2024, 5, 1), None),), (Span(date(2024, 6, 5), date(2024, 6, 1)),))
    assert set(errors_of(schedule)) == {"schedule.pauses[0].end"}
    with pytest.raises(ValidationFailed) as caught:
        check_pauses(schedule.pauses, SH, "pauses")
    assert set(caught.value.errors) == {"pauses[0].end"}
    check_pauses(TOURIST_SEASON, SH)


def test_zone_lookup():
    assert zone("Asia/Shanghai") == SH
    with pytest.raises(ValidationFailed) as caught:
        zone("Mars/Olympus_Mons", "project.timezone")
    assert set(caught.value.errors) == {"project.timezone"}
    with pytest.raises(ValidationFailed):
        zone("")


# ---------------------------------------------------------------------------- hours covering the whole day

@pytest.mark.parametrize("hours", [
    (Hours(ALL_DAYS, time(6), time(18)), Hours(ALL_DAYS, time(18), time(6))),
    (Hours(ALL_DAYS, time(22), time(22)),),
])
def test_round_the_clock_hours_equal_no_hours(hours):
    window = Span(date(2024, 1, 1), date(2024, 12, 31))
    t = at(2024, 7, 1, 12)
    plain, limited = timeline(window), timeline(window, hours=hours)
    assert spans(limited.periods(t - 30 * DAY, t + 30 * DAY)) == spans(plain.periods(t - 30 * DAY, t + 30 * DAY))


def test_round_the_clock_hours_keep_statuses():
    window = Span(date(2024, 1, 1), date(2024, 12, 31))
    tl = timeline(window, hours=(Hours(ALL_DAYS, time(6), time(18)), Hours(ALL_DAYS, time(18), time(6))))
    assert tl.status_at(at(2024, 7, 1, 3)) == "active"
    assert tl.next_change(at(2024, 7, 1, 3)) == at(2025, 1, 1)


# ---------------------------------------------------------------------------- 6. properties

DAY0 = date(2024, 3, 1)


def local(day: date, minutes: int = 0) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SH) + timedelta(minutes=minutes)


def ceil_day(instant: datetime) -> date:
    """First local date whose midnight is not before `instant`."""
    return (instant.astimezone(SH) - TINY).date() + DAY


@st.composite
def span_from(draw, day: date, max_days: int, may_be_open: bool) -> Span:
    """A span starting on `day`: date or date-time at each end, maybe open-ended."""
    start = day if draw(st.booleans()) else local(day, draw(st.integers(0, 1439)))
    if may_be_open and draw(st.integers(0, 3)) == 0:
        return Span(start, None)
    length = draw(st.integers(0, max_days))
    if draw(st.booleans()):
        return Span(start, day + timedelta(days=length))
    return Span(start, start_instant(start, SH).astimezone(SH) + timedelta(days=length, minutes=draw(st.integers(1, 1440))))


@st.composite
def windows(draw) -> tuple[Span, ...]:
    """1-3 non-overlapping windows (maybe adjacent), the last maybe open-ended, in random order."""
    n = draw(st.integers(1, 3))
    cursor, out = DAY0, []
    for i in range(n):
        span = draw(span_from(cursor + timedelta(days=draw(st.integers(0, 15))), 40, i == n - 1))
        out.append(span)
        if span.end is not None:
            cursor = ceil_day(end_instant(span.end, SH))
    return tuple(draw(st.permutations(out)))


@st.composite
def hours_entry(draw) -> Hours:
    days = frozenset(draw(st.sets(st.integers(0, 6), min_size=1)))
    start = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
    if draw(st.integers(0, 4)) == 0:
        return Hours(days, start, time(0), ends_at_midnight=True)
    return Hours(days, start, time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30]))))


def covers_whole_week(hours) -> bool:
    """Independent check (in UTC, like Shanghai without clock changes): no gap left in the week."""
    monday = datetime(2024, 1, 8, tzinfo=UTC)
    occurrences = []
    for k in range(-7, 14):
        day = monday + k * DAY
        for h in hours:
            if day.weekday() in h.days:
                s = day.replace(hour=h.start.hour, minute=h.start.minute)
                e = day.replace(hour=h.end.hour, minute=h.end.minute)
                occurrences.append((s, e + DAY if h.ends_at_midnight or e <= s else e))
    reach = None
    for s, e in sorted(occurrences):
        if s <= monday and e > monday:
            reach = max(reach or e, e)
        elif reach is not None and s <= reach:
            reach = max(reach, e)
    return reach is not None and reach >= monday + 7 * DAY


@st.composite
def timelines(draw) -> Timeline:
    ws = draw(windows())
    pause = span_from(DAY0 + timedelta(days=draw(st.integers(-10, 130))), 30, True)
    pauses = tuple(draw(pause) for _ in range(draw(st.integers(0, 2))))
    project = tuple(draw(span_from(DAY0 + timedelta(days=draw(st.integers(-10, 130))), 45, True))
                    for _ in range(draw(st.integers(0, 1))))
    hours = tuple(draw(st.lists(hours_entry(), max_size=2))) if draw(st.booleans()) else ()
    assume(not covers_whole_week(hours) or not hours)  # round-the-clock hours have their own test
    actual_start = local(DAY0, draw(st.integers(-10 * 1440, 80 * 1440))) if draw(st.booleans()) else None
    actual_end = local(DAY0, draw(st.integers(0, 200 * 1440))) if draw(st.booleans()) else None
    schedule = Schedule(ws, pauses, hours)
    assume(not errors_of(schedule))
    check_pauses(project, SH)
    return Timeline(schedule, SH, project, actual_start, actual_end)


def edges(tl: Timeline) -> list[datetime]:
    """Instants where something may change: span ends, actual dates, edges of all periods."""
    found = [x for span in (*tl.schedule.windows, *tl.schedule.pauses, *tl.project_pauses)
             for x in (start_instant(span.start, SH), end_instant(span.end, SH)) if x is not None]
    found += [x for x in (tl.actual_start, tl.actual_end) if x is not None]
    found += [x for p in tl.periods(local(DAY0, -60 * 1440), local(DAY0, 300 * 1440), include_paused=True)
              for x in (p.start, p.end) if x is not None]
    return found


@st.composite
def cases(draw) -> tuple[Timeline, datetime]:
    """A timeline and an instant: anywhere in the range, or just around one of its edges."""
    tl = draw(timelines())
    if draw(st.booleans()):
        t = local(DAY0, -20 * 1440) + timedelta(seconds=draw(st.integers(0, 260 * 86400)))
    else:
        t = draw(st.sampled_from(edges(tl))) + draw(st.sampled_from([-SECOND, -TINY, timedelta(0), TINY, SECOND]))
    return tl, t.astimezone(SH)


PROPERTY = settings(max_examples=scaled(200), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def around(tl: Timeline, t: datetime, include_paused: bool = False):
    return tl.periods(t - 30 * DAY, t + 30 * DAY, include_paused=include_paused)


@PROPERTY
@given(cases())
def test_status_matches_periods(case):
    tl, t = case
    status = tl.status_at(t)
    assert (status == "active") == any(contains(p, t) for p in around(tl, t))
    assert (status == "paused") == any(contains(p, t) and p.state == "paused" for p in around(tl, t, True))
    later_active = any(p.start > t for p in tl.periods(t, None))
    if status not in ("active", "paused"):
        assert status == ("upcoming" if later_active else "completed")


@PROPERTY
@given(cases(), st.lists(st.floats(0.001, 0.999), min_size=3, max_size=3))
def test_next_change_is_the_first_change(case, fractions):
    tl, t = case
    now, change = tl.status_at(t), tl.next_change(t)
    if change is None:
        for days in (0.5, 1, 3, 7, 30, 100, 365):
            assert tl.status_at(t + timedelta(days=days)) == now
        return
    assert change > t
    assert tl.status_at(change) != now
    assert tl.status_at(max(t, change - SECOND)) == now
    assert tl.status_at(change - TINY) == now
    for f in fractions:  # floor, so that rounding never lands on the change itself
        assert tl.status_at(t + timedelta(microseconds=int((change - t) / TINY * f))) == now


@PROPERTY
@given(cases(), st.lists(st.floats(0.0, 0.999), min_size=3, max_size=3))
def test_last_boundary_holds_until_the_next_change_or_edge(case, fractions):
    tl, t = case
    ends = [m for m in (tl.next_change(t), tl.next_edge(t)) if m is not None]
    until = min(ends, default=t + 400 * DAY)
    assert tl.next_edge(t) is None or tl.next_edge(t) > t
    for f in fractions:
        later = t + timedelta(microseconds=int((until - t) / TINY * f))
        assert tl.last_boundary(later) == tl.last_boundary(t), later
    assert tl.last_boundary(until - TINY) == tl.last_boundary(t)


@PROPERTY
@given(cases())
def test_pauses_never_extend_a_closure(case):
    tl, t = case
    bare = replace(tl, schedule=replace(tl.schedule, pauses=()), project_pauses=())
    if tl.status_at(t) in ("active", "paused"):
        assert bare.status_at(t) == "active"
    bare_union = merged(bare.periods(t - 60 * DAY, t + 60 * DAY))
    for p in around(tl, t, include_paused=True):
        assert covered_by(p.start, p.end, bare_union), p


@PROPERTY
@given(cases())
def test_actual_dates_bound_the_periods(case):
    tl, t = case
    found = around(tl, t, include_paused=True)
    first = min(tl.schedule.windows, key=lambda w: start_instant(w.start, SH))
    first_end = end_instant(first.end, SH)
    if tl.actual_start is not None and (first_end is None or tl.actual_start < first_end):
        assert all(p.start >= tl.actual_start for p in found)
    if tl.actual_end is not None:
        assert all(p.end is not None and p.end <= tl.actual_end for p in found)


@PROPERTY
@given(cases(), st.booleans())
def test_periods_are_ordered_disjoint_and_non_empty(case, include_paused):
    tl, t = case
    found = around(tl, t, include_paused)
    for p in found:
        assert p.end is None or p.start < p.end
        assert p.start < t + 30 * DAY and (p.end is None or p.end > t - 30 * DAY)
        assert p.state in (("active", "paused") if include_paused else ("active",))
    for a, b in zip(found, found[1:]):
        assert a.end is not None and a.end <= b.start


# ---------------------------------------------------------------------------- 7. bounded arithmetic against the oracle
#
# tests/reference_schedule.py keeps the day-by-day expansion this module had before issue 10. On random
# schedules of modest reach, the bounded Timeline must give the same answers to every question.

from tests.reference_schedule import Timeline as Reference  # noqa: E402

from roadworks.domain import schedule as schedule_module  # noqa: E402
from roadworks.domain.schedule import DAWN  # noqa: E402

HAVANA = ZoneInfo("America/Havana")
# Near the spring and autumn clock changes of Berlin and Havana (Shanghai has none).
BASES = (date(2024, 3, 1), date(2024, 10, 10))


def instant(tz, day: date, minutes: int) -> datetime:
    """`minutes` after local midnight of `day`, as an instant in `tz` (exact, whatever the clock does)."""
    return (start_instant(day, tz) + timedelta(minutes=minutes)).astimezone(tz)


@st.composite
def zoned_span(draw, tz, day: date, max_days: int, may_be_open: bool) -> Span:
    """A span starting on or near `day`: date or date-time at each end, maybe open-ended."""
    start = day if draw(st.booleans()) else instant(tz, day, draw(st.integers(0, 1439)))
    if may_be_open and draw(st.integers(0, 3)) == 0:
        return Span(start, None)
    length = draw(st.integers(0, max_days))
    if draw(st.booleans()):
        return Span(start, day + timedelta(days=length))
    return Span(start, instant(tz, day, length * 1440 + draw(st.integers(1, 1440))))


@st.composite
def zoned_windows(draw, tz, base: date) -> tuple[Span, ...]:
    """1-3 non-overlapping windows (maybe adjacent), the last maybe open-ended, in random order."""
    n = draw(st.integers(1, 3))
    cursor, out = base, []
    for i in range(n):
        span = draw(zoned_span(tz, cursor + timedelta(days=draw(st.integers(0, 12))), 35, i == n - 1))
        out.append(span)
        if span.end is not None:
            cursor = (end_instant(span.end, tz).astimezone(tz) - TINY).date() + DAY
    return tuple(draw(st.permutations(out)))


@st.composite
def any_hours(draw) -> Hours:
    """Daytime, overnight, ending at midnight, or the same clock at both ends (a whole day)."""
    days = frozenset(draw(st.sets(st.integers(0, 6), min_size=1)))
    start = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
    if draw(st.integers(0, 4)) == 0:
        return Hours(days, start, time(0), ends_at_midnight=True)
    if draw(st.integers(0, 4)) == 0:  # whole days: on days in a row, runs of sessions several days long
        return Hours(days, start, start)
    return Hours(days, start, time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30]))))


@st.composite
def zoned_timelines(draw) -> tuple[Timeline, Reference]:
    """The same random schedule as a bounded Timeline and as the oracle."""
    tz = draw(st.sampled_from([SH, BERLIN, HAVANA]))
    base = draw(st.sampled_from(BASES))
    ws = draw(zoned_windows(tz, base))
    pauses = tuple(draw(zoned_span(tz, base + timedelta(days=draw(st.integers(-5, 100))), 20, True))
                   for _ in range(draw(st.integers(0, 2))))
    project = tuple(draw(zoned_span(tz, base + timedelta(days=draw(st.integers(-5, 100))), 30, True))
                    for _ in range(draw(st.integers(0, 2))))
    hours = tuple(draw(st.lists(any_hours(), max_size=3))) if draw(st.integers(0, 3)) else ()
    actual_start = instant(tz, base, draw(st.integers(-5 * 1440, 60 * 1440))) if draw(st.booleans()) else None
    actual_end = instant(tz, base, draw(st.integers(0, 150 * 1440))) if draw(st.booleans()) else None
    cancelled = draw(st.integers(0, 9)) == 0
    schedule = Schedule(ws, pauses, hours)
    assume(not errors_of(schedule, tz=tz))
    try:
        check_pauses(project, tz)
    except ValidationFailed:
        assume(False)
    args = (schedule, tz, project, actual_start, actual_end, cancelled)
    return Timeline(*args), Reference(*args)


def reference_edges(old: Reference) -> list[datetime]:
    """Where the oracle's answers change: every edge of its periods and of the spans."""
    found = [x for x in old._edges()]
    found += [x for p in old.periods(DAWN, None, include_paused=True) for x in (p.start, p.end) if x is not None]
    return found or [datetime(2024, 3, 1, tzinfo=UTC)]


@st.composite
def moments(draw, old: Reference) -> datetime:
    """Anywhere around the schedule, or just around one of its edges."""
    if draw(st.booleans()):
        t = datetime(2024, 2, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 330 * 86400)))
    else:
        t = draw(st.sampled_from(reference_edges(old))) + draw(
            st.sampled_from([-DAY, -SECOND, -TINY, timedelta(0), TINY, SECOND, DAY]))
    return t.astimezone(draw(st.sampled_from([UTC, SH, old.tz])))


@st.composite
def oracle_cases(draw) -> tuple[Timeline, Reference, list[datetime]]:
    new, old = draw(zoned_timelines())
    return new, old, [draw(moments(old)) for _ in range(4)]


def reference_in_effect(old: Reference, start, end, include_paused=False) -> bool:
    """The feeds' in_effect as it was: any period in [start, end + 1 µs), from the oracle's expansion."""
    if start is not None and end is not None and end < start:
        return False
    return bool(old.periods(start or DAWN, None if end is None else end + TINY, include_paused=include_paused))


# ROADWORKS_ORACLE_EXAMPLES=5000 for a longer hunt than CI's.
ORACLE = settings(max_examples=int(os.environ.get("ROADWORKS_ORACLE_EXAMPLES") or scaled(120)), deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@ORACLE
@given(oracle_cases())
def test_status_next_change_and_last_boundary_match_the_oracle(case):
    new, old, ts = case
    for t in ts:
        assert new.status_at(t) == old.status_at(t), t
        assert new.next_change(t) == old.next_change(t), t
        assert new.last_boundary(t) == old.last_boundary(t), t


@ORACLE
@given(oracle_cases(), st.booleans(), st.data())
def test_periods_match_the_oracle(case, include_paused, data):
    new, old, ts = case
    a, b = sorted(ts[:2]) if data.draw(st.integers(0, 5)) else ts[:2]  # now and then end before start
    assert new.periods(a, b, include_paused=include_paused) == old.periods(a, b, include_paused=include_paused)
    open_end = old.periods(ts[2], None, include_paused=include_paused)
    assert new.periods(ts[2], None, include_paused=include_paused) == open_end
    lazy = new.iter_periods(ts[2], None, include_paused=include_paused)
    assert [p for p, _ in zip(lazy, range(len(open_end)))] == open_end
    for end in (ts[3], None):
        before = old.periods(DAWN, end, include_paused=include_paused)
        assert new.last_period(end, include_paused=include_paused) == (before[-1] if before else None)


@ORACLE
@given(oracle_cases(), st.booleans())
def test_in_effect_matches_the_oracle(case, include_paused):
    new, old, ts = case
    a, b, c, d = ts
    for start, end in ((a, b), (min(a, b), max(a, b)), (c, c), (None, d), (c, None), (None, None)):
        assert new.in_effect(start, end, include_paused=include_paused) == \
            reference_in_effect(old, start, end, include_paused), (start, end)
    assert feeds_in_effect(new, a, None) == reference_in_effect(old, a, None)


def feeds_in_effect(tl, start, end):
    from roadworks.feeds import in_effect
    return in_effect(tl, start, end)


# ---------------------------------------------------------------------------- 8. the worst schedule an editor can save

EIGHT_HOURS = (
    Hours(WEEKDAYS, time(0), time(0), ends_at_midnight=True),  # a five-day run of sessions
    Hours(frozenset({5}), time(22), time(6)),
    Hours(frozenset({6}), time(10), time(12)),
    Hours(frozenset({6}), time(13), time(14)),
    Hours(frozenset({5}), time(8), time(9)),
    Hours(frozenset({5}), time(12), time(13)),
    Hours(frozenset({6}), time(20), time(23)),
    Hours(ALL_DAYS, time(23, 30), time(0, 30)),
)
EVERY_NIGHT = (*(Hours(frozenset({d}), time(22), time(5, 30)) for d in range(7)),
               Hours(ALL_DAYS, time(12), time(13)))
FAR_INSTANTS = [datetime(y, m, d, h, tzinfo=BERLIN) for y, m, d, h in (
    (1899, 5, 5, 0), (1900, 1, 1, 0), (1950, 7, 15, 3), (2025, 1, 1, 0), (2025, 7, 15, 3), (2026, 1, 20, 12),
    (2150, 5, 5, 11), (2199, 12, 30, 23), (2199, 12, 31, 23), (2300, 1, 1, 0))]


def worst_timeline(hours, end) -> Timeline:
    pauses = tuple(Span(date(y, 7, 1), date(y, 8, 31)) for y in (1950, 2000, 2025, 2100))
    project = (Span(date(2026, 1, 1), date(2026, 2, 1)), Span(datetime(2150, 5, 5, 12, tzinfo=BERLIN), None))
    schedule = Schedule((Span(date(1900, 1, 1), end),), pauses, hours)
    check_schedule(schedule, BERLIN)
    return Timeline(schedule, BERLIN, project)


@pytest.fixture
def sessions_made(monkeypatch):
    """How many single sessions of the weekly hours the code under test works out."""
    made = [0]
    real = schedule_module._occurrence

    def counted(*args):
        made[0] += 1
        return real(*args)

    monkeypatch.setattr(schedule_module, "_occurrence", counted)
    return made


@pytest.mark.parametrize("hours", [EIGHT_HOURS, EVERY_NIGHT], ids=["runs", "nights"])
@pytest.mark.parametrize("end", [date(2199, 12, 31), None], ids=["to-2199", "open"])
def test_far_reaching_schedule_answers_in_bounded_work(hours, end, sessions_made):
    import time as clock
    tl = worst_timeline(hours, end)
    since, until = datetime(1900, 1, 1, tzinfo=BERLIN), datetime(2199, 1, 1, tzinfo=BERLIN)
    questions = [lambda t: tl.status_at(t), lambda t: tl.next_change(t), lambda t: tl.last_boundary(t),
                 lambda t: tl.in_effect(since, until), lambda t: tl.in_effect(t, None, include_paused=True),
                 lambda t: list(zip(tl.iter_periods(t, None), range(10))), lambda t: tl.last_period(t),
                 lambda t: tl.last_period(None, include_paused=True)]
    for t in FAR_INSTANTS:
        for ask in questions:
            sessions_made[0] = 0
            began = clock.perf_counter()
            ask(t)
            assert sessions_made[0] < 300, (t, sessions_made[0])
            assert clock.perf_counter() - began < 1.0  # the expansion took seconds per call
    sessions_made[0] = 0
    a, b = datetime(2100, 1, 1, tzinfo=UTC), datetime(2100, 1, 15, tzinfo=UTC)
    found = tl.periods(a, b)
    assert found and all(p.start < b and p.end > a for p in found) and len(found) <= 2 * 15
    assert sessions_made[0] < 300


@pytest.mark.parametrize("tz", [SH, BERLIN, HAVANA])
def test_runs_of_sessions_days_long_keep_their_start(tz):
    # Monday 06:00 to Saturday 06:00 without a break: asked about on Thursday, the period still starts on Monday.
    tl = timeline(Span(date(2024, 2, 1), date(2024, 4, 30)), hours=(Hours(WEEKDAYS, time(6), time(6)),), tz=tz)
    old = Reference(tl.schedule, tz)
    for day in range(1, 60):
        t = at(2024, 2, 1, 12, tz=tz) + day * DAY
        assert tl.periods(t, t + DAY) == old.periods(t, t + DAY)
        assert tl.last_boundary(t) == old.last_boundary(t)
        assert (tl.status_at(t), tl.next_change(t)) == (old.status_at(t), old.next_change(t))
    thursday = at(2024, 3, 7, 12, tz=tz)
    assert [p.start for p in tl.periods(thursday, thursday + DAY)] == [at(2024, 3, 4, 6, tz=tz)]


def test_far_reaching_schedule_answers_like_the_oracle_where_it_is_cheap():
    tl = worst_timeline(EVERY_NIGHT, None)
    old = Reference(tl.schedule, tl.tz, tl.project_pauses)
    # The open-ended project pause begins at noon, in the midday session: nothing is in effect after it.
    assert tl.status_at(datetime(2150, 5, 5, 12, 30, tzinfo=BERLIN)) == "paused"
    assert tl.status_at(datetime(2150, 5, 5, 11, tzinfo=BERLIN)) == "completed"
    for t in (datetime(2150, 5, 5, 11, tzinfo=BERLIN), datetime(2150, 5, 5, 13, tzinfo=BERLIN),
              datetime(2190, 5, 5, 13, tzinfo=BERLIN)):  # past the open-ended project pause: paused forever
        assert (tl.status_at(t), tl.next_change(t), tl.last_boundary(t)) == \
            (old.status_at(t), old.next_change(t), old.last_boundary(t))


def test_many_pauses_cost_work_linear_in_the_pauses(sessions_made):
    # 2,000 one-day pauses, each leaving one hour in effect between them in which no session falls.
    first = datetime(2030, 1, 1, 12, tzinfo=UTC)
    pauses = tuple(Span(first + k * DAY, first + (k + 1) * DAY - timedelta(hours=1)) for k in range(2000))
    window = Span(first, first + 2000 * DAY)
    tl = Timeline(Schedule((window,), pauses, (Hours(ALL_DAYS, time(8), time(9)),)), UTC)
    t = first - DAY
    assert tl.status_at(t) == "completed"
    assert tl.next_change(t) == datetime(2030, 1, 2, 8, tzinfo=UTC)  # the first session, paused
    assert tl.in_effect(first, first + 2000 * DAY, include_paused=True)
    sessions_made[0] = 0
    assert not tl.in_effect(first, first + 2000 * DAY)  # every session falls in a pause
    assert sessions_made[0] < 2000 * 4
    sessions_made[0] = 0
    assert tl.status_at(first + 1500 * DAY + timedelta(hours=12)) == "completed"
    assert sessions_made[0] < 1000 * 4
    sessions_made[0] = 0
    assert tl.last_period(None) is None
    assert sessions_made[0] < 2000 * 4


# ---------------------------------------------------------------------------- 9. date bounds select session days
#
# Independent of both timelines: a date-bounded window with hours is in effect exactly in the sessions that start
# on its days, each whole (issue 12), checked instant by instant in all three zones.

def sessions_started(hours, tz, days) -> list[tuple[datetime, datetime]]:
    """Every session of `hours` starting on one of the local `days`, from the wall clock alone."""
    found = []
    for day in days:
        for h in hours:
            if day.weekday() in h.days:
                s = datetime.combine(day, h.start, tzinfo=tz).astimezone(UTC)
                crosses = h.ends_at_midnight or h.end <= h.start
                e = datetime.combine(day + DAY if crosses else day, h.end, tzinfo=tz).astimezone(UTC)
                found.append((s, e))
    return found


@ORACLE
@given(st.sampled_from([SH, BERLIN, HAVANA]), st.sampled_from(BASES), st.integers(0, 20), st.integers(0, 12),
       st.lists(any_hours(), min_size=1, max_size=3),
       st.lists(st.integers(-2 * 1440, 16 * 1440), min_size=8, max_size=8))
def test_a_date_window_takes_the_sessions_starting_on_its_days(tz, base, offset, length, hours, minutes):
    assume(not covers_whole_week(hours))
    first = base + timedelta(days=offset)
    last = first + timedelta(days=length)
    tl = timeline(Span(first, last), hours=hours, tz=tz)
    taken = sessions_started(hours, tz, [first + k * DAY for k in range(length + 1)])
    left_out = sessions_started(hours, tz, [first - DAY, last + DAY])
    probes = [instant(tz, first, m) for m in minutes]
    probes += [x + d for s, e in taken + left_out for x in (s, e) for d in (-TINY, timedelta(0))]
    for t in probes:
        inside = any(s <= t < e for s, e in taken)
        assert (tl.status_at(t) == "active") == inside, t
    for s, e in taken:
        assert any(p.start <= s and e <= p.end for p in tl.periods(s, e)), (s, e)


@ORACLE
@given(oracle_cases())
def test_without_hours_spans_hold_every_period(case):
    new, _, ts = case
    bare = new.without_hours()
    assert not bare.schedule.hours
    a, b = min(ts[:2]) - 20 * DAY, max(ts[:2]) + 20 * DAY
    union = merged(bare.periods(a - 30 * DAY, b + 30 * DAY))
    for p in new.periods(a, b):
        assert covered_by(p.start, p.end, union), p


def test_without_hours_of_the_december_nights():
    tl = timeline(Span(date(2026, 12, 1), date(2026, 12, 31), "p1"), hours=(Hours(ALL_DAYS, time(22), time(6)),))
    (p,) = tl.without_hours().periods(at(2026, 11, 1), at(2027, 2, 1))
    assert (p.start, p.end, p.label) == (at(2026, 12, 1, 22), at(2027, 1, 1, 6), "p1")
