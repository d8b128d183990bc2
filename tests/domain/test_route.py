"""Tests of roadworks.domain.route: which lines come within a metric buffer of a route, and where.

Geometry is built metrically near Xining with pyproj.Geod, so "10 m north" is 10 m on the ellipsoid,
not some fraction of a degree.
"""

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString, MultiLineString

from roadworks.domain.errors import ValidationFailed
from roadworks.domain.route import ROUTE_MAX_VERTICES, RouteProbe, route_line

GEOD = Geod(ellps="WGS84")
START = (101.7800, 36.6110)  # Dongguan Street, Xining


def walk(start, azimuth, metres, step=100.0):
    """Points from `start` every `step` metres along a geodesic of the given azimuth."""
    points, here = [start], start
    for _ in range(round(metres / step)):
        lon, lat, _ = GEOD.fwd(*here, azimuth, step)
        here = (lon, lat)
        points.append(here)
    return points


def moved(point, azimuth, metres):
    lon, lat, _ = GEOD.fwd(*point, azimuth, metres)
    return lon, lat


def across(point, half_length=200.0, azimuth=0.0):
    """A straight closure crossing `point` at the given azimuth."""
    return LineString([moved(point, azimuth + 180, half_length), moved(point, azimuth, half_length)])


EAST = walk(START, 90, 2000)          # 2 km due east, a vertex every 100 m
ROUTE = LineString(EAST)


# ---------------------------------------------------------------------------- hit or miss

def test_a_line_10_m_away_is_within_25_m_but_not_5():
    alongside = LineString([moved(p, 0, 10) for p in EAST[5:9]])
    assert RouteProbe(ROUTE, 25).meets(alongside) is not None
    assert RouteProbe(ROUTE, 5).meets(alongside) is None


@pytest.mark.parametrize("azimuth,route", [(0, walk(START, 90, 2000)), (90, walk(START, 0, 2000))])
def test_the_buffer_is_metres_in_both_directions(azimuth, route):
    # A degree of longitude is ~89 km here and one of latitude ~111 km: a buffer in degrees fails one way.
    middle = route[10]
    near = LineString([moved(middle, azimuth, 24.5), moved(moved(middle, azimuth, 24.5), azimuth, 100)])
    far = LineString([moved(middle, azimuth, 25.5), moved(moved(middle, azimuth, 25.5), azimuth, 100)])
    probe = RouteProbe(LineString(route), 25)
    assert probe.meets(near) is not None
    assert probe.meets(far) is None


def test_a_long_straight_route_segment_finds_what_lies_beside_its_middle():
    # One 30 km segment: the quick test's boxes must hold its whole buffer, bowed parallels included.
    far_end = moved(START, 90, 30_000)
    middle = GEOD.fwd(*START, GEOD.inv(*START, *far_end)[0], 15_000)[:2]
    closure = LineString([moved(middle, 0, 20), moved(moved(middle, 0, 20), 0, 100)])
    probe = RouteProbe(LineString([START, far_end]), 25)
    assert probe.meets(closure) == pytest.approx(15_000, abs=5)


def test_the_largest_buffer_is_metres_too():
    middle = EAST[10]
    probe = RouteProbe(ROUTE, 500)
    assert probe.meets(LineString([moved(middle, 0, 499), moved(middle, 0, 700)])) is not None
    assert probe.meets(LineString([moved(middle, 0, 501), moved(middle, 0, 700)])) is None


def test_a_long_street_counts_only_where_it_comes_near():
    # 3 km of street far to the north, then down across the route at 1,700 m.
    street = [moved(p, 0, 800) for p in EAST] + [moved(EAST[17], 0, 400), moved(EAST[17], 180, 50)]
    assert RouteProbe(ROUTE, 25).meets(LineString(street)) == pytest.approx(1700, abs=1)


def test_a_closure_a_kilometre_away_is_missed():
    assert RouteProbe(ROUTE, 500).meets(LineString([moved(p, 0, 1000) for p in EAST])) is None


# ---------------------------------------------------------------------------- where along the route

def test_a_square_crossing_is_placed_at_the_crossing():
    assert RouteProbe(ROUTE, 25).meets(across(EAST[10])) == pytest.approx(1000, abs=1)


def test_a_crossing_mid_segment_is_placed_at_the_crossing():
    two_points = LineString([EAST[0], EAST[-1]])
    crossing = GEOD.fwd(*EAST[0], GEOD.inv(*EAST[0], *EAST[-1])[0], 1000)[:2]
    assert RouteProbe(two_points, 25).meets(across(crossing)) == pytest.approx(1000, abs=1)


def test_a_crossing_next_to_a_vertex_is_not_pulled_to_the_vertex():
    # 990 m is a vertex only 10 m before the crossing: the nearest route point is still at 1000 m.
    route = LineString(EAST[:10] + [moved(EAST[9], 90, 90)] + EAST[10:])
    assert RouteProbe(route, 25).meets(across(EAST[10])) == pytest.approx(1000, abs=1)


def test_an_oblique_crossing_is_met_where_it_enters_the_buffer():
    # At 45 degrees the closed road is within 25 m of the route from 25 m before the crossing.
    assert RouteProbe(ROUTE, 25).meets(across(EAST[10], 300, azimuth=45)) == pytest.approx(975, abs=1)


def test_a_closure_alongside_is_met_where_it_starts():
    alongside = LineString([moved(p, 0, 10) for p in EAST[5:9]])   # 500 m to 800 m, 10 m north
    assert RouteProbe(ROUTE, 25).meets(alongside) == pytest.approx(500, abs=1)


def test_a_closure_drawn_against_the_route_is_met_at_its_near_end():
    backwards = LineString([moved(p, 180, 10) for p in reversed(EAST[5:9])])
    assert RouteProbe(ROUTE, 25).meets(backwards) == pytest.approx(500, abs=1)


def test_a_closure_entering_the_buffer_sideways_is_met_where_it_enters():
    # Runs alongside from 600 m, after coming in from 200 m north at 400 m.
    closure = LineString([moved(EAST[4], 0, 200), moved(EAST[6], 0, 10), moved(EAST[9], 0, 10)])
    along = RouteProbe(ROUTE, 25).meets(closure)
    assert 580 < along < 600


# ---------------------------------------------------------------------------- multi-part closures

def test_a_multilinestring_is_met_by_its_nearest_part():
    far = [moved(p, 0, 1000) for p in EAST[2:5]]
    closure = MultiLineString([far, list(across(EAST[15]).coords)])
    assert RouteProbe(ROUTE, 25).meets(closure) == pytest.approx(1500, abs=1)


def test_a_multilinestring_is_met_at_its_first_part_along_the_route():
    closure = MultiLineString([list(across(EAST[15]).coords), [moved(p, 0, 10) for p in EAST[3:5]]])
    assert RouteProbe(ROUTE, 25).meets(closure) == pytest.approx(300, abs=1)


def test_the_gap_between_parts_is_no_road():
    # Parts north and south of the route: the gap between them crosses it, but no closed road does.
    closure = MultiLineString([[moved(EAST[3], 0, 100), moved(EAST[5], 0, 100)],
                               [moved(EAST[5], 180, 100), moved(EAST[7], 180, 100)]])
    assert RouteProbe(ROUTE, 25).meets(closure) is None


def test_many_shapes_at_once_keep_their_order():
    shapes = [across(EAST[12]), LineString([moved(p, 0, 900) for p in EAST[:3]]), across(EAST[3])]
    found = RouteProbe(ROUTE, 25).meets_all(shapes)
    assert found[0] == pytest.approx(1200, abs=1) and found[1] is None and found[2] == pytest.approx(300, abs=1)
    assert RouteProbe(ROUTE, 25).meets_all([]) == []


# ---------------------------------------------------------------------------- accuracy against the ellipsoid

def test_the_route_length_is_the_geodesic_length():
    lons, lats = zip(*EAST)
    assert RouteProbe(ROUTE, 25).length_m == pytest.approx(GEOD.line_length(lons, lats), abs=0.01)


def test_positions_along_a_long_bending_route_match_geodesic_distances():
    # 60 km: north-east, then east, then south-east; the projection's stretch 30 km out must not show.
    points = walk(START, 45, 20_000, 500) + walk(moved(START, 45, 20_000), 90, 20_000, 500)[1:]
    points += walk(points[-1], 135, 20_000, 500)[1:]
    lons, lats = zip(*points)
    crossing_at = 37  # vertex index: 18.5 km along
    expected = GEOD.line_length(lons[:crossing_at + 1], lats[:crossing_at + 1])
    closure = across(points[crossing_at], azimuth=135)
    probe = RouteProbe(LineString(points), 25)
    assert probe.length_m == pytest.approx(GEOD.line_length(lons, lats), abs=0.01)
    assert probe.meets(closure) == pytest.approx(expected, abs=1)


def test_the_bounds_hold_the_whole_buffer():
    probe = RouteProbe(ROUTE, 100)
    min_lon, min_lat, max_lon, max_lat = probe.bounds
    for point in (moved(EAST[0], 270, 99), moved(EAST[-1], 90, 99), moved(EAST[7], 0, 99), moved(EAST[7], 180, 99)):
        assert min_lon <= point[0] <= max_lon and min_lat <= point[1] <= max_lat
    assert max_lat - min_lat < 0.003  # about 2 x 100 m, not a degree-sized box


# ---------------------------------------------------------------------------- route input

LINE = {"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]}


def failure(value, **kwargs) -> dict:
    with pytest.raises(ValidationFailed) as info:
        route_line(value, **kwargs)
    return info.value.errors


def test_a_linestring_or_a_feature_with_one_is_accepted():
    assert route_line(LINE) == LINE
    assert route_line({"type": "Feature", "properties": {"name": "home"}, "geometry": LINE}) == LINE


def test_other_geometries_are_refused_at_their_type():
    assert "type" in failure({"type": "Point", "coordinates": [101.79, 36.61]})
    assert "type" in failure({"type": "MultiLineString", "coordinates": [LINE["coordinates"]]})
    assert "geometry.type" in failure({"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}})
    assert "geometry" in failure({"type": "Feature", "geometry": None})
    assert "" in failure([1, 2])


def test_errors_name_the_vertex_relative_to_the_route():
    errors = failure({"type": "LineString", "coordinates": [[101.79, 36.61], [101.79, "x"]]})
    assert "coordinates[1]" in errors
    errors = failure({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2], [200, 2]]}})
    assert "geometry.coordinates[1]" in errors


def test_too_many_vertices_and_unknown_feature_members_are_refused():
    many = {"type": "LineString", "coordinates": [[101.7 + i * 1e-5, 36.6] for i in range(ROUTE_MAX_VERTICES + 1)]}
    assert "coordinates" in failure(many)
    assert "style" in failure({"type": "Feature", "geometry": LINE, "style": {}})


def test_the_service_area_applies():
    assert "coordinates[0]" in failure({"type": "LineString", "coordinates": [[10, 10], [10.1, 10]]},
                                       service_area=(100, 35, 103, 38))


def test_shapely_arrays_of_routes_are_not_needed():
    # A probe accepts the normalized GeoJSON dict the API hands it.
    assert RouteProbe(LINE, 25).length_m == pytest.approx(626, abs=5)
    assert shapely.get_num_coordinates(RouteProbe(LINE, 25).line) == 2


# ---------------------------------------------------------------------------- bounded work (issue 10)

def zigzag_route(vertices=60, amplitude=150.0, step=40.0):
    """East from START, swinging `amplitude` m north and south at every vertex."""
    return LineString([moved(moved(START, 90, i * step), 0 if i % 2 else 180, amplitude) for i in range(vertices)])


def street_grid():
    """Closures crossing and running beside the zig-zag, one a MultiLineString, one far away."""
    shapes = [across(moved(START, 90, x), half_length=300, azimuth=az) for x in range(0, 2400, 110) for az in (0, 60)]
    shapes.append(LineString([moved(moved(START, 90, x), 0, 140) for x in range(0, 2400, 30)]))
    shapes.append(MultiLineString([list(across(moved(START, 90, 700)).coords),
                                   list(across(moved(START, 90, 1300), azimuth=90).coords)]))
    shapes.append(LineString([moved(START, 0, 5000), moved(START, 10, 5200)]))
    return shapes


@pytest.mark.parametrize("route", [zigzag_route(), LineString(EAST + EAST[::-1]), ROUTE])
def test_chunks_of_any_size_give_the_same_answer(monkeypatch, route):
    # Tiny chunks split each closure segment's candidates across slices; the answer must not move by a bit.
    import roadworks.domain.route as module

    shapes = street_grid()
    whole = RouteProbe(route, 120).meets_all(shapes)
    assert sum(x is not None for x in whole) > 10
    monkeypatch.setattr(module, "QUERY_PAIRS", 7)
    monkeypatch.setattr(module, "PAIR_SLICE", 3)
    assert RouteProbe(route, 120).meets_all(shapes) == whole


def test_the_work_of_one_check_is_counted_and_capped():
    from roadworks.domain.route import TooMuchWork

    shapes = street_grid()
    probe = RouteProbe(zigzag_route(), 500)
    found = probe.meets_all(shapes)
    assert probe.examined > 0
    capped = RouteProbe(zigzag_route(), 500, max_pairs=probe.examined)
    assert capped.meets_all(shapes) == found  # exactly at the cap is allowed
    over = RouteProbe(zigzag_route(), 500, max_pairs=probe.examined - 1)
    with pytest.raises(TooMuchWork) as refused:
        over.meets_all(shapes)
    assert refused.value.cap == probe.examined - 1
    assert RouteProbe(zigzag_route(), 500, max_pairs=0).meets_all([shapes[-1]]) == [None]  # far away: no work
