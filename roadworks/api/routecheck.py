"""POST /api/v1/route-check: which closures affect a route in a time window, for navigation partners.

The body names a route (a GeoJSON LineString, or a Feature with one), a buffer in metres and a window
[from, to). The answer lists every closure within the buffer that is in effect, active or paused, at
some moment of the window, nearest the route's start first, with its periods clipped to the window.
Geometry is the domain's (roadworks.domain.route); this module only parses, selects and renders.

Caps, each a setting refused with a 400 problem naming it and its value: ROUTE_MAX_VERTICES (the route's
vertices), ROUTE_MAX_WINDOW_DAYS (the window) and ROUTE_MAX_PAIRS (the work of one check).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from ..auth import Actor
from ..domain.errors import ValidationFailed
from ..domain.route import RouteProbe, TooMuchWork, route_line
from ..domain.schedule import zone
from ..index import Entry, Snapshot
from .bodies import StrictSchema, flatten_errors
from .http import actor, json_body, json_response, now, services
from .problems import Problem
from .queries import Instant
from .render import local_iso
from .urls import public_url_for

blp = Blueprint("routecheck", __name__, url_prefix="/api/v1",
                description="Route check: which closures affect a route in a time window; anyone, no token needed")

DEFAULT_BUFFER_M = 25.0
MAX_BUFFER_M = 500.0
DEFAULT_SPAN = timedelta(hours=2)
# The index is asked about route zones a few at a time: its answer holds a pair per (zone, closure) whose
# boxes meet, and at most this many of them (16 bytes each) whatever the route and however dense the city.
ZONE_PAIRS = 1 << 19


# ---------------------------------------------------------------------------- the body

@dataclass(frozen=True)
class RouteQuery:
    route: dict        # a normalized GeoJSON LineString
    buffer_m: float
    start: datetime
    end: datetime


def cap_refused(field: str, setting: str, value: int, reason: str) -> Problem:
    """The 400 problem of a request past a cap: it names the field, the cap's setting and its value."""
    message = f"{reason} ({setting}={value})"
    return Problem(400, f"{field}: {message}", {field: [message]})


class RouteField(fields.Field):
    """A GeoJSON LineString, or a Feature holding one, inside the service area."""

    def _deserialize(self, value, attr, data, **kwargs):
        cap = self.parent.max_vertices
        path, coordinates = _coordinates(value)
        if isinstance(coordinates, list) and len(coordinates) > cap:
            # Raised past marshmallow (it collects only ValidationError): a cap is a 400, not a 422.
            raise cap_refused(f"route.{path}", "ROUTE_MAX_VERTICES", cap,
                              f"has {len(coordinates)} vertices, more than {cap}; split the route")
        try:
            return route_line(value, service_area=self.parent.service_area, max_vertices=cap)
        except ValidationFailed as failure:
            # Nested messages keep the vertex path: errors["route.coordinates[3]"]; "" is the route itself.
            raise ValidationError({path or "_schema": messages for path, messages in failure.errors.items()}) from None


def _coordinates(value) -> tuple[str, object]:
    """Where a route's coordinates are (relative to the route) and what is there, before any validation."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        geometry = value.get("geometry")
        return "geometry.coordinates", geometry.get("coordinates") if isinstance(geometry, dict) else None
    return "coordinates", value.get("coordinates") if isinstance(value, dict) else None


class Metres(fields.Float):
    """A JSON number of metres: "25" or true are mistakes, not numbers."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("must be a number of metres")
        return super()._deserialize(value, attr, data, **kwargs)


class RouteCheckSchema(StrictSchema):
    """The route-check body; `from` defaults to now and `to` to two hours after `from`."""

    route = RouteField(required=True, metadata={
        "description": "GeoJSON LineString (WGS 84 lon,lat), or a Feature with one; at most ROUTE_MAX_VERTICES "
                       "(default 5000) vertices. A route that comes near more than ROUTE_MAX_PAIRS (default "
                       "2,000,000) pairs of closure and route segments is refused with 400: split it",
        "type": "object"})
    buffer_m = Metres(load_default=DEFAULT_BUFFER_M,
                      validate=validate.Range(min=0, max=MAX_BUFFER_M, min_inclusive=False),
                      metadata={"description": "metres either side of the route; default 25, at most 500",
                                "exclusiveMinimum": True})
    from_ = Instant(data_key="from", metadata={"description": "RFC 3339 date-time; default now",
                                               "type": "string", "format": "date-time"})
    to = Instant(metadata={"description": "RFC 3339 date-time after `from`, at most ROUTE_MAX_WINDOW_DAYS (default "
                                          "31) days after it; default two hours after `from`",
                           "type": "string", "format": "date-time"})

    def __init__(self, *, service_area=None, now: datetime | None = None, max_vertices: int = 5000,
                 max_window_days: int = 31, **kwargs):
        super().__init__(**kwargs)
        self.service_area, self.now = service_area, now
        self.max_vertices, self.max_window_days = max_vertices, max_window_days

    @validates_schema
    def check_window(self, data, **kwargs):
        start, end = data.get("from_", self.now), data.get("to")
        if end is None:
            return
        if end <= start:
            shown = "from" if "from_" in data else "from, which defaults to now"
            raise ValidationError(f"must be after {shown} ({start.isoformat()})", "to")
        if end - start > timedelta(days=self.max_window_days):
            # Longer windows are a feed's job (/closures, the iCalendar feed), not a trip's.
            raise cap_refused("to", "ROUTE_MAX_WINDOW_DAYS", self.max_window_days,
                              f"must be at most {self.max_window_days} days after from")

    @post_load
    def to_query(self, data, **kwargs) -> RouteQuery:
        start = data.get("from_", self.now)
        return RouteQuery(data["route"], data["buffer_m"], start, data.get("to") or start + DEFAULT_SPAN)


def load_query(body, clock: datetime) -> RouteQuery:
    """The body as a RouteQuery, or ValidationFailed naming each bad field."""
    if not isinstance(body, dict):
        raise ValidationFailed.one("$", "must be a JSON object")
    settings = services().settings
    schema = RouteCheckSchema(service_area=services().registry.service_area, now=clock,
                              max_vertices=int(settings["ROUTE_MAX_VERTICES"]),
                              max_window_days=int(settings["ROUTE_MAX_WINDOW_DAYS"]))
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
    cap = int(services().settings["ROUTE_MAX_PAIRS"])
    probe = RouteProbe(query.route, query.buffer_m, max_pairs=cap)
    try:
        found = affecting(services().index.snapshot(), probe, query, who, clock)
    except TooMuchWork:
        raise cap_refused("route", "ROUTE_MAX_PAIRS", cap,
                          f"comes near more than {cap} (closure segment, route segment) pairs within the "
                          f"buffer's boxes; split the route or narrow buffer_m") from None
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
    entries = [e for e in candidates(snapshot, probe.zones)
               if may_be_in_effect(e, query.start, query.end) and e.visible(who, clock)]
    found = []
    for entry, along in zip(entries, probe.meets_all([e.shape for e in entries])):
        if along is None:
            continue
        periods = clipped_periods(entry, query.start, query.end)
        if periods:
            found.append(Match(along, entry, periods))
    return sorted(found, key=lambda m: (m.along_m, m.entry.id))


def candidates(snapshot: Snapshot, zones) -> list[Entry]:
    """Closures whose boxes meet any of the route's zones, each once, in id order."""
    step = max(1, ZONE_PAIRS // max(1, snapshot.bound))
    found: dict[int, Entry] = {}  # by identity: the snapshot hands out one Entry per closure
    for begin in range(0, len(zones), step):
        found.update((id(entry), entry) for entry in snapshot.candidates_near(zones[begin:begin + step]))
    return sorted(found.values(), key=lambda entry: entry.id)


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
            "feature_url": public_url_for("public.get_closure", id=closure.id)}
