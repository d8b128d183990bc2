"""The demo data set: the Dongguan Street founding case, loaded once into an empty database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roadworks.api.bodies import load_project
from roadworks.auth import Actor
from roadworks.demo import AGENCY, load_demo
from roadworks.domain.schedule import start_instant, zone

ADMIN = Actor(name="check", role="admin")
GONGHE, NANXIAO, YANGJIA = "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"


def closures(services) -> dict:
    return {v.closure.id: v for v in services.registry.closures(ADMIN)}


def test_loads_into_an_empty_database(services):
    assert load_demo(services.registry) is True
    projects = services.registry.projects()
    assert [p.id for p in projects] == ["dongguan-gas-2024"]
    assert projects[0].name == "东关大街燃气管网提升改造项目"
    assert projects[0].agency == AGENCY and projects[0].timezone == "Asia/Shanghai"
    assert sorted(closures(services)) == [GONGHE, NANXIAO, YANGJIA]


def test_closures_carry_chinese_names(demo):
    views = closures(demo)
    assert {v.closure.road for v in views.values()} == {"东关大街"}
    assert (views[GONGHE].closure.from_, views[GONGHE].closure.to) == ("乐都路", "共和路")
    assert (views[NANXIAO].closure.from_, views[NANXIAO].closure.to) == ("乐都路", "南小街")
    assert (views[YANGJIA].closure.from_, views[YANGJIA].closure.to) == ("杨家三巷", "建国大街")


def test_project_pauses_for_the_tourist_season(demo):
    pause = demo.registry.projects()[0].pauses[0]
    assert (pause.start.isoformat(), pause.end.isoformat()) == ("2024-06-01", "2024-08-31")


def test_second_load_does_nothing(demo, snapshot):
    before = snapshot()
    assert load_demo(demo.registry) is False
    assert snapshot() == before


def test_database_with_another_project_is_left_alone(services, snapshot):
    services.registry.create_project(load_project({"id": "other", "name": "其他工程", "agency": "某局"}), ADMIN)
    before = snapshot()
    assert load_demo(services.registry) is False
    assert snapshot() == before


def test_ledu_gonghe_reopened_five_days_ahead_of_plan(demo):
    view = closures(demo)[GONGHE]
    closure, project = view.closure, view.project
    reopened = start_instant(closure.actual_end, zone(project.timezone))
    assert closure.planned_end(project) - reopened == timedelta(days=5)
    assert reopened.astimezone(zone(project.timezone)).date().isoformat() == "2024-05-31"


def test_ledu_gonghe_was_closed_for_49_days(demo):
    view = closures(demo)[GONGHE]
    periods = view.closure.timeline(view.project).periods(datetime(2024, 1, 1, tzinfo=UTC), None)
    assert sum((p.end - p.start for p in periods), timedelta()) == timedelta(days=49)
    assert periods[0].start.date().isoformat() == "2024-04-12"


def test_september_closures_have_no_end_yet(demo):
    views = closures(demo)
    for id in (NANXIAO, YANGJIA):
        view = views[id]
        assert view.closure.planned_end(view.project) is None
        assert view.closure.actual_end is None
        assert view.closure.schedule.windows[0].start.isoformat() == "2024-09-01"


def test_geometry_runs_along_dongguan_street(demo):
    for view in closures(demo).values():
        for lon, lat in view.closure.geometry["coordinates"]:
            assert 101.785 <= lon <= 101.809 and 36.610 <= lat <= 36.612
