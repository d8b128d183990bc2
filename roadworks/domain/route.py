"""Which closures a route passes, and where: metric distances around a route in a local projection.

Closures are stored in WGS 84 degrees, where "25 m" is no fixed number of degrees (at Xining a degree
of longitude is about 89 km and one of latitude about 111 km). So a route is projected to a transverse
Mercator CRS centred on it, and closures are compared with it there, in metres: a closure meets the
route's buffer where one of its segments comes within buffer_m of one of the route's segments, which
is solved exactly per pair of segments (the buffer's true round ends and joins, no polygon).

All of it is vectorised over the candidates (shapely, pyproj and numpy on coordinate arrays): boxes
in degrees first drop closures and segments far from the route, then only the rest is projected.

The cost is bounded whatever the route: pairs of (closure segment, route segment) are taken from the
spatial index a bounded chunk at a time, so memory never holds an all-pairs array, and each pair
examined is counted against a cap (`max_pairs`); past it the check stops with TooMuchWork.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from pyproj import Geod, Transformer
from shapely.geometry.base import BaseGeometry

from .errors import DomainError, ValidationFailed
from .geometry import ServiceArea, normalize_line_geometry

# The default cap on a route's vertices; the service passes its ROUTE_MAX_VERTICES setting instead.
ROUTE_MAX_VERTICES = 5_000
# Projection centres are rounded to 0.01 degree (about 1 km), so nearby routes share one cached
# transformer; transverse Mercator's scale error 1 km off its meridian is below 1e-8, and 1e-4
# (3 mm on a 25 m buffer) even 90 km off.
CENTRE_DECIMALS = 2
# The quick test in degrees uses boxes this much wider (m) than the buffer: a margin for rounding, so
# that it never drops a closure the exact test would keep.
SLACK_M = 1.0
# Side of the grid on which the quick test paints the route, in cells at most.
MAX_CELLS = 1024
# Memory bounds, whatever the route: a spatial-index query is sent at most this many (closure segment x
# route segment) box pairs' worth of geometries (its answer costs 16 bytes a pair), and the exact tests run
# on slices of at most PAIR_SLICE pairs (about 40 numpy temporaries of that length).
QUERY_PAIRS = 1 << 19
PAIR_SLICE = 1 << 15
_GEOD = Geod(ellps="WGS84")
_FEATURE_MEMBERS = {"type", "id", "geometry", "properties", "bbox"}


class TooMuchWork(DomainError):
    """A route check would examine more (closure segment, route segment) pairs than its cap allows."""

    def __init__(self, cap: int):
        self.cap = cap
        super().__init__(f"the route comes near more than {cap} (closure segment, route segment) pairs")


class _Budget:
    """Counts the pairs one check examines, and stops it as soon as they pass the cap (None: no cap)."""

    def __init__(self, cap: int | None):
        self.cap, self.spent = cap, 0

    def spend(self, pairs: int) -> None:
        self.spent += pairs
        if self.cap is not None and self.spent > self.cap:
            raise TooMuchWork(self.cap)


# ---------------------------------------------------------------------------- input

def route_line(value: Any, *, service_area: ServiceArea | None = None,
               max_vertices: int = ROUTE_MAX_VERTICES) -> dict:
    """A route given as a GeoJSON LineString or a Feature holding one, validated and normalised.

    Error paths are relative to the route value: `coordinates[3]`, `geometry.type`, "" for the value itself.
    """
    if isinstance(value, dict) and value.get("type") == "Feature":
        unknown = sorted(set(value) - _FEATURE_MEMBERS)
        if unknown:
            raise ValidationFailed({str(m): ["unknown member"] for m in unknown})
        return _checked_line(value.get("geometry"), "geometry", service_area, max_vertices)
    return _checked_line(value, "", service_area, max_vertices)


def _checked_line(geom: Any, path: str, area: ServiceArea | None, max_vertices: int) -> dict:
    # A route is one path to drive: a MultiLineString has no single "distance from the start".
    if not isinstance(geom, dict):
        raise ValidationFailed.one(path, "must be a GeoJSON LineString, or a Feature with one")
    if geom.get("type") != "LineString":
        shown = f"{geom.get('type')!r} is not accepted" if "type" in geom else "is required"
        raise ValidationFailed.one(f"{path}.type" if path else "type",
                                   f"{shown}; a route must be a single LineString")
    return normalize_line_geometry(geom, service_area=area, max_vertices=max_vertices, path=path)


# ---------------------------------------------------------------------------- projection

@lru_cache(maxsize=256)
def _transformer(lon: float, lat: float) -> Transformer:
    """WGS 84 lon,lat degrees -> transverse Mercator metres centred on (lon, lat), and back (INVERSE)."""
    # An explicit pipeline skips PROJ's database search (0.2 ms instead of 20 ms); exact (Poder/Engsager)
    # transverse Mercator is three times faster in PROJ than the azimuthal equidistant projection.
    return Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=tmerc +lat_0={lat} +lon_0={lon} +k=1 +x_0=0 +y_0=0 +ellps=WGS84")


def transformer_for(shape: BaseGeometry) -> Transformer:
    """The cached transformer for a projection centred on `shape`'s box."""
    min_x, min_y, max_x, max_y = shape.bounds
    return _transformer(round((min_x + max_x) / 2, CENTRE_DECIMALS), round((min_y + max_y) / 2, CENTRE_DECIMALS))


def reproject(geoms, transformer: Transformer):
    """A geometry, or an array of them, with every coordinate transformed in one pyproj call."""
    def convert(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack((x, y))

    return shapely.transform(geoms, convert)


# ---------------------------------------------------------------------------- the probe

class RouteProbe:
    """A route and a buffer of `buffer_m` metres around it; tells which lines come within it and where.

    `zones` are WGS 84 boxes, one per route segment, that hold the buffer: a spatial index is asked with
    them (`bounds`, and `area` as a box, hold them all); `length_m` is the route's length on the ellipsoid.
    `max_pairs` caps the (closure segment, route segment) pairs one `meets_all` may examine (None: no cap).
    """

    def __init__(self, route: dict | BaseGeometry, buffer_m: float, *, max_pairs: int | None = None):
        line = shapely.geometry.shape(route) if isinstance(route, dict) else route
        self.buffer_m = float(buffer_m)
        self.max_pairs = max_pairs
        self.examined = 0  # pairs the last meets_all examined: the measure of its work that max_pairs caps
        self._local = transformer_for(line)
        self.line = reproject(line, self._local)
        coords = shapely.get_coordinates(self.line)
        self._starts, self._ends = coords[:-1], coords[1:]
        # Boxes reaching buffer_m around each segment: a box query is far cheaper than a distance query,
        # and the exact test comes after it anyway.
        low = np.minimum(self._starts, self._ends) - self.buffer_m
        high = np.maximum(self._starts, self._ends) + self.buffer_m
        self._segments = shapely.STRtree(shapely.box(low[:, 0], low[:, 1], high[:, 0], high[:, 1]))
        self._low, self._high = low, high
        # The same boxes SLACK_M wider: they hold every point within the buffer of their segment, rounding included.
        reach_low, reach_high = low - SLACK_M, high + SLACK_M
        self._reach = shapely.STRtree(shapely.box(reach_low[:, 0], reach_low[:, 1], reach_high[:, 0], reach_high[:, 1]))
        boxes = _degree_boxes(self._starts, self._ends, self.buffer_m + SLACK_M, self._local)
        self._raster = _Raster(boxes)
        self.bounds = (*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0))
        # One WGS 84 box per route segment, reaching past the buffer: what a spatial index is asked.
        self.zones = shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3])
        self._scale = _AlongScale(line, self.line)
        self.length_m = self._scale.length_m

    @property
    def area(self) -> BaseGeometry:
        """`bounds` as a box geometry, to hand to Snapshot.candidates or an STRtree query."""
        return shapely.box(*self.bounds)

    def meets(self, shape: BaseGeometry) -> float | None:
        """Metres along the route to where `shape` (WGS 84) first comes within the buffer, or None."""
        return self.meets_all([shape])[0]

    def meets_all(self, shapes: Sequence[BaseGeometry]) -> list[float | None]:
        """`meets` for many shapes, vectorised: boxes in degrees first, the exact test in metres after.

        Closures can be long streets of which only a few segments come near the route: shapes whose boxes
        meet the route's are taken apart, and only their segments whose boxes do too are projected.
        Raises TooMuchWork once the pairs examined pass `max_pairs`.
        """
        found: list[float | None] = [None] * len(shapes)
        self.examined = 0
        shapes = np.array(shapes, dtype=object)
        box = shapely.bounds(shapes)
        near = np.flatnonzero(self._raster.touches(box[:, :2], box[:, 2:]))
        if not len(near):
            return found
        starts, ends, owner = _segments_of(shapes[near])
        close = self._raster.touches(np.minimum(starts, ends), np.maximum(starts, ends))
        if not close.any():
            return found
        budget = _Budget(self.max_pairs)
        try:
            first = self._first_along(self._metres(starts[close]), self._metres(ends[close]), owner[close],
                                      len(near), budget)
        finally:
            self.examined = budget.spent
        hit = np.flatnonzero(np.isfinite(first))
        for i, along in zip(near[hit].tolist(), self._scale.geodesic(first[hit]).tolist()):
            found[i] = along
        return found

    def _metres(self, lonlat: np.ndarray) -> np.ndarray:
        """(n, 2) lon,lat degrees as (n, 2) projected metres."""
        return np.column_stack(self._local.transform(lonlat[:, 0], lonlat[:, 1]))

    def _first_along(self, starts: np.ndarray, ends: np.ndarray, owner: np.ndarray, count: int,
                     budget: _Budget) -> np.ndarray:
        """Projected metres along the route to where each of `count` shapes first comes within the buffer.

        Takes their segments in metres, with the index of the shape of each; inf for a shape never within.
        Each segment's stretch within buffer_m of a route segment is found exactly; the route's position
        abreast of a stretch changes monotonically along it (unless the route doubles back on itself
        there), so the first position is at one of its ends. A closure crossing squarely gives the
        crossing point; one running alongside gives the point abreast of where it enters the buffer.
        Pairs come a bounded slice at a time; a minimum does not depend on the order they come in.
        """
        first = np.full(count, np.inf)

        def pairs(part: slice):
            return self._segments.query(shapely.linestrings(np.stack((starts[part], ends[part]), axis=1)))

        for mine, route in _chunked_pairs(pairs, len(starts), len(self._starts), budget):
            a, d = starts[mine], ends[mine] - starts[mine]
            lo, hi = _capsule_span(a, d, self._starts[route], self._ends[route], self.buffer_m)
            ok = lo <= hi
            if not ok.any():
                continue
            points = np.concatenate((a[ok] + lo[ok, None] * d[ok], a[ok] + hi[ok, None] * d[ok]))
            keys = np.concatenate((mine[ok], mine[ok]))
            np.minimum.at(first, owner[keys], self._locate(points, starts[keys], ends[keys], budget))
        return first

    def _locate(self, points: np.ndarray, starts: np.ndarray, ends: np.ndarray, budget: _Budget) -> np.ndarray:
        """Metres along the projected route to each point's nearest route point (like line_locate_point).

        Each point lies on the closure segment starts[i]-ends[i], within buffer_m of the route, so its nearest
        route point is on a route segment within buffer_m of it, which the index pairs with the closure
        segment. Only those whose boxes, SLACK_M wider, hold the point are tried: the same nearest as among
        every paired segment, from far fewer candidates.
        """
        low, high = np.minimum(starts, ends), np.maximum(starts, ends)
        best_gap, best_along = np.full(len(points), np.inf), np.full(len(points), np.inf)

        def candidates(part: slice):
            return self._reach.query(shapely.points(points[part]))

        for which, segment in _chunked_pairs(candidates, len(points), len(self._starts), budget):
            # The index's own box test (GEOS envelopes meet when their closed boxes do).
            paired = ((self._low[segment] <= high[which]) & (low[which] <= self._high[segment])).all(axis=1)
            which, segment = which[paired], segment[paired]
            if not len(which):
                continue
            if (np.diff(which) < 0).any():  # the index answers in the order of its inputs; should it not
                order = np.argsort(which, kind="stable")
                which, segment = which[order], segment[order]
            gap, along = _foot(points[which], self._starts[segment], self._ends[segment])
            along += self._scale.flat[segment]
            # Per point the nearest segment wins; at a tie (a vertex) the earlier position. Each point's
            # candidates are one run here; they may run on into the next slice, whose better answer then wins.
            run = np.flatnonzero(np.diff(which, prepend=-1))
            point = which[run]
            nearest = np.minimum.reduceat(gap, run)
            tied = gap == np.repeat(nearest, np.diff(run, append=len(which)))
            gap, along = nearest, np.minimum.reduceat(np.where(tied, along, np.inf), run)
            better = (gap < best_gap[point]) | ((gap == best_gap[point]) & (along < best_along[point]))
            best_gap[point[better]], best_along[point[better]] = gap[better], along[better]
        return best_along


def _chunked_pairs(query, count: int, width: int, budget: _Budget):
    """The (input index, tree index) pairs `query(slice)` finds for `count` inputs, a bounded slice at a time.

    One input can meet at most `width` items, so each query gets few enough inputs to answer within QUERY_PAIRS
    pairs. Pairs are charged to `budget` as soon as a query returns them, before any is worked on.
    """
    step = max(1, QUERY_PAIRS // max(width, 1))
    for begin in range(0, count, step):
        mine, theirs = query(slice(begin, min(begin + step, count)))
        budget.spend(len(mine))
        mine += begin
        for cut in range(0, len(mine), PAIR_SLICE):
            yield mine[cut:cut + PAIR_SLICE], theirs[cut:cut + PAIR_SLICE]


def _degree_boxes(starts: np.ndarray, ends: np.ndarray, reach: float, local: Transformer) -> np.ndarray:
    """WGS 84 boxes (min_lon, min_lat, max_lon, max_lat rows) holding all within `reach` metres of each segment.

    Each metric box is taken to degrees through its corners and, because parallels are curved in transverse
    Mercator and reach furthest from the equator on the central meridian (x = 0), where its top and bottom
    edges cross that meridian: without those a 10 km box would come out 1.5 m short.
    """
    low, high = np.minimum(starts, ends) - reach, np.maximum(starts, ends) + reach
    meridian = np.clip(0.0, low[:, 0], high[:, 0])
    xs = np.column_stack((low[:, 0], low[:, 0], high[:, 0], high[:, 0], meridian, meridian))
    ys = np.column_stack((low[:, 1], high[:, 1], low[:, 1], high[:, 1], low[:, 1], high[:, 1]))
    lon, lat = local.transform(xs.ravel(), ys.ravel(), direction="INVERSE")
    lon, lat = lon.reshape(-1, 6), lat.reshape(-1, 6)
    return np.column_stack((lon.min(axis=1), lat.min(axis=1), lon.max(axis=1), lat.max(axis=1)))


class _Raster:
    """The route's boxes painted on a grid in degrees: tells at once which of many boxes may meet them.

    Whether a box meets a painted cell is a rectangle sum on the grid's summed-area table, so one numpy
    pass answers it for every closure segment, however long.
    """

    def __init__(self, boxes: np.ndarray):
        self.origin = boxes[:, :2].min(axis=0)
        extent = boxes[:, 2:].max(axis=0) - self.origin
        # Cells as small as the smallest box (about twice the buffer), but at most MAX_CELLS a side.
        self.cell = np.maximum((boxes[:, 2:] - boxes[:, :2]).min(axis=0), extent / MAX_CELLS)
        self.size = (extent / self.cell).astype(int) + 1
        low, high = self._cells(boxes[:, :2]), self._cells(boxes[:, 2:]) + 1
        # Paint every box at once: +1 and -1 at its corners, then running sums fill it in.
        marks = np.zeros(self.size + 1, dtype=np.int32)
        for x, y, sign in ((low, low, 1), (high, low, -1), (low, high, -1), (high, high, 1)):
            np.add.at(marks, (x[:, 0], y[:, 1]), sign)
        painted = marks.cumsum(axis=0).cumsum(axis=1)[:-1, :-1] > 0
        self.table = np.zeros(self.size + 1, dtype=np.int64)
        self.table[1:, 1:] = painted.cumsum(axis=0).cumsum(axis=1)

    def _cells(self, lonlat: np.ndarray) -> np.ndarray:
        return np.floor((lonlat - self.origin) / self.cell).astype(np.int64)

    def touches(self, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """For each box (low and high corners, lon,lat), whether it meets a painted cell."""
        first, last = self._cells(low), self._cells(high)
        overlap = ((last >= 0) & (first < self.size)).all(axis=1)
        # Clamped into the grid so indexing is safe; boxes wholly outside are dropped by `overlap`.
        first = np.minimum(np.maximum(first, 0), self.size - 1)
        last = np.minimum(np.maximum(last, 0), self.size - 1) + 1
        t = self.table
        painted = t[last[:, 0], last[:, 1]] - t[first[:, 0], last[:, 1]] - t[last[:, 0], first[:, 1]] \
            + t[first[:, 0], first[:, 1]]
        return overlap & (painted > 0)


def _foot(points: np.ndarray, p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to segment p-q, and how far along p-q its nearest point lies."""
    axis = q - p
    length = np.hypot(axis[:, 0], axis[:, 1])
    t = np.clip(_dot(points - p, axis) / np.maximum(length * length, 1e-300), 0.0, 1.0)
    offset = points - (p + t[:, None] * axis)
    return np.hypot(offset[:, 0], offset[:, 1]), t * length


def _segments_of(shapes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end points of every segment of every (Multi)LineString, and the index of its shape."""
    lines, owners = shapes, np.arange(len(shapes))
    multi = shapely.get_type_id(shapes) == shapely.GeometryType.MULTILINESTRING
    if multi.any():  # only these are taken apart: get_parts copies every geometry it is given
        parts, part_of = shapely.get_parts(shapes[multi], return_index=True)
        lines = np.concatenate((shapes[~multi], parts))
        owners = np.concatenate((owners[~multi], owners[multi][part_of]))
    coords, line = shapely.get_coordinates(lines, return_index=True)
    # Consecutive coordinates make a segment only within one line.
    same = line[:-1] == line[1:]
    return coords[:-1][same], coords[1:][same], owners[line[:-1][same]]


# ---------------------------------------------------------------------------- segment-capsule geometry
# For pairs (segment a + t*d, t in [0, 1]; route segment p-q) the range of t within `radius` of p-q.
# The points within radius of p-q form a capsule: a rectangle along p-q and a disc at each end.
# The capsule is convex, so the three ranges join into one; an empty range has lo > hi.

def _capsule_span(a, d, p, q, radius) -> tuple[np.ndarray, np.ndarray]:
    spans = (_disc_span(a, d, p, radius), _disc_span(a, d, q, radius), _band_span(a, d, p, q, radius))
    lo = np.minimum.reduce([s[0] for s in spans])
    hi = np.maximum.reduce([s[1] for s in spans])
    return np.maximum(lo, 0.0), np.minimum(hi, 1.0)


def _disc_span(a, d, centre, radius) -> tuple[np.ndarray, np.ndarray]:
    """Solves |a - centre + t*d|^2 <= radius^2 for t."""
    f = a - centre
    qa, qb, qc = _dot(d, d), _dot(f, d), _dot(f, f) - radius * radius
    disc = qb * qb - qa * qc
    root = np.sqrt(np.maximum(disc, 0.0))
    # A zero-length segment (a point) is inside only if the point itself is.
    real = (disc >= 0) & ((qa > 0) | (qc <= 0))
    qa = np.maximum(qa, 1e-300)
    return np.where(real, (-qb - root) / qa, np.inf), np.where(real, (-qb + root) / qa, -np.inf)


def _band_span(a, d, p, q, radius) -> tuple[np.ndarray, np.ndarray]:
    """Where a + t*d lies beside p-q (between its ends) and at most radius from its line."""
    axis = q - p
    length = np.hypot(axis[:, 0], axis[:, 1])
    along = axis / np.maximum(length, 1e-300)[:, None]
    across = np.column_stack((-along[:, 1], along[:, 0]))
    f = a - p
    lo1, hi1 = _linear_span(_dot(f, along), _dot(d, along), 0.0, length)
    lo2, hi2 = _linear_span(_dot(f, across), _dot(d, across), -radius, radius)
    lo, hi = np.maximum(lo1, lo2), np.minimum(hi1, hi2)
    # A zero-length route segment has no rectangle, only its discs.
    return np.where(length > 0, lo, np.inf), np.where(length > 0, hi, -np.inf)


def _linear_span(start, rate, low, high) -> tuple[np.ndarray, np.ndarray]:
    """Solves low <= start + t*rate <= high for t."""
    still = rate == 0
    safe = np.where(still, 1.0, rate)
    t1, t2 = (low - start) / safe, (high - start) / safe
    always = (low <= start) & (start <= high)
    lo = np.where(still, np.where(always, -np.inf, np.inf), np.minimum(t1, t2))
    hi = np.where(still, np.where(always, np.inf, -np.inf), np.maximum(t1, t2))
    return lo, hi


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[:, 0] * v[:, 0] + u[:, 1] * v[:, 1]


class _AlongScale:
    """Turns metres along the projected route into metres along it on the ellipsoid, segment by segment.

    The projection stretches distances far from its meridian (0.3 % at 500 km); measuring along the route
    through each segment's geodesic length keeps even a cross-country route's positions exact at its vertices.
    """

    def __init__(self, line: BaseGeometry, projected: BaseGeometry):
        lon, lat = shapely.get_coordinates(line).T
        self._geodesic = np.concatenate(([0.0], np.cumsum(_GEOD.line_lengths(lon, lat))))
        flat = np.hypot(*np.diff(shapely.get_coordinates(projected), axis=0).T)
        self.flat = np.concatenate(([0.0], np.cumsum(flat)))  # projected metres to each vertex
        self.length_m = float(self._geodesic[-1])

    def geodesic(self, flat: np.ndarray) -> np.ndarray:
        segment = np.clip(np.searchsorted(self.flat, flat, side="right") - 1, 0, len(self.flat) - 2)
        start, span = self.flat[segment], np.diff(self.flat)[segment]
        share = np.divide(flat - start, span, out=np.zeros_like(flat), where=span > 0)
        return self._geodesic[segment] + share * np.diff(self._geodesic)[segment]
