"""iCalendar (RFC 5545) feed: one VEVENT per period in effect, for residents' calendar subscriptions.

Built with the `icalendar` package. Choices:
- One VEVENT per period (not RRULE/EXDATE): pauses, actual start/end and weekly hours already resolve
  into exact periods, and listing them is exact by construction in every client.
- Times carry the project's TZID, with a VTIMEZONE for every zone used, so clients show local time.
- UIDs are built from what does not move with the rolling horizon (closure, window, period start), so a
  subscriber's client keeps the same event across refreshes; SEQUENCE is the closure's version.
- Cancelled closures and drafts not yet published are left out: a subscribed calendar is replaced as a
  whole on refresh, so an event that disappears is removed, while a STATUS:CANCELLED event would stay on
  view (struck through at best) in many clients. Every listed event is therefore STATUS:CONFIRMED.
- DTSTAMP is the closure's last change (RFC 5545 3.8.7.2: without METHOD it is the last revision), not
  the request time, so the bytes, and the ETag, stay the same until something changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable
from urllib.parse import urlencode

from icalendar import Calendar, Event, Timezone, vGeo

from ..domain.crs import WGS84
from ..domain.schedule import Period
from ..index import Entry
from . import MAX_EVENTS, FragmentMemo, Horizon, feed_periods, within_cap

PRODID = "-//Roadworks//Road closures//ZH"
# How the road is affected, in the residents' words (the default language of the service is Chinese).
IMPACT = {"closed": "封闭", "lanes-closed": "部分车道封闭", "alternating": "单车道双向交替通行",
          "restricted": "限制通行"}
DIRECTION = {"both": "双向", "forward": "单向", "backward": "单向"}
REFRESH = timedelta(hours=1)


def closure_calendar(entries: Iterable[Entry], now: datetime, horizon: Horizon, *, map_url: str,
                     name: str = "Roadworks", memo: FragmentMemo | None = None, crs: str = WGS84,
                     max_events: int | None = MAX_EVENTS) -> bytes:
    """The VCALENDAR of `entries`' periods in effect over `horizon` as seen at `now`, as bytes (UTF-8, CRLF).

    Filtering (road, project, bbox) is the caller's: pass only the entries wanted. With a `memo` (`entries`
    being in `crs`), each closure's events are rendered once per version, horizon and map URL, so a new
    area or road costs a join of kept parts. No closure lists more than `max_events` events.
    """
    bounds = horizon.bounds(now)
    parts = []
    for entry in entries:
        if not _listed(entry, now):
            continue
        if memo is None:
            part = closure_part(entry, now, horizon, map_url, max_events)
        else:
            part = memo.get("ics", entry, crs, (bounds, map_url, max_events),
                            lambda entry=entry: closure_part(entry, now, horizon, map_url, max_events))
        if part.events:
            parts.append(part)
    return _joined(_calendar(name), parts)


@dataclass(frozen=True)
class Part:
    """One closure's VEVENTs as bytes, with what the calendar around them needs: zones used and time span."""

    events: bytes
    tzids: frozenset[str]
    first: datetime | None
    last: datetime | None


def closure_part(entry: Entry, now: datetime, horizon: Horizon, map_url: str, max_events: int | None) -> Part:
    events = closure_events(entry, now, horizon, map_url=map_url, max_events=max_events)
    if not events:
        return Part(b"", frozenset(), None, None)
    holder = Calendar()
    for event in events:
        holder.add_component(event)
    return Part(b"".join(e.to_ical() for e in events), frozenset(holder.get_used_tzids() - {"UTC"}),
                min(e.decoded("dtstart") for e in events), max(e.decoded("dtend") for e in events))


def _joined(cal: Calendar, parts: list[Part]) -> bytes:
    """The calendar with a VTIMEZONE for every zone used (covering the events' days, with a margin), then the events.

    Byte for byte what adding the events and then `add_missing_timezones` writes, zones in name order.
    """
    if parts:
        first = (min(p.first for p in parts) - timedelta(days=1)).date()
        last = (max(p.last for p in parts) + timedelta(days=2)).date()
        for tzid in sorted(set().union(*(p.tzids for p in parts))):
            try:
                cal.add_component(Timezone.from_tzid(tzid, first_date=first, last_date=last))
            except ValueError:  # a zone icalendar does not know goes without VTIMEZONE, as before
                continue
    end = b"END:VCALENDAR\r\n"
    return cal.to_ical().removesuffix(end) + b"".join(p.events for p in parts) + end


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("name", name)  # RFC 7986's NAME; X-WR-CALNAME is what most clients still read
    # Ask subscribers to refresh hourly (RFC 7986; X-PUBLISHED-TTL for Outlook and Apple).
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    return cal


def _listed(entry: Entry, now: datetime) -> bool:
    """Published and not cancelled: see the module docstring for why cancelled closures are left out."""
    published = entry.published_at is None or entry.published_at <= now
    return published and not entry.view.closure.cancelled


def closure_events(entry: Entry, now: datetime, horizon: Horizon, *, map_url: str,
                   max_events: int | None = MAX_EVENTS) -> list[Event]:
    """One VEVENT per period of one closure, in time order, at most `max_events` of them."""
    texts = _texts(entry)
    periods, _ = within_cap(entry, feed_periods(entry, now, horizon), 1, 1, max_events, horizon.today(now))
    return [_event(entry, period, texts, map_url) for period in periods]


def _event(entry: Entry, period: Period, texts: dict[str, str], map_url: str) -> Event:
    closure = entry.view.closure
    event = Event()
    event.add("uid", event_uid(closure.id, period))
    event.add("sequence", closure.version)
    stamp = _utc(closure.updated_at or period.start)
    event.add("dtstamp", stamp)
    event.add("last-modified", stamp)
    if closure.created_at is not None:
        event.add("created", _utc(closure.created_at))
    event.add("dtstart", period.start)
    event.add("dtend", period.end)
    event.add("summary", texts["summary"])
    event.add("location", texts["location"])
    event.add("description", _description(texts["description"], period))
    event.add("url", _map_link(map_url, closure.id))
    event.add("status", "CONFIRMED")
    # A closed road does not make the resident busy.
    event.add("transp", "TRANSPARENT")
    event.add("geo", _geo(entry))
    return event


def event_uid(closure_id: str, period: Period) -> str:
    """Stable across renders and horizon moves: a period is known by its closure, window and start."""
    start = period.start.astimezone(timezone.utc)
    return f"{closure_id}-{period.window}-{start:%Y%m%dT%H%M%SZ}@roadworks"


def _texts(entry: Entry) -> dict[str, str]:
    closure, project = entry.view.closure, entry.view.project
    stretch = "—".join(x for x in (closure.from_, closure.to) if x)
    location = " ".join(x for x in (closure.road, stretch) if x)
    impact = IMPACT.get(closure.impact, closure.impact)
    if closure.direction != "both" and closure.impact != "alternating":
        impact = f"{DIRECTION[closure.direction]}{impact}"
    lines = [closure.description,
             f"绕行：{closure.detour}" if closure.detour else None,
             f"责任单位：{project.agency}" + (f"（{project.contact}）" if project.contact else ""),
             f"工程：{project.name}"]
    return {"summary": f"{impact}：{location}", "location": location,
            "description": "\n".join(x for x in lines if x)}


def _description(text: str, period: Period) -> str:
    """The window's label (a phase, say) goes first: it tells one period from another of the same road."""
    return f"{period.label}\n{text}" if period.label else text


def _map_link(map_url: str, closure_id: str) -> str:
    # urlencode: ids are free text and may hold characters that must not break the query string.
    sep = "&" if "?" in map_url else "?"
    return f"{map_url}{sep}{urlencode({'closure': closure_id})}"


def _geo(entry: Entry) -> vGeo:
    """A point on the line (not a centroid, which for a bent street may lie off it)."""
    point = entry.shape.representative_point()
    return vGeo((round(point.y, 6), round(point.x, 6)))


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc)
