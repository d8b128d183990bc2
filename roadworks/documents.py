"""Stored JSON documents to domain values and back; stored documents were validated on the way in."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import shapely

from .domain import geometry
from .domain.model import Closure, Project
from .domain.schedule import DAY_NAMES, Hours, Schedule, Span, When
from .store.repository import Stored

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


def closure_of(id: str, props: dict, geom: dict, **meta: Any) -> Closure:
    """A Closure from document properties (JSON form or already parsed) and a normalized geometry."""
    return Closure(id=id, project=props["project"], geometry=geom, schedule=_schedule(props["schedule"]),
                   road=props["road"], from_=props.get("from", props.get("from_")), to=props.get("to"),
                   direction=props.get("direction", "both"), impact=props.get("impact", "closed"),
                   description=props.get("description"), detour=props.get("detour"),
                   actual_start=_when(props.get("actual_start")), actual_end=_when(props.get("actual_end")),
                   cancelled=bool(props.get("cancelled", False)), publish_at=_when(props.get("publish_at")),
                   length_m=round(geometry.length_m(geom), 1), **meta)


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
