"""Open511 events over the published closures, in JSON and XML.

Format: the `format` parameter (json or xml) decides; without it the Accept header does (application/json,
application/xml or text/xml); with neither, or with */*, the answer is XML, Open511's reference form.
An Accept header that admits neither answers 406. Version: v1, the only Open511 version, asked for with
`version` or the Open511-Version header; any other is refused with 400.
"""

from __future__ import annotations

import operator
import re
from datetime import date, datetime, time, timedelta, timezone
from functools import partial
from typing import Callable
from urllib.parse import urlencode

from flask import request
from marshmallow import RAISE, ValidationError, fields, validate
from shapely.geometry import box, mapping

from ..answers import Answer, lifetime, make_answer
from ..auth import ANONYMOUS
from ..domain.crs import WGS84
from ..feeds import dumps, open511 as o5
from ..feeds.wzdx import CC0
from ..index import Entry, Snapshot
from ..pages import crs_note, public, select
from .answering import respond
from .bodies import EARLIEST, LATEST, parse_instant
from .urls import absolute, public_request_url
from .http import services
from .problems import Problem
from .queries import ApiBlueprint, BBox, QuerySchema, check_interval_length, crs_field

blp = ApiBlueprint("open511", __name__, url_prefix="/open511", description="Open511 road events")

FORMATS = {"application/xml": "xml", "application/json": "json", "text/xml": "xml"}
MIMETYPES = {"xml": "application/xml", "json": "application/json"}
WHOLE_WORLD = (-180.0, -90.0, 180.0, 90.0)
COMPARISONS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "": operator.eq}
_COMPARISON = re.compile(r"^(<=|>=|<|>)?(.*)$", re.S)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---------------------------------------------------------------------------- query fields

class Choice(fields.Field):
    """One or (`many`) a comma list of upper-case words, given in any case."""

    def __init__(self, choices: tuple[str, ...], *, many: bool = False, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("type", "string")
        super().__init__(**kwargs)
        self.choices, self.many = choices, many

    def _deserialize(self, value, attr, data, **kwargs):
        words = [w.strip().upper() for w in str(value).split(",")] if self.many else [str(value).strip().upper()]
        wrong = [w for w in words if w not in self.choices]
        if wrong:
            raise ValidationError(f"unknown value {', '.join(wrong) or '(empty)'}; use "
                                  f"{'a comma list of ' if self.many else 'one of '}{', '.join(self.choices)}")
        return set(words) if self.many else words[0]


class Moment(fields.String):
    """A date (a whole local day of each closure's zone) or an RFC 3339 date-time with an offset."""

    default_error_messages = {"invalid": "must be a date (2024-05-20) or a date-time with an offset "
                                         "(2024-05-20T12:00+08:00)",
                              "naive": "needs an offset such as +08:00 or Z"}

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip()
        if _DATE.match(text):
            try:
                day = date.fromisoformat(text)
            except ValueError:
                raise self.make_error("invalid") from None
            if not EARLIEST.date() <= day < LATEST.date():  # as for date-times: no overflow at the calendar's ends
                raise ValidationError("must lie between the years 1900 and 2199")
            return day
        return parse_instant(text, self)


class InEffectOn(Moment):
    """`now`, one date or date-time, or a range `start,end` (a date end lasts through that day) of at most
    MAX_INTERVAL_DAYS (a setting)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value)
        if text.strip().lower() == "now":
            return "now", None
        parts = text.split(",")
        if len(parts) > 2:
            raise ValidationError("give one date or date-time, or two separated by a comma")
        start = super()._deserialize(parts[0], attr, data, **kwargs)
        end = super()._deserialize(parts[1], attr, data, **kwargs) if len(parts) == 2 else None
        if end is not None:
            length = _rough(end, last=True) - _rough(start)
            if length <= timedelta(0):
                raise ValidationError("the range ends before it starts")
            check_interval_length(length, services().settings)
        return start, end


def _rough(value, *, last: bool = False) -> datetime:
    """A date or date-time on one time line, good to a day: enough to check a range's order and length."""
    if isinstance(value, datetime):
        return value
    return datetime.combine(value + timedelta(days=1 if last else 0), time(0), timezone.utc)


class Comparison(fields.String):
    """A date-time with an offset, optionally after <, <=, > or >= (`>2024-05-01T00:00Z`)."""

    default_error_messages = {"invalid": "must be a date-time with an offset, optionally after <, <=, > or >=, "
                                         "e.g. >2024-05-01T00:00Z",
                              "naive": "needs an offset such as +08:00 or Z"}

    def _deserialize(self, value, attr, data, **kwargs):
        op, text = _COMPARISON.match(str(value).strip()).groups()
        return op or "", parse_instant(text.strip(), self)


class FormatQuerySchema(QuerySchema):
    format = fields.String(validate=validate.OneOf(("json", "xml")),
                           metadata={"description": "json or xml (default: by Accept, else xml)"})
    version = fields.String(validate=validate.OneOf((o5.VERSION,)), metadata={"description": "Open511 version: v1"})


class OneEventQuerySchema(FormatQuerySchema):
    crs = crs_field()


class EventQuerySchema(OneEventQuerySchema):
    status = Choice(("ACTIVE", "ARCHIVED", "ALL"), load_default="ACTIVE",
                    metadata={"description": "ACTIVE (default), ARCHIVED or ALL"})
    in_effect_on = InEffectOn(metadata={"description": "now, a date, a date-time, or start,end"})
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (in `crs`)"})
    road_name = fields.String(validate=validate.Length(min=1, max=500),
                              metadata={"description": "comma list of road names (exact, any case)"})
    jurisdiction = fields.String(validate=validate.Length(min=1, max=500),
                                 metadata={"description": "comma list of jurisdiction ids or URLs"})
    event_type = Choice(("CONSTRUCTION", "SPECIAL_EVENT", "INCIDENT", "WEATHER_CONDITION", "ROAD_CONDITION"),
                        many=True)
    severity = Choice(("MINOR", "MODERATE", "MAJOR", "UNKNOWN"), many=True)
    updated = Comparison(metadata={"description": "e.g. >2024-05-01T00:00Z"})
    created = Comparison(metadata={"description": "e.g. <2024-05-01T00:00+08:00"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


# ---------------------------------------------------------------------------- negotiation and answers

def negotiated(query: dict) -> str:
    """json or xml, from `format`, else Accept, else XML; also refuses an Open511 version other than v1."""
    asked = request.headers.get("Open511-Version")
    if asked is not None and asked.strip() != o5.VERSION:
        raise Problem(400, f"this server speaks Open511 {o5.VERSION} only",
                      {"Open511-Version": [f"unsupported version {asked.strip()[:40]!r}; use {o5.VERSION}"]})
    if "format" in query:
        return query["format"]
    if not request.headers.get("Accept"):
        return "xml"
    best = request.accept_mimetypes.best_match(list(FORMATS))
    if best is None:
        raise Problem(406, "Open511 answers in application/xml or application/json",
                      {"Accept": ["accept application/xml or application/json, or send format=json or format=xml"]})
    return FORMATS[best]


def answer(query: dict, fmt: str, document: Callable[[Snapshot, datetime], tuple[dict, list[Entry]]], *,
           crs: str = WGS84, extra: tuple = ()):
    """`document` (the Open511 document and the closures it was built from) in `fmt`, kept like every read.

    It varies with the negotiating headers. It holds until a status among its closures changes or a draft
    among them goes public; clients are told only of the published ones (see answers.lifetime).
    """
    def build(snapshot: Snapshot, who, at: datetime) -> Answer:
        made, entries = document(snapshot, at)
        body = dumps(made) if fmt == "json" else o5.to_xml(made)
        return make_answer(body, MIMETYPES[fmt], lifetime(snapshot, entries, ANONYMOUS, at),
                           headers=crs_note(crs)[1], vary=("Accept", "Open511-Version"))
    return respond(build, query, extra=(fmt, *extra))


def links() -> o5.Links:
    return o5.Links(absolute("open511"), services().settings["OPEN511_JURISDICTION"]
                    or "roadworks.invalid")


# ---------------------------------------------------------------------------- resources

def _answers():
    """Document the 200 answer in both forms."""
    content = {"application/xml": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}}}
    return blp.doc(responses={"200": {"description": "OK, in the negotiated format", "content": content}})


@blp.route("/", methods=["GET"])
@_answers()
@blp.arguments(FormatQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def discovery(**query):
    """Open511 discovery: the jurisdiction and the services this server offers."""
    fmt = negotiated(query)
    name = services().settings["PUBLISHER"] or "Roadworks"
    made = o5.discovery_document(links(), name, public_request_url())
    return answer(query, fmt, lambda snapshot, at: (made, []))


@blp.route("/jurisdictions", methods=["GET"])
@_answers()
@blp.arguments(FormatQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def jurisdictions(**query):
    """The one jurisdiction publishing here (valid Open511 once ROADWORKS_CONTACT is an e-mail address)."""
    return _jurisdictions(query)


@blp.route("/jurisdictions/<jurisdiction_id>", methods=["GET"])
@_answers()
@blp.arguments(FormatQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def one_jurisdiction(jurisdiction_id, **query):
    """The jurisdiction publishing here."""
    return _jurisdictions(query, jurisdiction_id)


def _jurisdictions(query: dict, wanted: str | None = None):
    fmt = negotiated(query)
    here = links()
    _check_jurisdiction(here, wanted)
    settings = services().settings
    contact = settings["CONTACT"]
    found = o5.jurisdiction_resource(here, name=settings["PUBLISHER"] or "Roadworks",
                                     email=contact if "@" in contact and " " not in contact else None,
                                     zone=settings["TIMEZONE"], license_url=CC0)
    made = {"jurisdictions": [found], "meta": {"version": o5.VERSION, "url": public_request_url()}}
    return answer(query, fmt, lambda snapshot, at: (made, []), extra=(wanted,))


@blp.route("/jurisdictions/<jurisdiction_id>/geography", methods=["GET"])
@_answers()
@blp.arguments(FormatQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def jurisdiction_geography(jurisdiction_id, **query):
    """The area the jurisdiction covers: the service area (ROADWORKS_SERVICE_AREA) as a polygon."""
    fmt = negotiated(query)
    _check_jurisdiction(links(), jurisdiction_id)
    area = services().registry.service_area or WHOLE_WORLD
    polygon = {"type": "Polygon", "coordinates": [[list(p) for p in mapping(box(*area))["coordinates"][0]]]}
    made = {"geographies": [polygon], "meta": {"version": o5.VERSION, "url": public_request_url()}}
    return answer(query, fmt, lambda snapshot, at: (made, []), extra=(jurisdiction_id,))


def _check_jurisdiction(here: o5.Links, wanted: str | None) -> None:
    if wanted is not None and wanted != here.jurisdiction:
        raise Problem(404, f"no jurisdiction {wanted!r} here; this server publishes {here.jurisdiction}")


@blp.route("/events", methods=["GET"])
@_answers()
@blp.arguments(EventQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def events(**query):
    """Open511 events: every published closure as a CONSTRUCTION event, filtered and paged as Open511 says."""
    fmt = negotiated(query)
    here, crs, url = links(), query["crs"], public_request_url()
    offset, limit = query["offset"], query["limit"]
    page_url = partial(_page_url, request.args.to_dict(flat=False), limit)

    def document(snapshot: Snapshot, at: datetime) -> tuple[dict, list[Entry]]:
        candidates = _candidates(snapshot, query, here)
        chosen = [e for e in public(candidates, at) if _wanted(e, query, at)]
        shown = [o5.event(e, at, here, crs) for e in chosen[offset:offset + limit]]
        pagination = o5.paged(page_url, offset, limit, len(chosen))
        return o5.events_document(shown, url, here, pagination), candidates
    return answer(query, fmt, document, crs=crs)


@blp.route("/events/<jurisdiction_id>/<closure_id>", methods=["GET"])
@_answers()
@blp.arguments(OneEventQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def one_event(jurisdiction_id, closure_id, **query):
    """One event, whatever its status (drafts stay hidden until published)."""
    fmt = negotiated(query)
    here, url = links(), public_request_url()
    _check_jurisdiction(here, jurisdiction_id)

    def document(snapshot: Snapshot, at: datetime) -> tuple[dict, list[Entry]]:
        entry = snapshot.get(closure_id)
        if entry is None or not entry.visible(ANONYMOUS, at):
            raise Problem(404, f"no event {jurisdiction_id}/{closure_id}")
        return o5.events_document([o5.event(entry, at, here, query["crs"])], url, here), [entry]
    return answer(query, fmt, document, crs=query["crs"], extra=(jurisdiction_id, closure_id))


# ---------------------------------------------------------------------------- filters

def _candidates(snapshot: Snapshot, query: dict, here: o5.Links) -> list[Entry]:
    """Closures in the area, on the roads and in the jurisdictions asked for, drafts included (for max-age)."""
    if "jurisdiction" in query and not _names_us(query["jurisdiction"], here):
        return []
    entries = select(snapshot, query)
    if "road_name" in query:
        roads = {r.strip().casefold() for r in query["road_name"].split(",") if r.strip()}
        entries = [e for e in entries if e.road in roads]
    return entries


def _names_us(value: str, here: o5.Links) -> bool:
    """A jurisdiction given by id or by URL (whose last path segment is the id)."""
    return any(j.strip().rstrip("/").rsplit("/", 1)[-1] == here.jurisdiction for j in value.split(","))


def _wanted(entry: Entry, query: dict, at: datetime) -> bool:
    status = query["status"]
    if status != "ALL" and o5.event_status(entry, at) != status:
        return False
    if "event_type" in query and "CONSTRUCTION" not in query["event_type"]:
        return False
    if "severity" in query and o5.SEVERITY.get(entry.view.closure.impact, "UNKNOWN") not in query["severity"]:
        return False
    if "in_effect_on" in query:
        start, end = query["in_effect_on"]
        if not o5.in_effect(entry, at if start == "now" else start, end):
            return False
    if "updated" in query and not _compare(query["updated"], o5.updated_at(entry, at)):
        return False
    created = entry.view.closure.created_at
    return "created" not in query or (created is not None and _compare(query["created"], created))


def _compare(condition: tuple[str, datetime], value: datetime) -> bool:
    """Compared to the second, as the event shows its timestamps."""
    op, limit = condition
    return COMPARISONS[op](value.replace(microsecond=0), limit)


def _page_url(args: dict, limit: int, offset: int) -> str:
    """This request's URL, every other parameter kept, at another offset."""
    args = dict(args)
    args["offset"], args["limit"] = [str(offset)], [str(limit)]
    return f"{public_request_url(query=False)}?{urlencode(args, doseq=True)}"
