"""GeoJSON line geometries of closures: validation, normalization, length and bounds (RFC 7946, WGS 84)."""

from __future__ import annotations

import math
import numbers
from decimal import Decimal
from typing import Any

import shapely.geometry
from pyproj import Geod

from .errors import ValidationFailed

ServiceArea = tuple[float, float, float, float]  # (min_lon, min_lat, max_lon, max_lat)

MAX_VERTICES = 10_000
LINE_TYPES = ("LineString", "MultiLineString")
# 7 decimals of a degree is about 1 cm: finer digits are noise from digitizing tools.
DECIMALS = 7
# A broken upload can have thousands of bad vertices; a clerk needs the first few, not all.
MAX_ERRORS = 20

_GEOD = Geod(ellps="WGS84")
_KNOWN_MEMBERS = {"type", "coordinates", "bbox"}
_AXES = ("longitude", "latitude", "altitude")
_SWAPPED = ("coordinates look like latitude,longitude (swapped); "
            "GeoJSON wants longitude,latitude")

Line = list[tuple[float, float]]


# ---------------------------------------------------------------------------- validation

def normalize_line_geometry(geom: object, *, service_area: ServiceArea | None = None,
                            max_vertices: int = MAX_VERTICES, path: str = "geometry") -> dict:
    """Validate a GeoJSON LineString/MultiLineString (RFC 7946, WGS 84, lon,lat) and return a clean copy."""
    kind, raw = _check_members(geom, path)
    cpath = _sub(path, "coordinates")
    parts = _raw_parts(kind, raw, cpath)
    _check_vertex_count(parts, max_vertices, cpath)
    lines = _parse_parts(parts)
    _check_placement(parts, lines, service_area, cpath)
    cleaned = [_dedupe(_rounded(line)) for line in lines]
    _check_distinct(parts, cleaned)
    coords = [[list(p) for p in line] for line in cleaned]
    return {"type": kind, "coordinates": coords[0] if kind == "LineString" else coords}


def _check_members(geom: object, path: str) -> tuple[str, Any]:
    """The type and raw coordinates, after checking the object's members."""
    if not isinstance(geom, dict):
        raise ValidationFailed.one(path or "geometry", "must be a GeoJSON geometry object")
    errors: dict[str, list[str]] = {}
    kind = geom.get("type")
    if kind not in LINE_TYPES:
        shown = f"{kind!r} is not accepted" if "type" in geom else "is required"
        _add(errors, _sub(path, "type"), f"{shown}; the geometry must be a LineString or MultiLineString")
    for member in geom:
        if member == "crs":
            _add(errors, _sub(path, "crs"), "is not allowed: RFC 7946 GeoJSON is always WGS 84 "
                                            "longitude,latitude, so no crs member may be given")
        elif member not in _KNOWN_MEMBERS:
            _add(errors, _sub(path, str(member)), "unknown member")
    if "coordinates" not in geom:
        _add(errors, _sub(path, "coordinates"), "is required")
    if errors:
        raise ValidationFailed(errors)
    return kind, geom["coordinates"]


def _raw_parts(kind: str, raw: Any, cpath: str) -> list[tuple[str, list]]:
    """Each line's path and raw positions, checking only the array nesting."""
    if kind == "LineString":
        if not _is_array(raw):
            raise ValidationFailed.one(cpath, "must be an array of positions [longitude, latitude]")
        return [(cpath, raw)]
    if not _is_array(raw) or not raw:
        raise ValidationFailed.one(cpath, "must be a non-empty array of lines, each an array of positions")
    errors: dict[str, list[str]] = {}
    for i, part in enumerate(raw):
        if not _is_array(part):
            _add(errors, f"{cpath}[{i}]", "must be an array of positions [longitude, latitude]")
    if errors:
        raise ValidationFailed(errors)
    return [(f"{cpath}[{i}]", part) for i, part in enumerate(raw)]


def _check_vertex_count(parts: list[tuple[str, list]], max_vertices: int, cpath: str) -> None:
    """Refuse oversized geometries before looking at every vertex."""
    count = sum(len(raw) for _, raw in parts)
    if count > max_vertices:
        raise ValidationFailed.one(cpath, f"has {count} vertices; at most {max_vertices} are allowed")


def _parse_parts(parts: list[tuple[str, list]]) -> list[Line]:
    """Every position as a (lon, lat) float pair, or the collected reasons why not."""
    errors: dict[str, list[str]] = {}
    lines = []
    for ppath, raw in parts:
        line = []
        for i, position in enumerate(raw):
            parsed = _position(position, f"{ppath}[{i}]", errors)
            if parsed is not None:
                line.append(parsed)
        lines.append(line)
    if errors:
        raise ValidationFailed(errors)
    return lines


def _position(value: Any, vpath: str, errors: dict[str, list[str]]) -> tuple[float, float] | None:
    """One position's longitude and latitude; the altitude is checked but dropped."""
    if not _is_array(value):
        _add(errors, vpath, "must be a position [longitude, latitude]")
        return None
    if len(value) not in (2, 3):
        _add(errors, vpath, f"must have 2 or 3 numbers (longitude, latitude, optional altitude), "
                            f"not {len(value)}")
        return None
    numbers_ = []
    for axis, item in zip(_AXES, value):
        reason = _number_problem(item)
        if reason:
            _add(errors, vpath, f"{axis} {reason}")
        else:
            numbers_.append(float(item))
    return (numbers_[0], numbers_[1]) if len(numbers_) == len(value) else None


def _number_problem(item: Any) -> str | None:
    """Why `item` is not a usable coordinate number, or None."""
    # bool is an int subclass in Python, but true/false in JSON is never a coordinate.
    if isinstance(item, bool) or not isinstance(item, (numbers.Real, Decimal)):
        return f"must be a number, not {_json_kind(item)}"
    try:
        value = float(item)
    except OverflowError:
        return "must be a finite number of reasonable size"
    if not math.isfinite(value):
        return "must be a finite number"
    return None


def _check_placement(parts: list[tuple[str, list]], lines: list[Line],
                     area: ServiceArea | None, cpath: str) -> None:
    """Check ranges and the service area, recognizing lat,lon typed in the wrong order."""
    errors: dict[str, list[str]] = {}
    first_outside = None
    for (ppath, _), line in zip(parts, lines):
        for i, (lon, lat) in enumerate(line):
            vpath = f"{ppath}[{i}]"
            if not -180.0 <= lon <= 180.0:
                _add(errors, vpath, f"longitude {_fmt(lon)} is out of range [-180, 180]")
            if not -90.0 <= lat <= 90.0:
                _add(errors, vpath, f"latitude {_fmt(lat)} is out of range [-90, 90]")
            if area is not None and first_outside is None and not _inside(lon, lat, area):
                first_outside = (vpath, lon, lat)
    if not errors and first_outside is None:
        return
    # Swapping is checked first: an "out of range" latitude is often just a longitude typed first.
    if area is not None and all(_inside(lat, lon, area) for line in lines for lon, lat in line):
        raise ValidationFailed.one(cpath, _SWAPPED)
    if errors:
        raise ValidationFailed(errors)
    vpath, lon, lat = first_outside
    raise ValidationFailed.one(vpath, f"point (longitude {_fmt(lon)}, latitude {_fmt(lat)}) is outside "
                                      f"the service area {_area_text(area)}")


def _check_distinct(parts: list[tuple[str, list]], lines: list[Line]) -> None:
    """Every line must still be a line after rounding and removing repeats."""
    errors: dict[str, list[str]] = {}
    for (ppath, _), line in zip(parts, lines):
        if len(line) < 2:
            _add(errors, ppath, "needs at least two distinct points")
    if errors:
        raise ValidationFailed(errors)


def _rounded(line: Line) -> Line:
    """The line with coordinates rounded to DECIMALS places; -0.0 becomes 0.0."""
    return [(round(lon, DECIMALS) + 0.0, round(lat, DECIMALS) + 0.0) for lon, lat in line]


def _dedupe(line: Line) -> Line:
    """The line without consecutive repeated positions, order kept."""
    out: Line = []
    for point in line:
        if not out or out[-1] != point:
            out.append(point)
    return out


def _inside(lon: float, lat: float, area: ServiceArea) -> bool:
    """Whether (lon, lat) lies in the area, edges included."""
    min_lon, min_lat, max_lon, max_lat = area
    return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


# ---------------------------------------------------------------------------- measures

def length_m(geom: dict) -> float:
    """Length in metres on the WGS 84 ellipsoid (sum over parts)."""
    total = 0.0
    for line in _lines(geom):
        total += _GEOD.line_length([p[0] for p in line], [p[1] for p in line])
    return total


def bounds(geom: dict) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of a normalized line geometry."""
    points = [p for line in _lines(geom) for p in line]
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    return min(lons), min(lats), max(lons), max(lats)


def to_shape(geom: dict):
    """The geometry as a shapely object (coordinates stay lon,lat degrees)."""
    return shapely.geometry.shape(geom)


def _lines(geom: dict) -> list[list]:
    """The position lists of a LineString or MultiLineString."""
    return [geom["coordinates"]] if geom["type"] == "LineString" else list(geom["coordinates"])


# ---------------------------------------------------------------------------- boxes

def parse_bbox(text: str, *, path: str = "bbox") -> tuple[float, float, float, float]:
    """Parse 'minLon,minLat,maxLon,maxLat' (a query parameter); ValidationFailed names `path` and why."""
    usage = "must be four numbers minLon,minLat,maxLon,maxLat"
    if not isinstance(text, str):
        raise ValidationFailed.one(path, usage)
    pieces = [piece.strip() for piece in text.split(",")]
    if len(pieces) != 4:
        raise ValidationFailed.one(path, f"{usage}, but {len(pieces)} values were given")
    values = []
    for name, piece in zip(("minLon", "minLat", "maxLon", "maxLat"), pieces):
        try:
            value = float(piece)
        except ValueError:
            raise ValidationFailed.one(path, f"{usage}; {name} {piece!r} is not a number") from None
        if not math.isfinite(value):
            raise ValidationFailed.one(path, f"{name} must be a finite number, not {piece!r}")
        values.append(value)
    min_lon, min_lat, max_lon, max_lat = values
    errors: dict[str, list[str]] = {}
    for name, value, limit in (("minLon", min_lon, 180), ("minLat", min_lat, 90),
                               ("maxLon", max_lon, 180), ("maxLat", max_lat, 90)):
        if not -limit <= value <= limit:
            _add(errors, path, f"{name} {_fmt(value)} is out of range [-{limit}, {limit}]")
    if min_lon > max_lon:
        _add(errors, path, f"minLon {_fmt(min_lon)} is greater than maxLon {_fmt(max_lon)}")
    if min_lat > max_lat:
        _add(errors, path, f"minLat {_fmt(min_lat)} is greater than maxLat {_fmt(max_lat)}")
    if errors:
        raise ValidationFailed(errors)
    return min_lon, min_lat, max_lon, max_lat


parse_service_area = parse_bbox


# ---------------------------------------------------------------------------- helpers

def _sub(path: str, name: str) -> str:
    """The path of member `name` under `path`."""
    return f"{path}.{name}" if path else name


def _add(errors: dict[str, list[str]], path: str, message: str) -> None:
    """Record one reason, up to MAX_ERRORS in all."""
    if sum(len(m) for m in errors.values()) < MAX_ERRORS:
        errors.setdefault(path, []).append(message)


def _is_array(value: Any) -> bool:
    """Whether value stands for a JSON array (tuples allowed for Python callers)."""
    return isinstance(value, (list, tuple))


def _json_kind(value: Any) -> str:
    """How a clerk would name the JSON kind of a wrong value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _fmt(value: float) -> str:
    """A coordinate as people write it: 136.6, 200, -12.5."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _area_text(area: ServiceArea) -> str:
    """The service area spelled out for a message."""
    min_lon, min_lat, max_lon, max_lat = area
    return (f"(longitude {_fmt(min_lon)} to {_fmt(max_lon)}, "
            f"latitude {_fmt(min_lat)} to {_fmt(max_lat)})")
