"""Rules of residents' reports (domain/reports.py): kinds, transitions, plain text, contacts, distances."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st
from pyproj import Geod
from shapely.geometry import LineString

from roadworks.domain import reports as rules
from roadworks.domain.errors import ValidationFailed


@pytest.mark.parametrize("current, wanted", [("new", "acknowledged"), ("new", "resolved"), ("new", "rejected"),
                                             ("acknowledged", "resolved"), ("acknowledged", "rejected")])
def test_reports_move_forward(current, wanted):
    assert rules.check_transition(current, wanted) == wanted


@pytest.mark.parametrize("current, wanted", [("acknowledged", "new"), ("resolved", "acknowledged"),
                                             ("rejected", "resolved"), ("resolved", "new")])
def test_reports_never_move_back(current, wanted):
    with pytest.raises(ValidationFailed) as failure:
        rules.check_transition(current, wanted)
    assert "state" in failure.value.errors


@given(st.text(max_size=300))
def test_plain_text_is_either_refused_or_free_of_control_characters(text):
    try:
        kept = rules.plain_text(text, "text", 200)
    except ValidationFailed as failure:
        assert list(failure.errors) == ["text"]
        return
    assert kept and len(kept) <= 200 and "\r" not in kept
    assert not rules._BAD_CHARS.search(kept)


@pytest.mark.parametrize("given_, kept", [("139 1234 5678", "+8613912345678"), ("+86 971 123 4567", "+869711234567"),
                                          ("0971-1234567", "+869711234567"), ("wang@Example.ORG", "wang@example.org")])
def test_contacts_are_normalised(given_, kept):
    assert rules.check_contact(given_).value == kept


@pytest.mark.parametrize("value", ["12345", "phone me", "a@b", "@example.org", "1" * 30, 13912345678])
def test_bad_contacts_are_refused(value):
    with pytest.raises(ValidationFailed) as failure:
        rules.check_contact(value)
    assert "contact" in failure.value.errors


@given(st.floats(-30, 30), st.floats(-30, 30))
def test_local_distances_agree_with_the_ellipsoid_to_half_a_percent(dx, dy):
    # Within the few km the routing looks at, the flat projection is good enough to tell 30 m from 2 km.
    lon, lat = 101.7930 + dx / 1000, 36.6115 + dy / 1000
    line = LineString([(101.7905, 36.6116), (101.7975, 36.6113)])
    nearest = line.interpolate(line.project(LineString([(lon, lat), (lon, lat)]).centroid))
    _, _, metres = Geod(ellps="WGS84").inv(lon, lat, nearest.x, nearest.y)
    assert rules.metres_between(lon, lat, line) == pytest.approx(metres, rel=0.005, abs=0.5)
