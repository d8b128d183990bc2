"""Which closures a route passes, and where: metric buffers around a route in a local projection.

Closures are stored in WGS 84 degrees, where "25 m" is no fixed number of degrees (at Xining a degree
of longitude is about 89 km and one of latitude about 111 km). So a route is projected to a transverse
Mercator CRS centred on it, and closures near it are compared with it there, in metres; closures are
projected all at once, with vectorised shapely/pyproj calls, and tested with numpy.
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

from .errors import ValidationFailed
from .geometry import ServiceArea, normalize_line_geometry

ROUTE_MAX_VERTICES = 5_000
# Projection centres are rounded to 0.01 degree (about 1 km), so nearby routes share one cached
# transformer; transverse Mercator's scale error 1 km off its meridian is below 1e-8, and 1e-4
# (3 mm on a 25 m buffer) even 90 km off.
CENTRE_DECIMALS = 2
# The quick test in degrees uses boxes this much wider (m) than the buffer, so that box edges straight
# in metres, which bow very slightly in degrees, never make it miss a closure the exact test would find.
SLACK_M = 1.0
_GEOD = Geod(ellps="WGS84")
_FEATURE_MEMBERS = {"type", "id", "geometry", "properties", "bbox"}


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


def reproject(geoms, transformer: Transformer, direction: str = "FORWARD"):
    """A geometry, or an array of them, with every coordinate transformed in one pyproj call."""
    def convert(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1], direction=direction)
        return np.column_stack((x, y))

    return shapely.transform(geoms, convert)


# ---------------------------------------------------------------------------- the probe

class RouteProbe:
    """A route and a buffer of `buffer_m` metres around it; tells which lines come within it and where.

    `bounds` (and `area`, the same as a box) is a WGS 84 box holding the buffer, to query a spatial index
    with; `length_m` is the route's length on the ellipsoid.
    """

    def __init__(self, route: dict | BaseGeometry, buffer_m: float):
        line = shapely.geometry.shape(route) if isinstance(route, dict) else route
        self.buffer_m = float(buffer_m)
        self._local = transformer_for(line)
        self.line = reproject(line, self._local)
        coords = shapely.get_coordinates(self.line)
        self._starts, self._ends = coords[:-1], coords[1:]
        self._segments = shapely.STRtree(shapely.linestrings(np.stack((self._starts, self._ends), axis=1)))
        boxes = _degree_boxes(self._starts, self._ends, self.buffer_m + SLACK_M, self._local)
        self._boxes = shapely.STRtree(boxes)
        corners = shapely.bounds(boxes)
        self.bounds = (*corners[:, :2].min(axis=0), *corners[:, 2:].max(axis=0))
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
        """`meets` for many shapes, vectorised: boxes in degrees first, the exact test in metres after."""
        found: list[float | None] = [None] * len(shapes)
        shapes = np.array(shapes, dtype=object)
        near = np.unique(self._boxes.query(shapes)[0])
        if not len(near):
            return found
        first = self._first_along(reproject(shapes[near], self._local))
        hit = np.isfinite(first)
        for i, along in zip(near[hit], self._scale.geodesic(first[hit])):
            found[i] = float(along)
        return found

    def _first_along(self, shapes: np.ndarray) -> np.ndarray:
        """Projected metres along the route to where each shape first comes within the buffer (inf: never).

        Each closure segment's stretch within buffer_m of a route segment is found exactly; the route's
        position abreast of a stretch changes monotonically along it (unless the route doubles back on
        itself there), so the first position is at one of its ends. A closure crossing squarely gives the crossing point; one running alongside gives the
        point abreast of where it enters the buffer.
        """
        starts, ends, owner = _segments_of(shapes)
        pairs = self._segments.query(shapely.linestrings(np.stack((starts, ends), axis=1)),
                                     predicate="dwithin", distance=self.buffer_m)
        mine, route = pairs
        a, d = starts[mine], ends[mine] - starts[mine]
        lo, hi = _capsule_span(a, d, self._starts[route], self._ends[route], self.buffer_m)
        ok = lo <= hi
        points = np.concatenate((a[ok] + lo[ok, None] * d[ok], a[ok] + hi[ok, None] * d[ok]))
        keys = np.concatenate((mine[ok], mine[ok]))
        first = np.full(len(shapes), np.inf)
        np.minimum.at(first, owner[keys], self._locate(points, keys, pairs))
        return first

    def _locate(self, points: np.ndarray, keys: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Metres along the projected route to each point's nearest route point (like line_locate_point).

        A point on closure segment `key` within buffer_m of the route has its nearest route point on a
        segment within buffer_m of that closure segment, so only the route segments paired with it count.
        """
        which, pair = _join(keys, pairs[0])
        segment = pairs[1][pair]
        gap, along = _foot(points[which], self._starts[segment], self._ends[segment])
        along += self._scale.flat[segment]
        # Per point the nearest segment wins; at a tie (a vertex) the earlier position.
        order = np.lexsort((along, gap, which))
        winner = order[np.diff(which[order], prepend=-1) != 0]
        located = np.empty(len(points))
        located[which[winner]] = along[winner]
        return located


def _degree_boxes(starts: np.ndarray, ends: np.ndarray, reach: float, local: Transformer) -> np.ndarray:
    """WGS 84 boxes holding every point within `reach` metres of each projected route segment."""
    low, high = np.minimum(starts, ends) - reach, np.maximum(starts, ends) + reach
    corners = np.stack((low, high, np.column_stack((low[:, 0], high[:, 1])),
                        np.column_stack((high[:, 0], low[:, 1]))), axis=1).reshape(-1, 2)
    lon, lat = local.transform(corners[:, 0], corners[:, 1], direction="INVERSE")
    lon, lat = lon.reshape(-1, 4), lat.reshape(-1, 4)
    return shapely.box(lon.min(axis=1), lat.min(axis=1), lon.max(axis=1), lat.max(axis=1))


def _join(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every index pair (i, j) with left[i] == right[j]."""
    order = np.argsort(right, kind="stable")
    lo = np.searchsorted(right[order], left, side="left")
    counts = np.searchsorted(right[order], left, side="right") - lo
    i = np.repeat(np.arange(len(left)), counts)
    within = np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts, counts)
    return i, order[np.repeat(lo, counts) + within]


def _foot(points: np.ndarray, p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to segment p-q, and how far along p-q its nearest point lies."""
    axis = q - p
    length = np.hypot(axis[:, 0], axis[:, 1])
    t = np.clip(_dot(points - p, axis) / np.maximum(length * length, 1e-300), 0.0, 1.0)
    offset = points - (p + t[:, None] * axis)
    return np.hypot(offset[:, 0], offset[:, 1]), t * length


def _segments_of(shapes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end points of every segment of every (Multi)LineString, and the index of its shape."""
    parts, part_owner = shapely.get_parts(shapes, return_index=True)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    # Consecutive coordinates make a segment only within one part of a MultiLineString.
    same = part[:-1] == part[1:]
    return coords[:-1][same], coords[1:][same], part_owner[part[:-1][same]]


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
