"""Stored JSON documents to domain values and back; stored documents were validated on the way in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Sequence

import numpy as np
import orjson
import shapely
from shapely.errors import GEOSException

from .domain import geometry
from .domain.model import Closure, Project
from .domain.schedule import DAY_NAMES, Hours, Schedule, Span, When
from .store.repository import Stored, decode

PROJECT_FIELDS = ("name", "description", "agency", "contact", "reference", "timezone")


# ---------------------------------------------------------------------- domain -> JSON

def project_doc(project: Project) -> dict:
    """The stored and served JSON of a project's writable fields."""
    doc = {name: getattr(project, name) for name in PROJECT_FIELDS}
    doc["pauses"] = pauses_json(project.pauses)
    return doc


def closure_doc(closure: Closure) -> dict:
    """The stored JSON of a closure: a GeoJSON Feature with its writable properties."""
    props = {"project": closure.project, "road": closure.road, "from": closure.from_, "to": closure.to,
             "direction": closure.direction, "impact": closure.impact, "description": closure.description,
             "detour": closure.detour, "schedule": schedule_json(closure.schedule),
             "actual_start": _iso(closure.actual_start), "actual_end": _iso(closure.actual_end),
             "cancelled": closure.cancelled, "publish_at": _iso(closure.publish_at)}
    return {"type": "Feature", "id": closure.id, "geometry": closure.geometry, "properties": props}


def schedule_json(schedule: Schedule) -> dict:
    """The contract's schedule object for a domain Schedule."""
    out: dict = {"windows": [_span_json(w, "label") for w in schedule.windows]}
    if schedule.pauses:
        out["pauses"] = pauses_json(schedule.pauses)
    if schedule.hours:
        out["hours"] = [hours_json(h) for h in schedule.hours]
    return out


def pauses_json(pauses) -> list[dict]:
    return [_span_json(p, "reason") for p in pauses]


def hours_json(hours: Hours) -> dict:
    end = "24:00" if hours.ends_at_midnight else hours.end.strftime("%H:%M")
    return {"days": [DAY_NAMES[d] for d in sorted(hours.days)], "start": hours.start.strftime("%H:%M"),
            "end": end}


def geometry_of(shape) -> dict:
    """The GeoJSON of a shapely LineString or MultiLineString, coordinates as lists like the stored ones."""
    if shape.geom_type == "LineString":
        return {"type": "LineString", "coordinates": shapely.get_coordinates(shape).tolist()}
    return {"type": shape.geom_type, "coordinates": [shapely.get_coordinates(p).tolist() for p in shape.geoms]}


def _span_json(span: Span, note: str) -> dict:
    out = {"start": span.start.isoformat(), "end": _iso(span.end)}
    if span.note is not None:
        out[note] = span.note
    return out


def _iso(value: When | None) -> str | None:
    return None if value is None else value.isoformat()


# ---------------------------------------------------------------------- stored JSON -> domain

def project_from(stored: Stored) -> Project:
    """The Project of a stored version."""
    doc = stored.doc
    return Project(id=stored.id, name=doc["name"], agency=doc["agency"], timezone=doc["timezone"],
                   description=doc.get("description"), contact=doc.get("contact"), reference=doc.get("reference"),
                   pauses=tuple(_span(p, "reason") for p in doc.get("pauses", ())), version=stored.version,
                   created_at=stored.created_at, updated_at=stored.updated_at)


def closure_from(stored: Stored) -> Closure:
    """The Closure of a stored version."""
    return closure_of(stored.id, stored.doc["properties"], stored.doc["geometry"], version=stored.version,
                      created_at=stored.created_at, updated_at=stored.updated_at)


@dataclass(frozen=True, slots=True)
class Packed:
    """A stored closure kept compact until asked for: its properties as JSON bytes, and its bookkeeping.

    A snapshot holds every closure but a query reads a few; parsed, each costs about three times the bytes.
    """

    id: str
    project: str
    props: bytes
    length_m: float
    version: int
    created_at: datetime | None
    updated_at: datetime | None

    def closure(self) -> Closure:
        """The Closure, without its GeoJSON geometry (a snapshot keeps that as a shape)."""
        return _closure(self.id, decode(self.props), None, self.length_m, version=self.version,
                        created_at=self.created_at, updated_at=self.updated_at)


def pack(stored: Stored) -> Packed:
    """The compact form of a stored closure version.

    Its length is the stored column where the read fetched it: written from this very geometry, it saves
    a geodesic pass over every vertex.
    """
    props = stored.doc["properties"]
    length = geometry.length_m(stored.doc["geometry"]) if stored.length_m is None else stored.length_m
    return Packed(stored.id, props["project"], _encode(props), round(length, 1), stored.version,
                  stored.created_at, stored.updated_at)


def _encode(props: dict) -> bytes:
    # Closure properties hold strings, booleans and nulls (`closure_doc`), which orjson writes as json does.
    try:
        # orjson hands back its whole write buffer (4 KiB at least): kept for long, a copy the JSON's size.
        return bytes(memoryview(orjson.dumps(props)))
    except orjson.JSONEncodeError:  # an integer past 64 bits, say
        return json.dumps(props).encode()


def closure_of(id: str, props: dict, geom: dict, **meta: Any) -> Closure:
    """A Closure from document properties (JSON form or already parsed) and a normalized geometry."""
    return _closure(id, props, geom, round(geometry.length_m(geom), 1), **meta)


def _closure(id: str, props: dict, geom: dict | None, length_m: float, **meta: Any) -> Closure:
    return Closure(id=id, project=props["project"], geometry=geom, schedule=_schedule(props["schedule"]),
                   road=props["road"], from_=props.get("from", props.get("from_")), to=props.get("to"),
                   direction=props.get("direction", "both"), impact=props.get("impact", "closed"),
                   description=props.get("description"), detour=props.get("detour"),
                   actual_start=_when(props.get("actual_start")), actual_end=_when(props.get("actual_end")),
                   cancelled=bool(props.get("cancelled", False)), publish_at=_when(props.get("publish_at")),
                   length_m=length_m, **meta)


def shapes_of(geometries: Sequence[dict]) -> np.ndarray:
    """The shapes of normalized GeoJSON lines, built in one vectorised pass: the same as `to_shape` of each."""
    if not geometries:
        return _array([])
    points: list = []
    sizes: list[int] = []  # the vertices of each line, every row's lines in order
    first: list[int] = []  # each row's first line
    multi: list[int] = []  # the rows that are MultiLineStrings
    for row, geom in enumerate(geometries):
        first.append(len(sizes))
        lines = (geom["coordinates"],) if geom["type"] == "LineString" else geom["coordinates"]
        if geom["type"] != "LineString":
            multi.append(row)
        for line in lines:
            points.extend(line)
            sizes.append(len(line))
    first.append(len(sizes))
    try:
        lines = shapely.linestrings(np.array(points, dtype=float), indices=np.repeat(np.arange(len(sizes)), sizes))
        if len(lines) != len(sizes) or any(first[r] == first[r + 1] for r in multi):
            raise ValueError("an empty line or MultiLineString")
    except (ValueError, TypeError, GEOSException):
        # Positions of mixed dimensions, a line too short: each geometry as `to_shape` makes it.
        return _array([geometry.to_shape(g) for g in geometries])
    shapes = lines[first[:-1]]
    if multi:
        owned = np.concatenate([np.arange(first[r], first[r + 1]) for r in multi])
        owner = np.repeat(np.arange(len(multi)), [first[r + 1] - first[r] for r in multi])
        shapes[multi] = shapely.multilinestrings(lines[owned], indices=owner)
    return shapes


def _array(shapes: list) -> np.ndarray:
    out = np.empty(len(shapes), dtype=object)
    out[:] = shapes
    return out


def _schedule(value: dict | Schedule) -> Schedule:
    if isinstance(value, Schedule):
        return value
    return Schedule(tuple(_span(w, "label") for w in value["windows"]),
                    tuple(_span(p, "reason") for p in value.get("pauses", ())),
                    tuple(_hours(h) for h in value.get("hours", ())))


def _span(value: dict | Span, note: str) -> Span:
    if isinstance(value, Span):
        return value
    return Span(_when(value["start"]), _when(value.get("end")), value.get(note))


def _hours(value: dict) -> Hours:
    start, end = _clock(value["start"]), value["end"]
    return Hours(frozenset(DAY_NAMES.index(d) for d in value["days"]), start,
                 time(0) if end == "24:00" else _clock(end), end == "24:00")


def _clock(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def _when(value: Any) -> When | None:
    if value is None or isinstance(value, (date, datetime)):
        return value
    return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
