"""Stored documents to domain values (roadworks.documents): the full build's vectorised shapes and packed closures
must give exactly what the one-by-one path gives."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timezone

import pytest
import shapely

from roadworks.documents import closure_doc, closure_from, pack, shapes_of
from roadworks.domain.geometry import to_shape
from roadworks.domain.model import Closure
from roadworks.domain.schedule import Hours, Schedule, Span
from roadworks.store.repository import Stored

T0 = datetime(2024, 4, 1, 4, tzinfo=timezone.utc)


def line(rng: random.Random, points: int) -> list[list[float]]:
    return [[round(rng.uniform(101.6, 101.9), 7), round(rng.uniform(36.5, 36.7), 7)] for _ in range(points)]


def mixed(seed: int = 5, n: int = 200) -> list[dict]:
    """LineStrings and MultiLineStrings of varied sizes, in no order."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.3:
            out.append({"type": "MultiLineString", "coordinates": [line(rng, rng.randint(2, 9))
                                                                   for _ in range(rng.randint(1, 4))]})
        else:
            out.append({"type": "LineString", "coordinates": line(rng, rng.randint(2, 30))})
    return out


def same_shape(a, b) -> bool:
    z = bool(shapely.has_z(b))
    return (a.geom_type == b.geom_type and bool(shapely.has_z(a)) == z
            and shapely.get_num_geometries(a) == shapely.get_num_geometries(b)
            and all(shapely.get_coordinates(p, include_z=z).tolist() == shapely.get_coordinates(q, include_z=z).tolist()
                    for p, q in zip(getattr(a, "geoms", [a]), getattr(b, "geoms", [b]))))


def test_shapes_of_a_batch_are_the_shapes_of_each():
    geometries = mixed()
    shapes = shapes_of(geometries)
    assert len(shapes) == len(geometries)
    assert all(same_shape(s, to_shape(g)) for s, g in zip(shapes, geometries))
    assert shapely.bounds(shapes).tolist() == [list(to_shape(g).bounds) for g in geometries]


@pytest.mark.parametrize("geometries", [
    [{"type": "LineString", "coordinates": [[101, 36], [102, 37]]}],  # integers, as JSON may hold them
    [{"type": "MultiLineString", "coordinates": [[[1.5, 2.5], [3.5, 4.5]]]}],  # one part only
    [{"type": "LineString", "coordinates": [[1.0, 2.0, 5.0], [3.0, 4.0, 6.0]]}],  # with altitude
    [{"type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]]]},
     {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}],
])
def test_shapes_of_odd_geometries_are_those_of_to_shape(geometries):
    assert all(same_shape(s, to_shape(g)) for s, g in zip(shapes_of(geometries), geometries))


def test_shapes_of_nothing_is_an_empty_array():
    assert len(shapes_of([])) == 0


def test_shapes_of_positions_of_mixed_dimensions_fail_as_to_shape_does():
    odd = {"type": "LineString", "coordinates": [[1.0, 2.0, 3.0], [3.0, 4.0]]}
    with pytest.raises(ValueError):
        to_shape(odd)
    with pytest.raises(ValueError):
        shapes_of([{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, odd])


CLOSURE = Closure(
    id="c1", project="p1", geometry={"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]},
    schedule=Schedule((Span(datetime(2024, 4, 12, 6, tzinfo=timezone.utc), None, "第一期"),),
                      (Span(datetime(2024, 5, 1).date(), datetime(2024, 5, 3).date(), "节日"),),
                      (Hours(frozenset({0, 4}), datetime(2024, 1, 1, 22).time(), datetime(2024, 1, 1, 6).time()),)),
    road="东关大街", from_="乐都路", to="共和路", direction="forward", impact="alternating", description="说明",
    detour="绕行", actual_start=datetime(2024, 4, 10).date(), actual_end=datetime(2024, 6, 2, 2, tzinfo=timezone.utc),
    cancelled=True, publish_at=datetime(2024, 4, 1).date(), length_m=0.0, version=3)


def stored(doc: dict, length_m: float | None) -> Stored:
    return Stored("closure", doc["id"], doc, 3, 9, T0, T0, None, "p1", length_m)


def test_a_packed_closure_unpacks_to_the_closure_without_its_geometry():
    doc = closure_doc(CLOSURE)
    reference = closure_from(stored(doc, None))
    assert pack(stored(doc, None)).closure() == replace(reference, geometry=None)
    assert reference.length_m > 600


def test_a_packed_closure_takes_the_stored_length_rounded_as_closure_from_does():
    doc = closure_doc(CLOSURE)
    computed = closure_from(stored(doc, None)).length_m
    assert pack(stored(doc, 612.3456)).closure().length_m == 612.3
    assert pack(stored(doc, computed)).closure().length_m == computed
