"""Project and Closure values: zones, drafts, planned ends and the checks tied to the project."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from roadworks.domain.errors import ValidationFailed
from roadworks.domain.model import Closure, Project
from roadworks.domain.schedule import Schedule, Span, zone

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
