"""GCJ-02: published reference points, round trips under a metre, and nothing moved outside China."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings, strategies as st
from pyproj import Geod
from shapely.geometry import LineString

from roadworks.domain.crs import (GCJ02, WGS84, bbox_from, gcj02_to_wgs84, geometry_to, point_from, point_to,
                                  shape_to, wgs84_to_gcj02, wgs84_to_gcj02_array)
from tests.hypothesis_profiles import scaled

GEOD = Geod(ellps="WGS84")

# WGS 84 -> GCJ-02 pairs published with wandergis/coordtransform (its README and test/app.js),
# the reference most Chinese web-map code is checked against.
REFERENCE = [((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
             ((113.647881, 34.829793), (113.65396374215176, 34.8287280094783))]


def metres(a, b) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


@pytest.mark.parametrize("wgs, gcj", REFERENCE)
def test_forward_transform_matches_published_reference_points(wgs, gcj):
    assert metres(wgs84_to_gcj02(*wgs), gcj) < 0.01


def test_gcj02_in_xining_is_a_few_hundred_metres_off_wgs84():
    wgs = (101.7782, 36.6171)  # Dongguan Street
    assert 100 < metres(wgs, point_to(*wgs, GCJ02)) < 700


@settings(max_examples=scaled(300))
@given(lon=st.floats(74.0, 134.0), lat=st.floats(18.5, 53.0))
def test_round_trip_through_gcj02_stays_under_a_metre(lon, lat):
    there = point_to(lon, lat, GCJ02)
    assert metres((lon, lat), point_from(*there, GCJ02)) < 1.0


@settings(max_examples=scaled(100))
@given(lon=st.floats(97.0, 110.0), lat=st.floats(30.0, 40.0))
def test_inverse_is_closer_than_the_one_step_approximation(lon, lat):
    gcj = wgs84_to_gcj02(lon, lat)
    assert metres((lon, lat), gcj02_to_wgs84(*gcj)) < 0.01


def test_outside_china_nothing_moves():
    for point in ((2.3522, 48.8566), (-74.006, 40.7128), (139.69, 35.69)):
        assert point_to(*point, GCJ02) == point and point_from(*point, GCJ02) == point


def test_geometry_is_converted_into_a_new_object_and_wgs84_is_left_as_is():
    line = {"type": "MultiLineString", "coordinates": [[[101.7782, 36.6171], [101.79, 36.62]],
                                                       [[101.80, 36.61], [101.81, 36.611]]]}
    before = copy.deepcopy(line)
    moved = geometry_to(line, GCJ02)
    assert line == before and geometry_to(line, WGS84) is line
    assert moved["type"] == "MultiLineString"
    for part, original in zip(moved["coordinates"], line["coordinates"]):
        for there, here in zip(part, original):
            assert metres(point_from(*there, GCJ02), here) < 0.05  # rounded to 1e-7 degrees


def test_shapes_follow_the_same_transform():
    shape = LineString([(101.7782, 36.6171), (101.79, 36.62)])
    moved = shape_to(shape, GCJ02)
    assert list(moved.coords) == [tuple(round(v, 7) for v in wgs84_to_gcj02(*c)) for c in shape.coords]


def test_a_gcj02_bbox_becomes_the_wgs84_box_covering_it():
    gcj = (*wgs84_to_gcj02(101.77, 36.60), *wgs84_to_gcj02(101.81, 36.62))
    west, south, east, north = bbox_from(gcj, GCJ02)
    assert metres((west, south), (101.77, 36.60)) < 1 and metres((east, north), (101.81, 36.62)) < 1


def test_an_unknown_coordinate_system_is_refused():
    with pytest.raises(ValueError, match="bd09"):
        point_to(101.7, 36.6, "bd09")


def _per_point(shape):
    """shape_to as it was: one prcoords call per point, rounded to 1e-7 degrees."""
    import numpy as np
    import shapely
    return shapely.transform(shape, lambda xy: np.round(np.array([wgs84_to_gcj02(x, y) for x, y in xy]), 7)
                             .reshape(-1, 2))


def test_the_vectorised_transform_gives_the_very_floats_of_the_per_point_one():
    import numpy as np
    rng = np.random.default_rng(10)
    # China and well beyond it, and the edges of the box GCJ-02 applies in.
    xy = np.column_stack((rng.uniform(60, 150, 20_000), rng.uniform(-5, 60, 20_000)))
    edges = np.array([[72.004, 0.8293], [137.8347, 55.8271], [72.0039, 30.0], [137.8348, 30.0], [101.7782, 36.6171],
                      [116.404, 39.915], [113.647881, 34.829793]])
    xy = np.vstack((xy, edges))
    assert wgs84_to_gcj02_array(xy).tolist() == [list(wgs84_to_gcj02(x, y)) for x, y in xy.tolist()]


@settings(max_examples=scaled(50))
@given(st.lists(st.tuples(st.floats(70.0, 140.0), st.floats(0.0, 57.0)), min_size=2, max_size=40))
def test_shape_to_gcj02_equals_the_per_point_path(points):
    from shapely.geometry import MultiLineString
    shape = MultiLineString([points, points[::-1]])
    assert shape_to(shape, GCJ02).equals_exact(_per_point(shape), tolerance=0)
    assert list(shape_to(shape, GCJ02).geoms[0].coords) == list(_per_point(shape).geoms[0].coords)


def test_many_shapes_move_at_once_to_the_numbers_each_gets_alone():
    from shapely.geometry import LineString, MultiLineString
    from roadworks.domain.crs import shapes_to
    shapes = [LineString([(101.7 + k * 0.01, 36.6), (101.71 + k * 0.01, 36.61 + k * 1e-5)]) for k in range(50)]
    shapes += [MultiLineString([[(2.35, 48.85), (2.36, 48.86)], [(101.7, 36.6), (101.8, 36.7), (101.9, 36.65)]])]
    together = shapes_to(shapes, GCJ02)
    assert [list(s.coords) if s.geom_type == "LineString" else [list(g.coords) for g in s.geoms] for s in together] \
        == [list(s.coords) if s.geom_type == "LineString" else [list(g.coords) for g in s.geoms]
            for s in map(_per_point, shapes)]
    assert shapes_to(shapes, WGS84) == shapes
