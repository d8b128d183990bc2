"""Coordinate systems answers can be given in: WGS 84 (the default, RFC 7946) and China's GCJ-02."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import prcoords
import shapely
from shapely.geometry.base import BaseGeometry

WGS84 = "wgs84"
GCJ02 = "gcj02"
NAMES = (WGS84, GCJ02)
LABELS = {WGS84: "WGS 84", GCJ02: "GCJ-02"}
# GCJ-02 has no registered identifier, so the mark on an answer is a private URN; WGS 84 is OGC's CRS84.
URIS = {WGS84: "http://www.opengis.net/def/crs/OGC/1.3/CRS84", GCJ02: "urn:x-roadworks:crs:gcj02"}

Point = tuple[float, float]


def _in_china(lon: float, lat: float) -> bool:
    # Outside mainland China GCJ-02 is WGS 84 itself, which is what Chinese map SDKs assume too.
    return prcoords.sanity_in_china_p(prcoords.Coords(lat, lon))


def wgs84_to_gcj02(lon: float, lat: float) -> Point:
    """One WGS 84 point in GCJ-02 (lon, lat)."""
    if not _in_china(lon, lat):
        return lon, lat
    shifted = prcoords.wgs_gcj(prcoords.Coords(lat, lon), False)
    return shifted.lon, shifted.lat


def gcj02_to_wgs84(lon: float, lat: float) -> Point:
    """One GCJ-02 point back in WGS 84, iterated to a fixed point (millimetres, not the 1-2 m of one step)."""
    if not _in_china(lon, lat):
        return lon, lat
    exact = prcoords.gcj_wgs_bored(prcoords.Coords(lat, lon), False)
    return exact.lon, exact.lat


def _check(crs: str) -> str:
    if crs not in NAMES:
        raise ValueError(f"unknown coordinate system {crs!r}; use one of {', '.join(NAMES)}")
    return crs


def point_to(lon: float, lat: float, crs: str) -> Point:
    """A WGS 84 point in `crs`."""
    return wgs84_to_gcj02(lon, lat) if _check(crs) == GCJ02 else (lon, lat)


def point_from(lon: float, lat: float, crs: str) -> Point:
    """A point given in `crs`, in WGS 84."""
    return gcj02_to_wgs84(lon, lat) if _check(crs) == GCJ02 else (lon, lat)


def _map_positions(coordinates: Any, move: Callable[[float, float], Point]) -> Any:
    if coordinates and isinstance(coordinates[0], (int, float)):
        lon, lat = move(coordinates[0], coordinates[1])
        return [round(lon, 7), round(lat, 7), *coordinates[2:]]
    return [_map_positions(part, move) for part in coordinates]


def geometry_to(geometry: dict | None, crs: str) -> dict | None:
    """A GeoJSON geometry (WGS 84) as a new geometry in `crs`; the input is left alone."""
    if geometry is None or _check(crs) == WGS84:
        return geometry
    if geometry.get("type") == "GeometryCollection":
        return {**geometry, "geometries": [geometry_to(g, crs) for g in geometry["geometries"]]}
    return {**geometry, "coordinates": _map_positions(geometry["coordinates"], wgs84_to_gcj02)}


def bbox_from(bbox: tuple[float, float, float, float], crs: str) -> tuple[float, float, float, float]:
    """A bbox given in `crs` as the WGS 84 bbox that covers it (corners moved, then re-spanned)."""
    if _check(crs) == WGS84:
        return bbox
    min_lon, min_lat, max_lon, max_lat = bbox
    corners = [gcj02_to_wgs84(x, y) for x in (min_lon, max_lon) for y in (min_lat, max_lat)]
    lons, lats = [c[0] for c in corners], [c[1] for c in corners]
    return min(lons), min(lats), max(lons), max(lats)


def shape_to(shape: BaseGeometry, crs: str) -> BaseGeometry:
    """A shapely geometry (WGS 84) as a new one in `crs`."""
    if _check(crs) == WGS84:
        return shape
    # Rounded like geometry_to (1e-7 degrees, about a centimetre), so both paths give the same numbers.
    return shapely.transform(shape, lambda xy: np.round(wgs84_to_gcj02_array(xy), 7))


def shapes_to(shapes: list[BaseGeometry], crs: str) -> list[BaseGeometry]:
    """Many shapely geometries (WGS 84) in `crs` at once: the same numbers as `shape_to` on each, in one pass."""
    if _check(crs) == WGS84 or not shapes:
        return list(shapes)
    moved = shapely.transform(np.asarray(shapes, dtype=object), lambda xy: np.round(wgs84_to_gcj02_array(xy), 7))
    return list(moved)


# prcoords' constants: the Krasovsky 1940 ellipsoid's semi-major axis and squared eccentricity.
_GCJ_A = 6378245
_GCJ_EE = 0.00669342162296594323


def wgs84_to_gcj02_array(xy: np.ndarray) -> np.ndarray:
    """`wgs84_to_gcj02` over an (n, 2) array of lon, lat at once, giving the very same floats.

    prcoords' formula, written with the same operations in the same order; `float_power` where it
    calls math.pow, since numpy's `power` may differ from it in the last bit.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    lon, lat = xy[:, 0], xy[:, 1]
    inside = (0.8293 <= lat) & (lat <= 55.8271) & (72.004 <= lon) & (lon <= 137.8347)
    x, y, pi = lon - 105, lat - 35, math.pi
    sin = np.sin
    d_lat_m = (-100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + (
        2 * sin(x * 6 * pi) + 2 * sin(x * 2 * pi) + 2 * sin(y * pi) + 4 * sin(y / 3 * pi)
        + 16 * sin(y / 12 * pi) + 32 * sin(y / 30 * pi)) * 20 / 3)
    d_lon_m = (300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + (
        2 * sin(x * 6 * pi) + 2 * sin(x * 2 * pi) + 2 * sin(x * pi) + 4 * sin(x / 3 * pi)
        + 15 * sin(x / 12 * pi) + 30 * sin(x / 30 * pi)) * 20 / 3)
    rad_lat = np.radians(lat)
    magic = 1 - _GCJ_EE * np.float_power(np.sin(rad_lat), 2)
    lat_deg_arclen = np.radians((_GCJ_A * (1 - _GCJ_EE)) / np.float_power(magic, 1.5))
    lon_deg_arclen = np.radians(_GCJ_A * np.cos(rad_lat) / np.sqrt(magic))
    # Outside mainland China GCJ-02 is WGS 84 itself (see _in_china).
    return np.column_stack((np.where(inside, lon + d_lon_m / lon_deg_arclen, lon),
                            np.where(inside, lat + d_lat_m / lat_deg_arclen, lat)))
