"""iCalendar (RFC 5545) feed: one VEVENT per period in effect, for residents' calendar subscriptions.

Events are written line by line as the `icalendar` package writes them, the rest by it. Choices:
- One VEVENT per period (not RRULE/EXDATE): pauses, actual start/end and weekly hours already resolve
  into exact periods, and listing them is exact by construction in every client.
- Times carry the project's TZID, with a VTIMEZONE for every zone used, so clients show local time.
- UIDs are built from what does not move with the rolling horizon (closure, window, period start), so a
  subscriber's client keeps the same event across refreshes; SEQUENCE is the closure's version.
- Until further notice: RFC 5545 has no open end for a VEVENT (without DTEND a timed event ends where it
  starts), so an open-ended period keeps a DTEND at the end of the feed's horizon, which moves on with it,
  and its DESCRIPTION begins with 结束时间另行通知 (end to be announced), as the map says.
- Cancelled closures and drafts not yet published are left out: a subscribed calendar is replaced as a
  whole on refresh, so an event that disappears is removed, while a STATUS:CANCELLED event would stay on
  view (struck through at best) in many clients. Every listed event is therefore STATUS:CONFIRMED.
- Each VTIMEZONE comes from the icalendar library, with the onsets of its observances set to the wall
  time before the change (RFC 5545 3.6.5: DTSTART is read in TZOFFSETFROM), since the library writes the
  wall time after a spring change (Europe/Berlin 03:00 for 02:00), which puts the change an hour late for
  a reader that goes by the file's own definitions.
- DTSTAMP is the closure's last change (RFC 5545 3.8.7.2: without METHOD it is the last revision), not
  the request time, so the bytes, and the ETag, stay the same until something changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone
from typing import Iterable
from urllib.parse import urlencode

from icalendar import Calendar, Event, Timezone
from icalendar.prop import vDDDLists, vDDDTypes
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..domain.crs import WGS84
from ..domain.schedule import Period
from ..index import Entry
from . import MAX_EVENTS, FragmentMemo, Horizon, Tally, shown_periods

PRODID = "-//Roadworks//Road closures//ZH"
# How the road is affected, in the residents' words (the default language of the service is Chinese).
IMPACT = {"closed": "封闭", "lanes-closed": "部分车道封闭", "alternating": "单车道双向交替通行",
          "restricted": "限制通行"}
DIRECTION = {"both": "双向", "forward": "单向", "backward": "单向"}
REFRESH = timedelta(hours=1)


def closure_calendar(entries: Iterable[Entry], now: datetime, horizon: Horizon, *, map_url: str,
                     name: str = "Roadworks", memo: FragmentMemo | None = None, crs: str = WGS84,
                     max_events: int | None = MAX_EVENTS, max_total: int | None = None) -> bytes:
    """The VCALENDAR of `entries`' periods in effect over `horizon` as seen at `now`, as bytes (UTF-8, CRLF).

    Filtering (road, project, bbox) is the caller's: pass only the entries wanted. With a `memo` (`entries`
    being in `crs`), each closure's events are rendered once per version, periods shown and map URL, so a
    new area, road or day costs a join of kept parts. No closure lists more than `max_events` events, and
    the calendar no more than `max_total` (FEED_MAX_EVENTS: TooLarge past it).
    """
    parts, tally = [], Tally(max_total)
    for entry in entries:
        if not _listed(entry, now):
            continue
        periods, _ = shown_periods(entry, now, horizon, 1, 1, max_events)
        tally.add(len(periods))
        if memo is None:
            part = closure_part(entry, periods, map_url)
        else:
            part = memo.get("ics", entry, crs, (periods, map_url),
                            lambda entry=entry, periods=periods: closure_part(entry, periods, map_url))
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


def closure_part(entry: Entry, periods: tuple[Period, ...], map_url: str) -> Part:
    """One VEVENT per period, in time order, written as the icalendar library writes them.

    The library's generic serialiser costs about a millisecond an event; here each line is formatted
    directly, and the lines that do not change from one period to the next are formatted once.
    """
    if not periods:
        return Part(b"", frozenset(), None, None)
    closure = entry.view.closure
    texts = _texts(entry)
    stamp = _utc_text(closure.updated_at) if closure.updated_at is not None else None
    point = entry.shape.representative_point()
    middle = _line("SEQUENCE", str(closure.version))
    if closure.created_at is not None:
        middle += _line("CREATED", _utc_text(closure.created_at))
    geo = _line("GEO", f"{float(round(point.y, 6))};{float(round(point.x, 6))}")
    tail = "".join((_line("LOCATION", escape(texts["location"])), _line("STATUS", "CONFIRMED"),
                    # A closed road does not make the resident busy.
                    _line("TRANSP", "TRANSPARENT"), _line("URL", _map_link(map_url, closure.id)), "END:VEVENT\r\n"))
    head = "BEGIN:VEVENT\r\n" + _line("SUMMARY", escape(texts["summary"]))
    descriptions: dict[tuple[str | None, bool], str] = {}
    tzids, out = set(), []
    for period in periods:
        # DTSTAMP is the closure's last change, or, for a closure without one, the period's start.
        at = stamp or _utc_text(period.start)
        dtstamp, modified = _line("DTSTAMP", at), _line("LAST-MODIFIED", at)
        description = descriptions.get((period.label, period.open_end))
        if description is None:
            description = descriptions[period.label, period.open_end] = _line(
                "DESCRIPTION", escape(_description(texts["description"], period)))
        start, tzid = _date_time("DTSTART", period.start)
        end, end_tzid = _date_time("DTEND", period.end)
        tzids.update((tzid, end_tzid))
        out.append("".join((head, start, end, dtstamp, _line("UID", escape(event_uid(closure.id, period))),
                            middle, description, geo, modified, tail)))
    return Part("".join(out).encode("utf-8"), frozenset(tzids - {None, "UTC"}),
                min(p.start for p in periods), max(p.end for p in periods))


def escape(text: str) -> str:
    """RFC 5545 TEXT escaping, as the icalendar library does it (every line break becomes `\\n`)."""
    return (text.replace("\\N", "\n").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _line(name: str, value: str) -> str:
    """One content line, folded at 75 octets as the icalendar library folds it, with its CRLF."""
    line = f"{name}:{value}"
    return (line if len(line.encode("utf-8")) < 75 else fold(line)) + "\r\n"


def fold(line: str, limit: int = 75) -> str:
    """Fold a line at `limit` octets (RFC 5545 3.1) without splitting a UTF-8 character or an escape.

    The library's rule, kept so the bytes match: a line takes characters while they stay under `limit`
    octets, and a backslash that would end a line moves on to the next one with what it escapes.
    """
    lines, current, count = [], [], 0
    for char in line:
        size = 1 if char < "\x80" else len(char.encode("utf-8"))
        if current and count + size >= limit:
            if len(current) > 1 and current[-1] in "\\^":
                carried = current.pop()
                lines.append("".join(current))
                current, count = [carried], 1
            else:
                lines.append("".join(current))
                current, count = [], 0
        current.append(char)
        count += size
    if current:
        lines.append("".join(current))
    return "\r\n ".join(lines)


@lru_cache(maxsize=64)
def _zone_form(tz) -> tuple[str, str, str | None]:
    """`_time_form` for a zone known by its key (as every project's is), whose TZID is the same all year."""
    return _time_form(datetime(2000, 1, 1, tzinfo=tz))


def _time_form(t: datetime) -> tuple[str, str, str | None]:
    """The parameters and suffix the icalendar library writes for the date-time `t`, and its TZID.

    Asked of the library itself, so zone names, equivalent ids and UTC come out as it writes them.
    """
    probe = Event()
    probe.add("dtstart", t)
    line = probe.content_line("DTSTART", probe["DTSTART"])
    value = f"{t.year:04}{t.month:02}{t.day:02}T{t.hour:02}{t.minute:02}{t.second:02}"
    at = line.rindex(":" + value)
    return line[len("DTSTART"):at], line[at + 1 + len(value):], probe["DTSTART"].params.get("TZID")


def _date_time(name: str, t: datetime) -> tuple[str, str | None]:
    # Without a key the library names the zone by its abbreviation, which changes with summer time.
    params, suffix, tzid = _zone_form(t.tzinfo) if getattr(t.tzinfo, "key", None) else _time_form(t)
    value = f"{t.year:04}{t.month:02}{t.day:02}T{t.hour:02}{t.minute:02}{t.second:02}{suffix}"
    return _line(name + params, value), tzid


def _utc_text(t: datetime) -> str:
    t = t.astimezone(timezone.utc)
    return f"{t.year:04}{t.month:02}{t.day:02}T{t.hour:02}{t.minute:02}{t.second:02}Z"


def _joined(cal: Calendar, parts: list[Part]) -> bytes:
    """The calendar with a VTIMEZONE for every zone used (covering the events' days, with a margin), then the events.

    Byte for byte what adding the events and then `add_missing_timezones` writes, zones in name order.
    """
    if parts:
        first = (min(p.first for p in parts) - timedelta(days=1)).date()
        last = (max(p.last for p in parts) + timedelta(days=2)).date()
        for tzid in sorted(set().union(*(p.tzids for p in parts))):
            try:
                cal.add_component(vtimezone(tzid, first, last))
            except ValueError:  # a zone icalendar does not know goes without VTIMEZONE, as before
                continue
    end = b"END:VCALENDAR\r\n"
    return cal.to_ical().removesuffix(end) + b"".join(p.events for p in parts) + end


@lru_cache(maxsize=256)
def vtimezone(tzid: str, first: date, last: date) -> Timezone:
    """The library's VTIMEZONE for `tzid` over [first, last], each onset written as RFC 5545 wants it."""
    component = Timezone.from_tzid(tzid, first_date=first, last_date=last)
    try:
        zone = ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        return component
    for observance in component.subcomponents:
        before, after = observance["TZOFFSETFROM"].td, observance["TZOFFSETTO"].td
        if before == after:  # the zone as it stands on the first day: no change, nothing to place
            continue
        observance["DTSTART"] = vDDDTypes(_onset(zone, observance["DTSTART"].dt, before, after))
        if "RDATE" in observance:
            dates = observance["RDATE"] if isinstance(observance["RDATE"], list) else [observance["RDATE"]]
            onsets = [_onset(zone, one.dt, before, after) for rdate in dates for one in rdate.dts]
            observance["RDATE"] = vDDDLists(onsets)
    return component


def _onset(zone, written: datetime, before: timedelta, after: timedelta) -> datetime:
    """The wall time, in the offset `before`, at which `zone` changes to `after` near the `written` wall time."""
    lo = (written - before - timedelta(days=1)).replace(tzinfo=timezone.utc)
    hi = lo + timedelta(days=2)
    if lo.astimezone(zone).utcoffset() != before or hi.astimezone(zone).utcoffset() != after:
        return written  # not the one change the library saw there: leave its value
    while hi - lo > timedelta(seconds=1):
        middle = lo + (hi - lo) / 2
        if middle.astimezone(zone).utcoffset() == before:
            lo = middle
        else:
            hi = middle
    return (hi.replace(microsecond=0) + before).replace(tzinfo=None)


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


# Says an event's end is only where the feed stops: the closure runs until further notice.
OPEN_END = "结束时间另行通知"


def _description(text: str, period: Period) -> str:
    """The window's label (a phase, say) goes first: it tells one period from another of the same road.
    An open end is said before anything else."""
    lines = [OPEN_END if period.open_end else None, period.label, text]
    return "\n".join(x for x in lines if x)


def _map_link(map_url: str, closure_id: str) -> str:
    # urlencode: ids are free text and may hold characters that must not break the query string.
    sep = "&" if "?" in map_url else "?"
    return f"{map_url}{sep}{urlencode({'closure': closure_id})}"
