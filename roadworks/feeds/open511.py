"""Open511 (v1) road events: each published closure as one CONSTRUCTION event, in JSON and XML.

Choices:
- The event id is `<jurisdiction>/<closure id>`; `status` is ACTIVE while the closure is active, paused or
  upcoming and ARCHIVED once it is completed or cancelled.
- The schedule is the closure's whole schedule, not a rolling horizon: Open511 keeps archived events, and an
  open end is an interval without end ("2024-09-01T00:00/"), Open511's own "until further notice". Times
  are local to the event's `timezone` (the project's zone), to the minute: the format's schema allows no
  seconds (intervals and daily times are HH:MM), so an interval is widened to whole minutes, its start
  rounded down and its end up (a window ending 18:29:45 is published as ending 18:30, never as 18:29,
  which would show the road open while it is still closed). A period ending at midnight ends at the next
  day's T00:00.
- Without weekly hours, `intervals` lists the domain's periods in effect (windows minus pauses, cut at the
  actual start and end), so a pause splits a window into separate intervals.
- With weekly hours, `recurring_schedules` repeat the hours over each stretch between pauses (a night
  crossing midnight is split in two, as a daily time cannot pass 23:59), and `exceptions` give the real
  times of every day on which the periods differ from that pattern (a mid-day start or reopening, say).
  Daily times have no 24:00: the end of a day is 23:59, which is Open511's own way of saying it (its
  reference library reads daily ranges with inclusive ends and takes 00:00-23:59 for a whole day).
- A cancelled closure keeps its planned schedule: its status, ARCHIVED, says it will not happen.
- `updated` is the latest of the last edit, the publication of a draft and the instant the event became
  ARCHIVED by itself, so a partner polling `updated>` sees it go.
`events_document` is the content model (the JSON form); `to_xml` writes any Open511 document as XML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable
from urllib.parse import quote

from lxml import etree

from ..domain.crs import WGS84, geometry_to
from ..domain.schedule import CANCELLED, COMPLETED, Hours, Period, Timeline, When, end_instant, start_instant
from ..index import Entry
from . import DAWN, TICK, final_period, in_effect as in_effect_between, stretches as bare_periods
from .ical import IMPACT
from .wzdx import cardinal

VERSION = "v1"
EVENTS_SERVICE = "http://open511.org/services/events/"
GML = "http://www.opengis.net/gml"
SRS = "urn:ogc:def:crs:EPSG::4326"
ACTIVE_EVENT, ARCHIVED_EVENT = "ACTIVE", "ARCHIVED"

SEVERITY = {"closed": "MAJOR", "lanes-closed": "MODERATE", "alternating": "MODERATE", "restricted": "MINOR"}
ROAD_STATE = {"closed": "CLOSED", "lanes-closed": "SOME_LANES_CLOSED", "alternating": "SINGLE_LANE_ALTERNATING",
              "restricted": "ALL_LANES_OPEN"}
CARDINAL = {"northbound": "N", "eastbound": "E", "southbound": "S", "westbound": "W"}
# Open511 daily times stop at 23:59; a day's last minute stands for midnight.
DAY_MINUTES = 24 * 60
# Hours repeat weekly, so after a schedule's last fixed edge a week and a day shows the whole pattern.
PATTERN_SETTLES = timedelta(days=8)


@dataclass(frozen=True)
class Links:
    """Where the Open511 resources live: `base` is the absolute URL of the API root (…/open511)."""

    base: str
    jurisdiction: str

    def event(self, closure_id: str) -> str:
        return f"{self.base}/events/{self.jurisdiction}/{quote(closure_id, safe='')}"

    @property
    def jurisdiction_url(self) -> str:
        return f"{self.base}/jurisdictions/{self.jurisdiction}"


# ---------------------------------------------------------------------------- documents

def events_document(events: list[dict], url: str, links: Links, pagination: dict | None = None) -> dict:
    """The Open511 JSON document of a list of events."""
    doc: dict[str, Any] = {"events": events}
    if pagination is not None:
        doc["pagination"] = pagination
    doc["meta"] = {"version": VERSION, "url": url, "up_url": f"{links.base}/"}
    return doc


def discovery_document(links: Links, name: str, url: str) -> dict:
    """The discovery resource: the one jurisdiction and the events service."""
    return {"jurisdictions": [{"id": links.jurisdiction, "name": name, "url": links.jurisdiction_url}],
            "services": [{"url": f"{links.base}/events", "service_type_url": EVENTS_SERVICE,
                          "supported_versions": [VERSION]}],
            "meta": {"version": VERSION, "url": url}}


def jurisdiction_resource(links: Links, *, name: str, email: str | None, zone: str, license_url: str) -> dict:
    """The jurisdiction resource; Open511 wants an e-mail address, so give one in the settings."""
    out = {"id": links.jurisdiction, "url": links.jurisdiction_url, "name": name}
    if email:
        out["email"] = email
    out.update({"timezone": zone, "distance_unit": "KILOMETRES",
                "geography_url": f"{links.jurisdiction_url}/geography", "license_url": license_url})
    return out


def paged(url_of, offset: int, limit: int, total: int) -> dict:
    """Open511 pagination: the offset, and links to the neighbouring pages (`url_of(offset)`)."""
    page: dict[str, Any] = {"offset": offset}
    if offset + limit < total:
        page["next_url"] = url_of(offset + limit)
    if offset > 0:
        page["previous_url"] = url_of(max(0, offset - limit))
    return page


# ---------------------------------------------------------------------------- one event

def event_status(entry: Entry, now: datetime) -> str:
    return ARCHIVED_EVENT if entry.status(now)[0] in (COMPLETED, CANCELLED) else ACTIVE_EVENT


def event(entry: Entry, now: datetime, links: Links, crs: str = WGS84) -> dict:
    """One closure as an Open511 event, as seen at `now`, its geography in `crs`."""
    view = entry.view
    closure, project = view.closure, view.project
    tz = entry.timeline.tz
    updated = updated_at(entry, now)
    out: dict[str, Any] = {
        "url": links.event(closure.id), "jurisdiction_url": links.jurisdiction_url,
        "id": f"{links.jurisdiction}/{closure.id}", "status": event_status(entry, now),
        "headline": headline(closure), "description": _description(closure, project),
        "event_type": "CONSTRUCTION", "event_subtypes": ["ROAD_CONSTRUCTION"],
        "severity": SEVERITY.get(closure.impact, "UNKNOWN"),
        "created": _stamp(closure.created_at or updated, tz), "updated": _stamp(updated, tz),
        "timezone": project.timezone,
    }
    if closure.detour:
        out["detour"] = closure.detour
    geometry = entry.closure.geometry
    out["roads"] = [_road(closure, geometry)]
    out["geography"] = geometry_to(geometry, crs)
    out["schedule"] = schedule(entry.timeline)
    return out


def headline(closure) -> str:
    """What happens where, in the residents' words: 封闭：东关大街 乐都路—共和路."""
    stretch = "—".join(x for x in (closure.from_, closure.to) if x)
    return f"{IMPACT.get(closure.impact, closure.impact)}：{' '.join(x for x in (closure.road, stretch) if x)}"


def _description(closure, project) -> str:
    lines = [closure.description, f"{project.name}（{project.agency}）",
             f"联系方式：{project.contact}" if project.contact else None]
    return "\n".join(x for x in lines if x)


def _road(closure, geometry: dict) -> dict:
    road: dict[str, Any] = {"name": closure.road}
    # From and to follow the way of travel: against the geometry they swap.
    begin, end = (closure.to, closure.from_) if closure.direction == "backward" else (closure.from_, closure.to)
    if begin:
        road["from"] = begin
    if end:
        road["to"] = end
    road["direction"] = "BOTH" if closure.direction == "both" else _heading(geometry, closure.direction)
    road["state"] = ROAD_STATE.get(closure.impact, "CLOSED")
    return road


def _heading(geometry: dict, direction: str) -> str:
    lines = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
    ends = [lines[0][0], lines[-1][-1]]
    return CARDINAL[cardinal(ends if direction == "forward" else ends[::-1])]


def updated_at(entry: Entry, now: datetime) -> datetime:
    """The last change of the event as published at `now` (see the module docstring)."""
    closure = entry.view.closure
    moments = [closure.updated_at, closure.created_at]
    if entry.published_at is not None and entry.published_at <= now:
        moments.append(entry.published_at)
    if entry.status(now)[0] == COMPLETED:
        # Completed: its last period has ended; found without listing every session before it.
        final = final_period(entry.timeline)
        moments.append(final.end if final is not None and final.end is not None and final.end <= now else None)
    return max((m for m in moments if m is not None), default=now)


def _stamp(t: datetime, tz) -> str:
    return t.astimezone(tz).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------------------- in effect

def in_effect(entry: Entry, start: When, end: When | None) -> bool:
    """Whether the closure is in effect at instant `start` (end None) or at some time in [start, end].

    A date is a whole local day in the closure's zone: as a start it begins at midnight, as an end it
    lasts through the day.
    """
    timeline = entry.timeline
    last = start if end is None else end
    until = last if isinstance(last, datetime) else end_instant(last, timeline.tz) - TICK
    return in_effect_between(timeline, start_instant(start, timeline.tz), until)


# ---------------------------------------------------------------------------- schedule

def schedule(timeline: Timeline) -> dict:
    """The Open511 schedule of a closure: intervals, or recurring schedules and exceptions with hours."""
    shown = _shown(timeline)
    if shown.schedule.hours:
        return recurring(shown)
    return {"intervals": [_interval(p, shown.tz) for p in shown.periods(DAWN, None)]}


def _shown(timeline: Timeline) -> Timeline:
    """The timeline whose periods the schedule lists: never empty, as Open511 needs at least one."""
    if timeline.cancelled:
        timeline = replace(timeline, cancelled=False)
    if _any_period(timeline):
        return timeline
    # Nothing left in effect (a reopening before the works began, a window all paused): show the plan.
    planned = Timeline(replace(timeline.schedule, pauses=()), timeline.tz)
    if _any_period(planned):
        return planned
    return Timeline(replace(timeline.schedule, pauses=(), hours=()), timeline.tz)


def _any_period(timeline: Timeline) -> bool:
    return next(iter(timeline.iter_periods(DAWN, None)), None) is not None


def _interval(period: Period, tz) -> str:
    end = "" if period.end is None else _local_minute(period.end, tz, up=True)
    return f"{_local_minute(period.start, tz)}/{end}"


def _local_minute(t: datetime, tz, up: bool = False) -> str:
    """The local minute holding `t`, or with `up` the first local minute not before it."""
    if up and (t.second or t.microsecond):
        t = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return t.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


Ranges = tuple[tuple[int, int], ...]  # minutes of the local day, [start, end), merged and sorted


def recurring(timeline: Timeline) -> dict:
    """Weekly hours over each stretch between pauses, with the days that differ from them as exceptions."""
    tz = timeline.tz
    stretches = _stretches(timeline)
    parts = daily_parts(timeline.schedule.hours)
    rules = []
    for first, last in stretches:
        for (start, end), days in parts.items():
            rule: dict[str, Any] = {"start_date": first.isoformat()}
            if last is not None:
                rule["end_date"] = last.isoformat()
            rule.update({"days": [d + 1 for d in sorted(days)], "daily_start_time": _clock(start),
                         "daily_end_time": _clock(end)})
            rules.append(rule)
    out: dict[str, Any] = {"recurring_schedules": rules}
    exceptions = _exceptions(timeline, stretches, parts, tz)
    if exceptions:
        out["exceptions"] = exceptions
    return out


def daily_parts(hours: Iterable[Hours]) -> dict[tuple[int, int], frozenset[int]]:
    """Hours as daily (start, end) minutes -> weekdays (0 = Monday); a night crossing midnight is split in two."""
    parts: dict[tuple[int, int], set[int]] = {}
    for h in hours:
        start = h.start.hour * 60 + h.start.minute
        end = DAY_MINUTES if h.ends_at_midnight else h.end.hour * 60 + h.end.minute
        if end > start:
            parts.setdefault((start, end), set()).update(h.days)
            continue
        parts.setdefault((start, DAY_MINUTES), set()).update(h.days)
        if end > 0:
            parts.setdefault((0, end), set()).update((d + 1) % 7 for d in h.days)
    return {k: frozenset(v) for k, v in sorted(parts.items())}


def _stretches(timeline: Timeline) -> list[tuple[date, date | None]]:
    """The local days of each stretch in effect if there were no hours: first day, last day (None: open)."""
    tz = timeline.tz
    out = []
    for p in bare_periods(timeline):
        last = None if p.end is None else (p.end.astimezone(tz) - timedelta(microseconds=1)).date()
        out.append((p.start.astimezone(tz).date(), last))
    return out


def _exceptions(timeline: Timeline, stretches, parts, tz) -> list[str]:
    """Every day, up to where the pattern settles, whose real periods differ from the recurring pattern.

    Only days that can differ are looked at: a week and a day around each stretch's first and last day,
    and the days around a clock change; elsewhere the hours repeat the pattern week after week.
    """
    if not stretches:
        return []
    first = stretches[0][0]
    edges = [d for s in stretches for d in s if d is not None]
    until = max(edges) + PATTERN_SETTLES
    near = [(d - timedelta(days=1), d + PATTERN_SETTLES) for d in edges]
    out = []
    for lo, hi in _merged_days([*near, *_clock_changes(first, until, tz)], first, until):
        real = _real_days(timeline, lo, hi, tz)
        day = lo
        while day <= hi:
            actual = real.get(day, ())
            if actual != _pattern_day(day, stretches, parts):
                out.append(" ".join([day.isoformat(), *(f"{_clock(a)}-{_clock(b)}" for a, b in actual)]))
            day += timedelta(days=1)
    return out


def _merged_days(ranges: list[tuple[date, date]], first: date, until: date) -> list[tuple[date, date]]:
    """Inclusive day ranges clipped to [first, until], overlapping or touching ones joined, in order."""
    out: list[list[date]] = []
    for lo, hi in sorted((max(lo, first), min(hi, until)) for lo, hi in ranges):
        if lo > hi:
            continue
        if out and lo <= out[-1][1] + timedelta(days=1):
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


# Offsets are sampled twice a month: a clock change between two samples is found by halving the gap.
_SAMPLE_DAYS = (1, 16)


def _clock_changes(first: date, until: date, tz) -> list[tuple[date, date]]:
    """A few days around every change of the zone's UTC offset from `first` through `until`."""
    def offset(day: date):
        return datetime.combine(day, time(12), tz).utcoffset()

    samples = [date(y, m, d) for y in range(first.year, until.year + 1) for m in range(1, 13) for d in _SAMPLE_DAYS]
    samples = [first, *(d for d in samples if first < d < until), until]
    out, before = [], offset(samples[0])
    for lo, hi in zip(samples, samples[1:]):
        after = offset(hi)
        if after != before:
            while (hi - lo).days > 1:  # the change lies after lo's noon and by hi's noon
                middle = lo + (hi - lo) / 2
                if offset(middle) == before:
                    lo = middle
                else:
                    hi = middle
            out.append((lo - timedelta(days=1), hi + timedelta(days=1)))
        before = after
    return out


def _pattern_day(day: date, stretches, parts) -> Ranges:
    """The minutes of `day` the recurring schedules put in effect, as a consumer reads them."""
    ranges = [span for first, last in stretches if first <= day and (last is None or day <= last)
              for span, days in parts.items() if day.weekday() in days]
    return _merged(ranges)


def _real_days(timeline: Timeline, first: date, until: date, tz) -> dict[date, Ranges]:
    """The domain's periods in effect from `first` through `until`, cut into local days."""
    lo = datetime.combine(first, time(0), tz)
    hi = datetime.combine(until + timedelta(days=1), time(0), tz)
    by_day: dict[date, list[tuple[int, int]]] = {}
    for p in timeline.periods(lo, hi):
        start = p.start.astimezone(tz).replace(tzinfo=None)
        end = (p.end or hi).astimezone(tz).replace(tzinfo=None)
        day = start.date()
        while datetime.combine(day, time(0)) < end and day <= until:
            midnight = datetime.combine(day, time(0))
            a = max(start, midnight) - midnight
            b = min(end, midnight + timedelta(days=1)) - midnight
            by_day.setdefault(day, []).append((int(a.total_seconds() // 60), math.ceil(b.total_seconds() / 60)))
            day += timedelta(days=1)
    return {d: _merged(r) for d, r in by_day.items()}


def _merged(ranges: Iterable[tuple[int, int]]) -> Ranges:
    out: list[list[int]] = []
    for a, b in sorted(ranges):
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def _clock(minutes: int) -> str:
    minutes = min(minutes, DAY_MINUTES - 1)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# ---------------------------------------------------------------------------- XML

def to_xml(document: dict) -> bytes:
    """An Open511 document as XML: lists become a container of singular elements, `*_url` members become
    <link rel=…> and GeoJSON geometries become GML 3 in lat lon order; `meta` becomes the root's links."""
    meta = document["meta"]
    root = etree.Element("open511", nsmap={"gml": GML}, version=meta["version"])
    for key, value in document.items():
        if key != "meta":
            _append(root, key, value)
    for key in ("url", "up_url"):
        if meta.get(key):
            _append(root, key, meta[key])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _append(parent: etree._Element, key: str, value: Any) -> None:
    if value is None:
        return
    if key == "url" or key.endswith("_url"):
        etree.SubElement(parent, "link", rel="self" if key == "url" else key[:-4], href=value)
        return
    node = etree.SubElement(parent, key)
    if isinstance(value, dict) and set(value) == {"type", "coordinates"}:
        node.append(gml(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            _append(node, k, v)
    elif isinstance(value, list):
        for item in value:
            _append(node, _singular(key), item)
    else:
        node.text = str(value)


def _singular(name: str) -> str:
    return name[:-3] + "y" if name.endswith("ies") else name[:-1]


def gml(geometry: dict, *, srs: bool = True) -> etree._Element:
    """A GeoJSON LineString, MultiLineString, Polygon or Point as GML (EPSG:4326 is lat, lon)."""
    kind, coords = geometry["type"], geometry["coordinates"]
    node = etree.Element(f"{{{GML}}}{kind}")
    if srs:
        node.set("srsName", SRS)
    if kind == "Point":
        etree.SubElement(node, f"{{{GML}}}pos").text = _positions([coords])
    elif kind == "LineString":
        etree.SubElement(node, f"{{{GML}}}posList").text = _positions(coords)
    elif kind == "Polygon":
        for i, ring in enumerate(coords):
            boundary = etree.SubElement(node, f"{{{GML}}}{'exterior' if i == 0 else 'interior'}")
            linear = etree.SubElement(boundary, f"{{{GML}}}LinearRing")
            etree.SubElement(linear, f"{{{GML}}}posList").text = _positions(ring)
    elif kind.startswith("Multi"):
        single = kind[5:]
        for part in coords:
            member = etree.SubElement(node, f"{{{GML}}}{single[0].lower()}{single[1:]}Member")
            member.append(gml({"type": single, "coordinates": part}, srs=False))
    else:
        raise ValueError(f"no GML for {kind}")
    return node


def _positions(points) -> str:
    return " ".join(f"{p[1]} {p[0]}" for p in points)
