"""Feeds for partners and subscribers (WZDx, Waze CIFS, iCalendar): the read model through one adapter each."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from flask import current_app
from marshmallow import RAISE, fields, validate

from ..config import feed_horizon
from ..domain.crs import WGS84
from ..domain.errors import TooLarge
from ..feeds import FragmentMemo, Horizon, encode, in_crs
from ..feeds.ical import closure_calendar
from ..feeds import waze
from ..feeds.waze import waze_json, waze_xml
from ..feeds.wzdx import work_zone_feed
from ..auth import ANONYMOUS
from ..answers import Answer, lifetime, make_answer
from ..index import Entry, Snapshot
from ..pages import crs_note, public, select
from .answering import respond
from .bodies import ID_PATTERN
from .http import now, services
from .queries import ApiBlueprint, BBox, QuerySchema, crs_field
from .urls import absolute

blp = ApiBlueprint("feeds", __name__, url_prefix="/feeds",
                   description="Feeds in the formats partners and calendars already read")


def max_events() -> int:
    """FEED_MAX_EVENTS_PER_CLOSURE: no closure puts more road events into one feed, whatever is stored."""
    return int(services().settings["FEED_MAX_EVENTS_PER_CLOSURE"])


def max_total() -> int:
    """FEED_MAX_EVENTS: the road events one feed answer may hold, never below what one closure may put in."""
    settings = services().settings
    return max(int(settings["FEED_MAX_EVENTS"]), int(settings["FEED_MAX_EVENTS_PER_CLOSURE"]))


def horizon() -> Horizon:
    """The rolling horizon the feeds cover, from ROADWORKS_FEED_DAYS_BACK and _AHEAD."""
    return Horizon(*feed_horizon(services().settings))


class FeedQuerySchema(QuerySchema):
    """Subscribe to one street, one project or one area."""

    road = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "substring of the road"})
    project = fields.String(validate=validate.Regexp(ID_PATTERN))
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (in `crs`)"})
    crs = crs_field()


def _memo() -> FragmentMemo:
    return current_app.extensions["roadworks"].fragments


def _answer(query: dict, render, media_type: str, *, extra: tuple = (),
            next_change: Callable[[list[Entry], datetime, str], datetime | None] | None = None):
    """A feed over the published closures matching `query`, built once per change and kept until the next.

    Built from the published closures, it holds until a status among them changes, a draft among the
    matches goes public, the horizon slides, or the format's own next change (`next_change`) comes.
    """
    def build(snapshot: Snapshot, who, at: datetime) -> Answer:
        crs = query.get("crs", WGS84)
        matching = select(snapshot, query)
        entries = in_crs(public(matching, at), crs, _memo())
        try:
            body = render(entries, at, crs)
        except TooLarge as error:
            # Each closure's events depend on the horizon's day alone, and a publication only adds: the same
            # query stays too large at this change sequence until the horizon slides.
            error.until = horizon().next_move(at)
            raise
        note, headers = crs_note(crs)
        if isinstance(body, dict):
            body = encode({**body, **note})
        more = next_change(entries, at, crs) if next_change else None
        life = lifetime(snapshot, matching, ANONYMOUS, at, also=(horizon().next_move(at), more))
        return make_answer(body, media_type, life, headers=headers)
    return respond(build, query, extra=extra)


@blp.route("/wzdx.geojson", methods=["GET"])
@blp.alt_response(200, content_type="application/geo+json", success=True, schema={"type": "object"})
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def wzdx(**query):
    """Work Zone Data Exchange 4.2 WorkZoneFeed: one road event per period and direction.

    A feed of more than FEED_MAX_EVENTS (default 20,000) road events is refused: 400 naming `bbox`.
    """
    settings = services().settings

    def render(entries, at, crs):
        return work_zone_feed(entries, at, horizon(), publisher=settings["PUBLISHER"] or "Roadworks",
                              contact=settings["CONTACT"] or None,
                              updated=_last_change(entries), memo=_memo(), crs=crs, max_events=max_events(),
                              max_total=max_total())

    return _answer(query, render, "application/geo+json")


@blp.route("/closures.ics", methods=["GET"])
@blp.alt_response(200, content_type="text/calendar", success=True, schema={"type": "string"})
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def calendar(**query):
    """iCalendar (RFC 5545): one event per period in effect, for a street, a project or an area.

    A feed of more than FEED_MAX_EVENTS (default 20,000) road events is refused: 400 naming `bbox`.
    """
    map_url = absolute("map/")  # the public base, never the Host header: this answer is cached
    return _answer(query, lambda entries, at, crs: closure_calendar(entries, at, horizon(), map_url=map_url,
                                                                   memo=_memo(), crs=crs, max_events=max_events(),
                                                                   max_total=max_total()),
                   "text/calendar", extra=(map_url,))


@blp.route("/waze.json", methods=["GET"])
@blp.alt_response(200, content_type="application/json", success=True, schema={"type": "object"})
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def waze_incidents_json(**query):
    """Waze Closure and Incident Feed (CIFS), JSON form: one incident per period, linked by parent_event.

    A feed of more than FEED_MAX_EVENTS (default 20,000) road events is refused: 400 naming `bbox`.
    """
    return _answer(query, lambda entries, at, crs: waze_json(entries, at, horizon(), memo=_memo(), crs=crs,
                                                               max_events=max_events(), max_total=max_total()),
                   "application/json", next_change=_waze_change)


@blp.route("/waze.xml", methods=["GET"])
@blp.alt_response(200, content_type="application/xml", success=True, schema={"type": "string"})
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def waze_incidents_xml(**query):
    """Waze Closure and Incident Feed (CIFS), XML form, valid against the CIFS v2 XSD.

    A feed of more than FEED_MAX_EVENTS (default 20,000) road events is refused: 400 naming `bbox`.
    """
    return _answer(query, lambda entries, at, crs: waze_xml(entries, at, horizon(), memo=_memo(), crs=crs,
                                                              max_events=max_events(), max_total=max_total()),
                   "application/xml", next_change=_waze_change)


def _waze_change(entries: list[Entry], at: datetime, crs: str) -> datetime | None:
    return waze.next_change(entries, at, horizon(), memo=_memo(), crs=crs)


def _last_change(entries: list[Entry]) -> datetime | None:
    """When the data last changed as anyone sees it: the last public write or a publication among `entries`
    (never a hidden draft's save), or, for data loaded in bulk without history, the newest closure."""
    at = now()
    last = lifetime(services().index.snapshot(), entries, ANONYMOUS, at, at=at).changed_at
    return last or max((e.view.closure.updated_at for e in entries), default=None)
