"""Feeds for partners and subscribers (WZDx, Waze CIFS, iCalendar): the read model through one adapter each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app, request
from marshmallow import RAISE, fields, validate

from ..config import DEFAULTS
from ..domain.crs import WGS84
from ..feeds import MAX_EVENTS, FragmentMemo, Horizon, encode, in_crs
from ..feeds.ical import closure_calendar
from ..feeds import waze
from ..feeds.waze import waze_json, waze_xml
from ..feeds.wzdx import work_zone_feed
from ..auth import ANONYMOUS
from ..index import Entry, Snapshot, last_visible_change, next_event_among
from .bodies import ID_PATTERN
from .http import actor, bytes_response, crs_mark, etag_for, now, seconds_until, services
from .listing import RenderCache, public, query_key, select
from .queries import ApiBlueprint, BBox, QuerySchema, crs_field
from .urls import absolute

blp = ApiBlueprint("feeds", __name__, url_prefix="/feeds",
                   description="Feeds in the formats partners and calendars already read")


def max_events() -> int:
    """FEED_MAX_EVENTS_PER_CLOSURE: no closure puts more road events into one feed, whatever is stored."""
    return int(services().settings.get("FEED_MAX_EVENTS_PER_CLOSURE", MAX_EVENTS))


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


@dataclass(frozen=True)
class Rendered:
    """One feed's bytes and until when they stay true."""

    body: bytes
    etag: str
    headers: dict | None
    computed_at: datetime
    expires_at: datetime | None
    max_age_until: datetime | None = None  # what clients are told: the next change among published closures


class FeedCache(RenderCache):
    """Rendered feeds by (feed, change sequence, query), within its share of ANSWER_CACHE_BYTES.

    A city's WZDx feed takes seconds and tens of megabytes to build; partners poll it all day.
    """

    def __init__(self, budget: int | None = None):
        super().__init__(RenderCache.share_of(DEFAULTS, "feeds") if budget is None else budget)


@blp.record_once
def _make_caches(state) -> None:
    """The feed caches, sized from the settings once when the blueprint joins the app."""
    settings = state.app.extensions["roadworks"].settings
    state.app.extensions["roadworks_feeds"] = FeedCache(RenderCache.share_of(settings, "feeds"))
    # Each closure's part of every feed, kept across writes: a write re-renders only what it changed.
    state.app.extensions["roadworks_feed_parts"] = FragmentMemo(int(settings["FRAGMENT_CACHE_BYTES"]))


def _cache() -> FeedCache:
    return current_app.extensions["roadworks_feeds"]


def _memo() -> FragmentMemo:
    return current_app.extensions["roadworks_feed_parts"]


def _expiry(entries: list[Entry], at: datetime, more: datetime | None) -> datetime:
    """The first change among these closures, a format's own (`more`), or the horizon sliding, whichever first.

    Over every matching closure, drafts included, it is when our cache must drop the feed (a draft appears at
    its publish_at); over the published ones only, it is what clients may be told (max-age).
    """
    return min(c for c in (next_event_among(entries, at), horizon().next_move(at), more) if c is not None)


def _render(query: dict, render, at: datetime, snapshot: Snapshot, next_change) -> Rendered:
    crs = query.get("crs", WGS84)
    matching = select(snapshot, query)  # drafts among them bound the expiry: they go public by themselves
    entries = in_crs(public(matching, at), crs, _memo())
    body = render(entries, at, crs)
    headers = crs_mark(crs, body)
    if isinstance(body, dict):
        body = encode(body)
    more = next_change(entries, at, crs) if next_change else None
    # Our cache keeps it until a draft among the matches goes public; clients hear only of what they see.
    return Rendered(body, etag_for(body), headers, at, _expiry(matching, at, more), _expiry(entries, at, more))


def _answer(query: dict, render, mimetype: str, *, extra_key: str = "",
            next_change: Callable[[list[Entry], datetime, str], datetime | None] | None = None):
    """A feed over the published closures matching `query`, built once per change and kept until the next."""
    actor()  # a bad token is refused on every read
    at, snapshot = now(), services().index.snapshot()
    key = (request.endpoint, snapshot.seq, query_key(query), extra_key)
    rendered = _cache().get(key, at, lambda: _render(query, render, at, snapshot, next_change))
    return bytes_response(rendered.body, rendered.etag, mimetype=mimetype,
                          max_age=seconds_until(rendered.max_age_until, at), headers=rendered.headers)


@blp.route("/wzdx.geojson", methods=["GET"])
@blp.alt_response(200, content_type="application/geo+json", success=True, schema={"type": "object"})
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def wzdx(**query):
    """Work Zone Data Exchange 4.2 WorkZoneFeed: one road event per period and direction."""
    settings = services().settings

    def render(entries, at, crs):
        return work_zone_feed(entries, at, horizon(), publisher=settings.get("PUBLISHER") or "Roadworks",
                              contact=settings.get("CONTACT") or None,
                              updated=_last_change(entries), memo=_memo(), crs=crs, max_events=max_events())

    return _answer(query, render, "application/geo+json")


@blp.route("/closures.ics", methods=["GET"])
@blp.alt_response(200, content_type="text/calendar", success=True, schema={"type": "string"})
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def calendar(**query):
    """iCalendar (RFC 5545): one event per period in effect, for a street, a project or an area."""
    map_url = absolute("map/")  # the public base, never the Host header: this answer is cached
    return _answer(query, lambda entries, at, crs: closure_calendar(entries, at, horizon(), map_url=map_url,
                                                                   memo=_memo(), crs=crs, max_events=max_events()),
                   "text/calendar", extra_key=map_url)


@blp.route("/waze.json", methods=["GET"])
@blp.alt_response(200, content_type="application/json", success=True, schema={"type": "object"})
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def waze_incidents_json(**query):
    """Waze Closure and Incident Feed (CIFS), JSON form: one incident per period, linked by parent_event."""
    return _answer(query, lambda entries, at, crs: waze_json(entries, at, horizon(), memo=_memo(), crs=crs,
                                                               max_events=max_events()),
                   "application/json", next_change=_waze_change)


@blp.route("/waze.xml", methods=["GET"])
@blp.alt_response(200, content_type="application/xml", success=True, schema={"type": "string"})
@blp.arguments(FeedQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def waze_incidents_xml(**query):
    """Waze Closure and Incident Feed (CIFS), XML form, valid against the CIFS v2 XSD."""
    return _answer(query, lambda entries, at, crs: waze_xml(entries, at, horizon(), memo=_memo(), crs=crs,
                                                              max_events=max_events()),
                   "application/xml", next_change=_waze_change)


def _waze_change(entries: list[Entry], at: datetime, crs: str) -> datetime | None:
    return waze.next_change(entries, at, horizon(), memo=_memo(), crs=crs)


def _last_change(entries: list[Entry]) -> datetime | None:
    """When the data last changed as anyone sees it: the last public write or a publication among `entries`
    (never a hidden draft's save), or, for data loaded in bulk without history, the newest closure."""
    at = now()
    last = last_visible_change(services().index.snapshot(), entries, ANONYMOUS, at, at, statuses=False)
    return last or max((e.view.closure.updated_at for e in entries), default=None)
