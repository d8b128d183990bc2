"""Settings come from ROADWORKS_* variables over the defaults; the app refuses a bad zone or area."""

from __future__ import annotations

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
