"""POST /api/v1/route-check: which closures affect a route in a time window, for navigation partners.

The body names a route (a GeoJSON LineString, or a Feature with one), a buffer in metres and a window
[from, to). The answer lists every closure within the buffer that is in effect, active or paused, at
some moment of the window, nearest the route's start first, with its periods clipped to the window.
Geometry is the domain's (roadworks.domain.route); this module only parses, selects and renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import url_for
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from ..auth import Actor
from ..domain.errors import ValidationFailed
from ..domain.route import ROUTE_MAX_VERTICES, RouteProbe, route_line
from ..domain.schedule import zone
from ..index import Entry, Snapshot
from ..registry import flatten_errors
from .bodies import StrictSchema
from .http import actor, json_body, json_response, now, services
from .queries import Instant
from .render import local_iso

blp = Blueprint("routecheck", __name__, url_prefix="/api/v1",
                description="Route check: which closures affect a route in a time window; anyone, no token needed")

DEFAULT_BUFFER_M = 25.0
MAX_BUFFER_M = 500.0
DEFAULT_SPAN = timedelta(hours=2)
# Longer windows are a feed's job (/closures, the iCalendar feed), not a trip's.
MAX_SPAN = timedelta(days=31)


# ---------------------------------------------------------------------------- the body

@dataclass(frozen=True)
class RouteQuery:
    route: dict        # a normalized GeoJSON LineString
    buffer_m: float
    start: datetime
    end: datetime


class RouteField(fields.Field):
    """A GeoJSON LineString, or a Feature holding one, inside the service area."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return route_line(value, service_area=self.parent.service_area, max_vertices=ROUTE_MAX_VERTICES)
        except ValidationFailed as failure:
            # Nested messages keep the vertex path: errors["route.coordinates[3]"]; "" is the route itself.
            raise ValidationError({path or "_schema": messages for path, messages in failure.errors.items()}) from None


class Metres(fields.Float):
    """A JSON number of metres: "25" or true are mistakes, not numbers."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("must be a number of metres")
        return super()._deserialize(value, attr, data, **kwargs)


class RouteCheckSchema(StrictSchema):
    """The route-check body; `from` defaults to now and `to` to two hours after `from`."""

    route = RouteField(required=True, metadata={
        "description": f"GeoJSON LineString (WGS 84 lon,lat), or a Feature with one; at most "
                       f"{ROUTE_MAX_VERTICES} vertices", "type": "object"})
    buffer_m = Metres(load_default=DEFAULT_BUFFER_M,
                      validate=validate.Range(min=0, max=MAX_BUFFER_M, min_inclusive=False),
                      metadata={"description": "metres either side of the route; default 25, at most 500",
                                "exclusiveMinimum": True})
    from_ = Instant(data_key="from", metadata={"description": "RFC 3339 date-time; default now",
                                               "type": "string", "format": "date-time"})
    to = Instant(metadata={"description": "RFC 3339 date-time after `from`, at most 31 days after it; "
                                          "default two hours after `from`", "type": "string", "format": "date-time"})

    def __init__(self, *, service_area=None, now: datetime | None = None, **kwargs):
        super().__init__(**kwargs)
        self.service_area, self.now = service_area, now

    @validates_schema
    def check_window(self, data, **kwargs):
        start, end = data.get("from_", self.now), data.get("to")
        if end is None:
            return
        if end <= start:
            shown = "from" if "from_" in data else "from, which defaults to now"
            raise ValidationError(f"must be after {shown} ({start.isoformat()})", "to")
        if end - start > MAX_SPAN:
            raise ValidationError(f"must be at most {MAX_SPAN.days} days after from", "to")

    @post_load
    def to_query(self, data, **kwargs) -> RouteQuery:
        start = data.get("from_", self.now)
        return RouteQuery(data["route"], data["buffer_m"], start, data.get("to") or start + DEFAULT_SPAN)


def load_query(body, clock: datetime) -> RouteQuery:
    """The body as a RouteQuery, or ValidationFailed naming each bad field."""
    if not isinstance(body, dict):
        raise ValidationFailed.one("$", "must be a JSON object")
    schema = RouteCheckSchema(service_area=services().registry.service_area, now=clock)
    try:
        return schema.load(body)
    except ValidationError as error:
        raise ValidationFailed(flatten_errors(error.messages)) from None


# ---------------------------------------------------------------------------- the endpoint

@blp.route("/route-check", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": RouteCheckSchema}}},
         responses={"200": {"description": "`from`, `to`, `buffer_m`, `route_length_m` and `closures`: each with "
                                           "`id`, `road`, `from`, `to`, `impact`, `direction`, `status` at `from`, "
                                           "`distance_along_route_m`, `periods` cut to the window, `feature_url`; "
                                           "nearest the route's start first",
                            "content": {"application/json": {"schema": {"type": "object", "required": [
                                "from", "to", "buffer_m", "route_length_m", "closures"]}}}}})
def route_check():
    """Closures within `buffer_m` of a route that are active or paused at some moment of [from, to)."""
    who, clock = actor(), now()
    query = load_query(json_body(), clock)
    probe = RouteProbe(query.route, query.buffer_m)
    found = affecting(services().index.snapshot(), probe, query, who, clock)
    return json_response(answer(query, probe, found))


@dataclass(frozen=True)
class Match:
    along_m: float
    entry: Entry
    periods: list[tuple[datetime, datetime, str]]


def affecting(snapshot: Snapshot, probe: RouteProbe, query: RouteQuery, who: Actor, clock: datetime) -> list[Match]:
    """Closures near the route, visible to `who` and in effect in the window, in order along the route."""
    # The index narrows by boxes and the cached statuses by time, both cheap; then the probe decides, in
    # metres, for all remaining candidates at once, and periods are worked out only for the hits.
    entries = [e for e in snapshot.candidates_near(probe.zones)
               if may_be_in_effect(e, query.start, query.end) and e.visible(who, clock)]
    found = []
    for entry, along in zip(entries, probe.meets_all([e.shape for e in entries])):
        if along is None:
            continue
        periods = clipped_periods(entry, query.start, query.end)
        if periods:
            found.append(Match(along, entry, periods))
    return sorted(found, key=lambda m: (m.along_m, m.entry.id))


def may_be_in_effect(entry: Entry, start: datetime, end: datetime) -> bool:
    """A quick answer from the cached status: in effect at `start`, or changing before `end`."""
    status, change = entry.status(start)
    # Any change before `end` may lead into effect (even from `completed`: into a pause that covers the rest).
    return status in ("active", "paused") or (change is not None and change < end)


def clipped_periods(entry: Entry, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    """The closure's active and paused periods overlapping [start, end), cut to it."""
    out = []
    for period in entry.timeline.periods(start, end, include_paused=True):
        since, until = max(period.start, start), min(period.end, end) if period.end else end
        if since < until:
            out.append((since, until, period.state))
    return out


# ---------------------------------------------------------------------------- the answer

def answer(query: RouteQuery, probe: RouteProbe, found: list[Match]) -> dict:
    # The window belongs to no project: give it in the service's zone.
    tz = zone(services().settings["TIMEZONE"])
    return {"from": query.start.astimezone(tz).isoformat(), "to": query.end.astimezone(tz).isoformat(),
            "buffer_m": query.buffer_m, "route_length_m": round(probe.length_m, 1),
            "closures": [closure_json(match, query.start) for match in found]}


def closure_json(match: Match, start: datetime) -> dict:
    closure, project = match.entry.view.closure, match.entry.view.project
    return {"id": closure.id, "road": closure.road, "from": closure.from_, "to": closure.to,
            "impact": closure.impact, "direction": closure.direction, "status": match.entry.status(start)[0],
            "distance_along_route_m": round(match.along_m, 1),
            "periods": [{"start": local_iso(since, project), "end": local_iso(until, project), "state": state}
                        for since, until, state in match.periods],
            "feature_url": url_for("public.get_closure", id=closure.id, _external=True)}
