"""Settings come from ROADWORKS_* variables over the defaults; the app refuses a bad zone or area."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from roadworks import create_app
from roadworks.config import CODE_ONLY, DEFAULTS, from_environment
from roadworks.config import settings as config_settings
from roadworks.domain.errors import ValidationFailed


def test_defaults_without_environment():
    assert from_environment({}) == DEFAULTS


def test_environment_overrides_and_integers_are_parsed():
    settings = from_environment({"ROADWORKS_TIMEZONE": "Europe/Paris", "ROADWORKS_MAX_BODY_BYTES": "1024",
                                 "ROADWORKS_DATABASE_URL": "", "OTHER": "x"})
    assert settings["TIMEZONE"] == "Europe/Paris"
    assert settings["MAX_BODY_BYTES"] == 1024
    assert settings["DATABASE_URL"] == ""


@pytest.mark.parametrize("override, field", [({"TIMEZONE": "Mars/Olympus"}, "ROADWORKS_TIMEZONE"),
                                             ({"SERVICE_AREA": "1,2,3"}, "ROADWORKS_SERVICE_AREA"),
                                             ({"TILE_CRS": "bd09"}, "ROADWORKS_TILE_CRS")])
def test_bad_settings_stop_the_app_with_the_variable_named(database_url, override, field):
    with pytest.raises(ValidationFailed) as failure:
        create_app({"DATABASE_URL": database_url, "MIGRATE": False, **override})
    assert field in failure.value.errors


def test_a_replayed_clock_starts_at_its_instant_and_runs_on(monkeypatch):
    from datetime import datetime, timedelta, timezone

    import roadworks.config as config

    ticks = iter([100.0, 100.0, 190.5])
    monkeypatch.setattr(config.time, "monotonic", lambda: next(ticks))
    clock = config.make_clock({"AT": "2024-05-20T12:00+08:00"})
    assert clock() == datetime(2024, 5, 20, 4, 0, tzinfo=timezone.utc)
    assert clock() == datetime(2024, 5, 20, 4, 0, tzinfo=timezone.utc) + timedelta(seconds=90.5)
    assert clock.label == "replay 2024-05-20T12:00:00+08:00"


def test_without_at_the_clock_is_the_system_clock_and_a_test_clock_wins():
    from roadworks.config import make_clock, system_clock

    assert make_clock({"AT": ""}) is system_clock
    fixed = object()
    assert make_clock({"AT": "2024-05-20T12:00Z", "CLOCK": fixed}) is fixed


@pytest.mark.parametrize("raw, reason", [("2024-05-20T12:00", "needs an offset"), ("soon", "not an ISO 8601"),
                                         ("2024-13-01T00:00Z", "not an ISO 8601")])
def test_a_bad_replay_instant_is_refused_naming_the_variable(raw, reason):
    from roadworks.config import parse_at

    with pytest.raises(ValidationFailed) as failure:
        parse_at(raw)
    assert reason in failure.value.errors["ROADWORKS_AT"][0]


def test_a_replaying_app_marks_every_answer_and_answers_as_of_its_instant(empty_database_url):
    app = create_app({"DATABASE_URL": empty_database_url, "MIGRATE": False, "AT": "2024-05-20T12:00+08:00"})
    client = app.test_client()
    for path in ("/api/v1/closures", "/api/v1/closures", "/no-such-page", "/map/config.json"):
        assert client.get(path).headers["Roadworks-Clock"] == "replay 2024-05-20T12:00:00+08:00"
    clock = app.extensions["roadworks"].clock()
    assert abs((clock - datetime(2024, 5, 20, 4, tzinfo=timezone.utc)).total_seconds()) < 60
    for page in ("map", "desk"):  # the map's and the desk's "now" is the replay's
        shown = datetime.fromisoformat(client.get(f"/{page}/config.json").json["now"])
        assert abs((shown - datetime(2024, 5, 20, 4, tzinfo=timezone.utc)).total_seconds()) < 60, page


def test_a_live_app_sends_no_clock_header(app):
    assert "Roadworks-Clock" not in app.test_client().get("/api/v1/closures").headers

def test_every_setting_is_present_and_code_overrides_come_last():
    settings = config_settings({"TIMEZONE": "Europe/Paris", "MAX_BODY_BYTES": "2048"},
                               environ={"ROADWORKS_TIMEZONE": "Asia/Tokyo", "ROADWORKS_PUBLISHER": "JTJ"})
    assert settings["TIMEZONE"] == "Europe/Paris" and settings["PUBLISHER"] == "JTJ"
    assert settings["MAX_BODY_BYTES"] == 2048  # integers parsed wherever they come from
    assert set(DEFAULTS) | set(CODE_ONLY) == set(settings)
    assert settings["CLOCK"] is None and settings["MIGRATE"] is True


def test_a_mistyped_setting_is_refused_with_its_name():
    with pytest.raises(ValidationFailed) as failure:
        create_app({"DATABSE_URL": "sqlite://"})
    assert "DATABSE_URL" in failure.value.errors
