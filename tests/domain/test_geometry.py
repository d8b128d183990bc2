"""Tests of roadworks.domain.geometry: GeoJSON line validation, normalization, length and boxes."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roadworks.domain.errors import ValidationFailed
from roadworks.domain.geometry import (
    MAX_VERTICES, bounds, length_m, normalize_line_geometry, parse_bbox, parse_service_area, to_shape,
)
from tests.hypothesis_profiles import scaled

CHINA = (73.5, 18.0, 135.1, 53.6)
XINING = [[101.7905, 36.6116], [101.7975, 36.6113]]


def line(coords):
    return {"type": "LineString", "coordinates": coords}


def multi(parts):
    return {"type": "MultiLineString", "coordinates": parts}


def errors_of(geom, **kwargs):
    with pytest.raises(ValidationFailed) as info:
        normalize_line_geometry(geom, **kwargs)
    return info.value.errors


def assert_error(geom, where, phrase, **kwargs):
    errors = errors_of(geom, **kwargs)
    assert where in errors, errors
    assert any(phrase in message for message in errors[where]), errors


def haversine_m(lon1, lat1, lon2, lat2, radius=6_371_008.8):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


# ---------------------------------------------------------------------------- accepted input

def test_valid_linestring_is_returned_clean():
    assert normalize_line_geometry(line(XINING)) == line(XINING)


def test_valid_multilinestring_is_returned_clean():
    geom = multi([XINING, [[101.8, 36.62], [101.81, 36.63]]])
    assert normalize_line_geometry(geom, service_area=CHINA) == geom


def test_altitude_is_dropped_and_ints_become_floats():
    out = normalize_line_geometry(line([[101, 36, 2250.5], [102, 37, 2300]]))
    assert out["coordinates"] == [[101.0, 36.0], [102.0, 37.0]]
    assert all(isinstance(v, float) for p in out["coordinates"] for v in p)


def test_bbox_member_is_accepted_and_dropped():
    geom = dict(line(XINING), bbox=[101.7905, 36.6113, 101.7975, 36.6116])
    assert normalize_line_geometry(geom) == line(XINING)


def test_coordinates_are_rounded_to_seven_decimals():
    out = normalize_line_geometry(line([[101.790512345678, 36.61160000004], [101.7975, 36.6113]]))
    assert out["coordinates"][0] == [101.7905123, 36.6116]


def test_consecutive_duplicates_are_removed_in_order():
    coords = [[1, 1], [1, 1], [2, 2], [2, 2], [2, 2], [1, 1]]
    assert normalize_line_geometry(line(coords))["coordinates"] == [[1.0, 1.0], [2.0, 2.0], [1.0, 1.0]]


def test_input_is_not_modified():
    geom = line([[1, 1, 5], [1, 1], [2, 2]])
    normalize_line_geometry(geom)
    assert geom == line([[1, 1, 5], [1, 1], [2, 2]])


def test_vertex_on_service_area_edge_is_inside():
    normalize_line_geometry(line([[73.5, 18.0], [135.1, 53.6]]), service_area=CHINA)


# ---------------------------------------------------------------------------- object and members

def test_not_an_object_is_rejected():
    assert_error([[1, 2], [3, 4]], "geometry", "GeoJSON geometry object")


@pytest.mark.parametrize("kind", ["Point", "Polygon", "GeometryCollection", "Feature", "linestring"])
def test_other_types_are_rejected_naming_accepted_types(kind):
    assert_error({"type": kind, "coordinates": XINING}, "geometry.type", "LineString or MultiLineString")


def test_missing_type_is_rejected():
    assert_error({"coordinates": XINING}, "geometry.type", "is required")


def test_missing_coordinates_is_rejected():
    assert_error({"type": "LineString"}, "geometry.coordinates", "is required")


def test_unknown_member_is_rejected():
    assert_error(dict(line(XINING), properties={}), "geometry.properties", "unknown member")


def test_crs_member_is_rejected_as_always_wgs84():
    geom = dict(line(XINING), crs={"type": "name", "properties": {"name": "EPSG:3857"}})
    assert_error(geom, "geometry.crs", "RFC 7946 GeoJSON is always WGS 84")


def test_custom_path_prefixes_every_error():
    assert_error(line([[1, 2], [1, 200]]), "closures[2].geometry.coordinates[1]", "latitude 200 is out of range",
                 path="closures[2].geometry")


# ---------------------------------------------------------------------------- coordinates structure

def test_linestring_coordinates_must_be_an_array():
    assert_error(line("101.79,36.61"), "geometry.coordinates", "array of positions")


def test_multilinestring_must_not_be_empty():
    assert_error(multi([]), "geometry.coordinates", "non-empty array of lines")


def test_multilinestring_part_must_be_an_array():
    assert_error(multi([XINING, 5]), "geometry.coordinates[1]", "array of positions")


def test_position_must_be_an_array():
    assert_error(line([[1, 2], 3]), "geometry.coordinates[1]", "must be a position")


@pytest.mark.parametrize("position", [[1], [1, 2, 3, 4], []])
def test_position_needs_two_or_three_numbers(position):
    assert_error(line([[0, 0], position]), "geometry.coordinates[1]", "2 or 3 numbers")


@pytest.mark.parametrize("value", [True, False, "101.79", None])
def test_non_numbers_are_rejected(value):
    assert_error(line([[0, 0], [value, 1]]), "geometry.coordinates[1]", "longitude must be a number")


def test_bad_altitude_is_rejected():
    assert_error(line([[0, 0], [1, 1, "high"]]), "geometry.coordinates[1]", "altitude must be a number")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_rejected(value):
    assert_error(line([[0, 0], [1, value]]), "geometry.coordinates[1]", "latitude must be a finite number")


def test_errors_name_the_multilinestring_part_and_vertex():
    assert_error(multi([XINING, [[101.8, "x"], [101.81, 36.63]]]), "geometry.coordinates[1][0]",
                 "latitude must be a number")


def test_several_bad_vertices_are_all_reported():
    errors = errors_of(line([[0, True], [0, 0], ["a", 1]]))
    assert set(errors) == {"geometry.coordinates[0]", "geometry.coordinates[2]"}


# ---------------------------------------------------------------------------- ranges and distinct points

def test_longitude_out_of_range():
    assert_error(line([[0, 0], [180.5, 1]]), "geometry.coordinates[1]",
                 "longitude 180.5 is out of range [-180, 180]")


def test_latitude_out_of_range():
    assert_error(line([[0, 0], [1, 136.6]]), "geometry.coordinates[1]", "latitude 136.6 is out of range [-90, 90]")


def test_out_of_range_in_multilinestring_names_part_and_vertex():
    assert_error(multi([[[0, 0], [1, 1]], [[1, -91], [2, 2]]]), "geometry.coordinates[1][0]",
                 "latitude -91 is out of range")


def test_extreme_valid_coordinates_are_accepted():
    normalize_line_geometry(line([[-180, -90], [180, 90]]))


@pytest.mark.parametrize("coords", [[], [[1, 2]], [[1, 2], [1, 2]], [[1, 2], [1.00000001, 2]]])
def test_line_needs_two_distinct_points(coords):
    assert_error(line(coords), "geometry.coordinates", "needs at least two distinct points")


def test_multilinestring_part_needs_two_distinct_points():
    assert_error(multi([XINING, [[1, 1], [1, 1]]]), "geometry.coordinates[1]", "needs at least two distinct points")


def test_too_many_vertices():
    coords = [[i * 1e-4, 0] for i in range(MAX_VERTICES + 1)]
    assert_error(line(coords), "geometry.coordinates", "has 10001 vertices; at most 10000 are allowed")


def test_vertex_limit_counts_all_parts():
    part = [[i * 1e-3, 0] for i in range(6)]
    assert_error(multi([part, part]), "geometry.coordinates", "has 12 vertices; at most 10 are allowed",
                 max_vertices=10)
    normalize_line_geometry(multi([part, part]), max_vertices=12)


# ---------------------------------------------------------------------------- service area and swapping

def test_xining_typed_as_lat_lon_is_reported_swapped():
    swapped = [[lat, lon] for lon, lat in XINING]
    errors = errors_of(line(swapped), service_area=CHINA)
    assert list(errors) == ["geometry.coordinates"]
    message = errors["geometry.coordinates"][0]
    assert "latitude,longitude" in message and "swapped" in message
    assert "GeoJSON wants longitude,latitude" in message


def test_swapped_multilinestring_is_reported_swapped():
    swapped = [[[lat, lon] for lon, lat in XINING], [[36.62, 101.8], [36.63, 101.81]]]
    assert_error(multi(swapped), "geometry.coordinates", "swapped", service_area=CHINA)


def test_swapped_with_valid_latitudes_is_reported_swapped():
    # lon 40 / lat 80 is a valid place, just not in China; read the other way round it is.
    assert_error(line([[40.0, 80.0], [40.1, 80.2]]), "geometry.coordinates", "swapped", service_area=CHINA)


def test_partly_swapped_line_is_not_reported_swapped():
    errors = errors_of(line([XINING[0], [36.6113, 101.7975]]), service_area=CHINA)
    assert errors == {"geometry.coordinates[1]": ["latitude 101.7975 is out of range [-90, 90]"]}


def test_out_of_range_without_service_area_is_plain_range_error():
    assert_error(line([[36.6116, 101.7905], [36.6113, 101.7975]]), "geometry.coordinates[0]",
                 "latitude 101.7905 is out of range")


def test_vertex_outside_service_area_is_named():
    beijing_to_paris = [[116.4, 39.9], [2.35, 48.86]]
    errors = errors_of(line(beijing_to_paris), service_area=CHINA)
    assert list(errors) == ["geometry.coordinates[1]"]
    message = errors["geometry.coordinates[1]"][0]
    assert "outside the service area" in message
    assert "longitude 2.35" in message and "73.5 to 135.1" in message and "18 to 53.6" in message


def test_first_vertex_outside_is_named_in_multilinestring():
    assert_error(multi([XINING, [[101.8, 36.6], [150.0, 10.0], [160.0, 10.0]]]), "geometry.coordinates[1][1]",
                 "outside the service area", service_area=CHINA)


# ---------------------------------------------------------------------------- measures

def test_one_degree_of_longitude_on_equator():
    assert length_m(line([[0.0, 0.0], [1.0, 0.0]])) == pytest.approx(111319.49, abs=0.01)


def test_xining_line_length_matches_haversine():
    expected = haversine_m(*XINING[0], *XINING[1])
    got = length_m(normalize_line_geometry(line(XINING)))
    assert got == pytest.approx(expected, rel=0.005)
    assert 620 < got < 635


def test_multilinestring_length_is_the_sum_of_parts():
    a, b = [[0.0, 0.0], [1.0, 0.0]], [[101.7905, 36.6116], [101.7975, 36.6113], [101.8, 36.62]]
    assert length_m(multi([a, b])) == pytest.approx(length_m(line(a)) + length_m(line(b)), abs=1e-6)


def test_bounds_of_multilinestring():
    geom = multi([XINING, [[101.7, 36.7], [101.75, 36.5]]])
    assert bounds(geom) == (101.7, 36.5, 101.7975, 36.7)


def test_to_shape_gives_shapely_geometry():
    shape = to_shape(multi([XINING, [[101.7, 36.7], [101.75, 36.5]]]))
    assert shape.geom_type == "MultiLineString"
    assert shape.bounds == (101.7, 36.5, 101.7975, 36.7)


# ---------------------------------------------------------------------------- bbox text

def test_parse_bbox():
    assert parse_bbox(" 73.5, 18 ,135.1,53.6") == CHINA
    assert parse_service_area("73.5,18,135.1,53.6") == CHINA


@pytest.mark.parametrize("text, phrase", [
    ("1,2,3", "four numbers"),
    ("1,2,3,4,5", "four numbers"),
    ("a,2,3,4", "'a' is not a number"),
    ("", "four numbers"),
    ("1,nan,3,4", "finite"),
    ("1,2,inf,4", "finite"),
    ("-181,2,3,4", "minLon -181 is out of range [-180, 180]"),
    ("1,2,3,91", "maxLat 91 is out of range [-90, 90]"),
    ("5,2,3,4", "minLon 5 is greater than maxLon 3"),
    ("1,5,3,4", "minLat 5 is greater than maxLat 4"),
])
def test_parse_bbox_rejects(text, phrase):
    with pytest.raises(ValidationFailed) as info:
        parse_bbox(text, path="query.bbox")
    assert list(info.value.errors) == ["query.bbox"]
    assert any(phrase in m for m in info.value.errors["query.bbox"]), info.value.errors


# ---------------------------------------------------------------------------- properties

positions = st.tuples(st.floats(-180, 180), st.floats(-90, 90)).map(list)
# Repeating some positions exercises the duplicate removal as well.
raw_lines = st.lists(positions, min_size=1, max_size=8).flatmap(
    lambda pts: st.lists(st.sampled_from(pts), min_size=2, max_size=12) if len(pts) > 1 else st.just(pts + pts)
).filter(lambda pts: len({(round(a, 7), round(b, 7)) for a, b in pts}) >= 2)
geometries = st.one_of(raw_lines.map(line), st.lists(raw_lines, min_size=1, max_size=3).map(multi))


@settings(max_examples=scaled(200), deadline=None)
@given(geometries)
def test_normalizing_is_idempotent(geom):
    once = normalize_line_geometry(geom)
    assert normalize_line_geometry(once) == once


@settings(max_examples=scaled(200), deadline=None)
@given(geometries)
def test_normalized_output_is_clean(geom):
    out = normalize_line_geometry(geom)
    for part in (out["coordinates"],) if out["type"] == "LineString" else out["coordinates"]:
        assert all(a != b for a, b in zip(part, part[1:]))
        assert all(len(p) == 2 and round(p[0], 7) == p[0] and round(p[1], 7) == p[1] for p in part)


@settings(max_examples=scaled(200), deadline=None)
@given(raw_lines)
def test_length_is_invariant_under_reversing(coords):
    forward = normalize_line_geometry(line(coords))
    backward = normalize_line_geometry(line(coords[::-1]))
    assert length_m(backward) == pytest.approx(length_m(forward), rel=1e-9, abs=1e-6)
