"""Feeds for partners and subscribers (WZDx, Waze CIFS, iCalendar): the read model through one adapter each."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import request
from marshmallow import RAISE, fields, validate
from shapely.geometry import box

from ..auth import ANONYMOUS
from ..domain.crs import WGS84, bbox_from
from ..feeds import Horizon, in_crs
from ..feeds.ical import closure_calendar
from ..feeds.waze import waze_json, waze_xml
from ..feeds.wzdx import work_zone_feed
from ..index import Entry
from .bodies import ID_PATTERN
from .http import actor, bytes_response, crs_mark, etag_for, json_response, now, seconds_until, services
from .queries import ApiBlueprint, BBox, QuerySchema, crs_field

blp = ApiBlueprint("feeds", __name__, url_prefix="/feeds",
                   description="Feeds in the formats partners and calendars already read")


def horizon() -> Horizon:
    """The rolling horizon the feeds cover, from ROADWORKS_FEED_DAYS_BACK and _AHEAD."""
    settings = services().settings
    return Horizon(timedelta(days=int(settings.get("FEED_DAYS_BACK", 30))),
                   timedelta(days=int(settings.get("FEED_DAYS_AHEAD", 180))))


class FeedQuerySchema(QuerySchema):
    """Subscribe to one street, one project or one area."""

    road = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "substring of the road"})
    project = fields.String(validate=validate.Regexp(ID_PATTERN))
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (in `crs`)"})
    crs = crs_field()


def published(query: dict, at: datetime) -> list[Entry]:
    """Closures the public may see, filtered like /api/v1/closures; drafts never reach a feed."""
    crs = query.get("crs", WGS84)
    area = box(*bbox_from(query["bbox"], crs)) if "bbox" in query else None
    entries = services().index.snapshot().select(area=area, project=query.get("project"), road=query.get("road"))
    return [e for e in entries if e.visible(ANONYMOUS, at)]


def _max_age(entries: list[Entry], at: datetime) -> int | None:
    changes = [e.next_event(at) for e in entries] + [horizon().next_move(at)]
    return seconds_until(min(c for c in changes if c is not None), at)


def _answer(query: dict, render, mimetype: str):
    """A feed over the published closures matching `query`, kept by caches until the next change among them."""
    actor()  # a bad token is refused on every read
    at = now()
    crs = query.get("crs", WGS84)
    entries = in_crs(published(query, at), crs)
    body, max_age = render(entries, at), _max_age(entries, at)
    headers = crs_mark(crs, body)
    if isinstance(body, dict):
        return json_response(body, mimetype=mimetype, max_age=max_age, headers=headers)
    return bytes_response(body, etag_for(body), mimetype=mimetype, max_age=max_age, headers=headers)



@blp.route("/wzdx.geojson", methods=["GET"])
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def wzdx(**query):
    """Work Zone Data Exchange 4.2 WorkZoneFeed: one road event per period and direction."""
    settings = services().settings

    def render(entries, at):
        return work_zone_feed(entries, at, horizon(), publisher=settings.get("PUBLISHER") or "Roadworks",
                              contact=settings.get("CONTACT") or None,
                              updated=services().index.snapshot().last_write_at)

    return _answer(query, render, "application/geo+json")


@blp.route("/closures.ics", methods=["GET"])
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def calendar(**query):
    """iCalendar (RFC 5545): one event per period in effect, for a street, a project or an area."""
    map_url = request.host_url + "map/"
    return _answer(query, lambda entries, at: closure_calendar(entries, at, horizon(), map_url=map_url),
                   "text/calendar")


@blp.route("/waze.json", methods=["GET"])
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def waze_incidents_json(**query):
    """Waze Closure and Incident Feed (CIFS), JSON form: one incident per period, linked by parent_event."""
    return _answer(query, lambda entries, at: waze_json(entries, at, horizon()), "application/json")


@blp.route("/waze.xml", methods=["GET"])
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def waze_incidents_xml(**query):
    """Waze Closure and Incident Feed (CIFS), XML form, valid against the CIFS v2 XSD."""
    return _answer(query, lambda entries, at: waze_xml(entries, at, horizon()), "application/xml")
