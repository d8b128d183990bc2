"""Matching events to subscriptions (roadworks/push/events.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from roadworks.push.events import Prepared, matches

AT = datetime(2024, 5, 20, tzinfo=timezone.utc)
CLOSURE = Prepared(1, "closure.updated", "{}", AT, "p1", "东关大街", (101.79, 36.61, 101.80, 36.62))
PROJECT = Prepared(2, "project.updated", "{}", AT, "p1", "", None)


def sub(events=("closure.updated", "project.updated"), **filters):
    return {"events": list(events), "filters": filters}


def test_types_project_road_and_box_each_filter():
    assert matches(sub(), CLOSURE)
    assert not matches(sub(events=["closure.created"]), CLOSURE)
    assert matches(sub(project="p1"), CLOSURE) and not matches(sub(project="p2"), CLOSURE)
    assert matches(sub(road="东关"), CLOSURE) and not matches(sub(road="西关"), CLOSURE)
    assert matches(sub(bbox=[101.795, 36.0, 102.0, 36.615]), CLOSURE)
    assert not matches(sub(bbox=[101.81, 36.0, 102.0, 37.0]), CLOSURE)


def test_a_project_event_is_filtered_by_project_only():
    assert matches(sub(bbox=[0, 0, 1, 1], road="x"), PROJECT)
    assert not matches(sub(project="p2"), PROJECT)
