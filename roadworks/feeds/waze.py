"""Waze CIFS v2 (Closure and Incident Feed Specification): each closure's periods in effect as incidents.

One incident per period and per part of the line, all of one closure sharing a `parent_event`:
- `type`/`subtype` follow the impact: a full closure is ROAD_CLOSED/ROAD_CLOSED_CONSTRUCTION; lane closures
  and alternating traffic are HAZARD/HAZARD_ON_ROAD_LANE_CLOSED with `lane_impact`; "open with limits" is
  HAZARD/HAZARD_ON_ROAD_CONSTRUCTION;
- the polyline is "lat lon" pairs in the order of travel (reversed for a `backward` closure), with
  `direction` BOTH_DIRECTIONS or ONE_DIRECTION;
- weekly hours become `schedule` on incidents spanning the whole window (not one incident per night), from
  its first session's start to its last session's end (`Timeline.without_hours`), so that the part of a
  night Waze reads on the day after (00:00-06:00) is neither closed before the first evening nor lost after
  the last one;
- date-times carry the project zone's explicit offset, to the second;
- a closure until further notice has no `endtime` (optional in the CIFS v2 XSD, and Waze keeps an incident
  without one until it leaves the feed), rather than an end invented at the feed's horizon;
- in `schedule`, a night crossing midnight ends its first day at 23:59, as Waze writes day ranges (its
  examples and its own feeds use HH:MM within one day); the last minute before midnight is in effect too;
- an incident leaves the feed once it ends, except that a reopened closure keeps its last incident, with
  the real end, for a day after reopening, so partners see it end rather than vanish.
Incident ids are built from what does not move with the rolling horizon (closure, window, period start,
part), so a partner sees the same id for the same incident on every request.
`incidents` is the content model; `waze_json` and `waze_xml` are its two forms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, time, timedelta

from lxml import etree

from ..budget import ByteLru
from ..domain.crs import WGS84
from ..domain.schedule import Hours, Period, zone
from ..index import Entry
from . import MAX_EVENTS, FragmentMemo, Horizon, Tally, dumps, feed_periods, part_count, raw_array, shown_periods

# How long a reopened closure's last incident stays in the feed after the real reopening.
REOPENED_GRACE = timedelta(days=1)

TYPES = {
    "closed": ("ROAD_CLOSED", "ROAD_CLOSED_CONSTRUCTION"),
    "lanes-closed": ("HAZARD", "HAZARD_ON_ROAD_LANE_CLOSED"),
    "alternating": ("HAZARD", "HAZARD_ON_ROAD_LANE_CLOSED"),
    "restricted": ("HAZARD", "HAZARD_ON_ROAD_CONSTRUCTION"),
}
# The data model does not record how many lanes close or on which side: one lane, on the right, unless
# the closure's extra properties say otherwise (`closed_lanes`, `roadside`).
LANE_IMPACTS = ("lanes-closed", "alternating")
DEFAULT_LANE_IMPACT = {"total_closed_lanes": 1, "roadside": "RIGHT"}
ROADSIDES = ("LEFT", "MIDDLE", "RIGHT")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Waze reads day ranges within one day: a night crossing midnight ends its first day at 23:59.
END_OF_DAY = "23:59"

# Element order of the CIFS v2 XSD (an xs:all, so any order validates; this is the documented one).
ORDER = ("parent_event", "creationtime", "updatetime", "source", "type", "subtype", "description", "street",
         "polyline", "direction", "lane_impact", "starttime", "endtime", "schedule")

Line = list[list[float]]
# What `to_xml` writes around the incidents, which are spliced in between when each is kept serialised.
XML_HEAD = b"<?xml version='1.0' encoding='UTF-8'?>\n<incidents>\n"
XML_TAIL = b"</incidents>\n"


def incidents(entries: Iterable[Entry], now: datetime, horizon: Horizon,
              max_events: int | None = MAX_EVENTS) -> list[dict]:
    """Every incident of `entries` as seen at `now` over `horizon`: the content both forms carry.

    Drafts not yet published and cancelled closures are left out. Each incident is a dict whose keys
    are the CIFS element names (in the XSD's order), with `id` first. No closure gives more than
    `max_events` incidents (FEED_MAX_EVENTS_PER_CLOSURE; None: no cap).
    """
    return [item for entry in _listed(entries, now) for item in closure_incidents(entry, now, horizon, max_events)]


def _listed(entries: Iterable[Entry], now: datetime) -> list[Entry]:
    """Drafts not yet published and cancelled closures are left out."""
    return [e for e in entries if _listed_one(e, now)]


def _listed_one(entry: Entry, now: datetime) -> bool:
    return (entry.published_at is None or entry.published_at <= now) and not entry.view.closure.cancelled


def waze_json(entries: Iterable[Entry], now: datetime, horizon: Horizon, *,
              memo: FragmentMemo | None = None, crs: str = WGS84, max_events: int | None = MAX_EVENTS,
              max_total: int | None = None) -> dict:
    """The CIFS JSON form: {"incidents": [...]}.

    With a `memo` (`entries` being in `crs`), each closure's incidents are serialised once per version
    and periods over the horizon, and `incidents` is `Raw`: write the feed with `encode`. With `max_total`
    (FEED_MAX_EVENTS), a feed that would hold more incidents is refused (TooLarge).
    """
    if memo is None:
        return {"incidents": _capped(incidents(entries, now, horizon, max_events), max_total)}
    parts = _kept(entries, now, horizon, memo, crs, "waze.json", _json_items, max_events, Tally(max_total))
    return {"incidents": raw_array(parts)}


def waze_xml(entries: Iterable[Entry], now: datetime, horizon: Horizon, *,
             memo: FragmentMemo | None = None, crs: str = WGS84, max_events: int | None = MAX_EVENTS,
             max_total: int | None = None) -> bytes:
    """The CIFS XML form (valid against cifsv2.xsd), UTF-8 with an XML declaration.

    With a `memo` (`entries` being in `crs`), each closure's incidents are serialised once per version.
    """
    if memo is None:
        return to_xml(_capped(incidents(entries, now, horizon, max_events), max_total))
    parts = _kept(entries, now, horizon, memo, crs, "waze.xml", _xml_items, max_events, Tally(max_total))
    return XML_HEAD + b"".join(parts) + XML_TAIL if any(parts) else to_xml([])


def _capped(items: list[dict], max_total: int | None) -> list[dict]:
    Tally(max_total).add(len(items))
    return items


def _json_items(items: list[dict]) -> bytes:
    return dumps(items)[1:-1]


def _xml_items(items: list[dict]) -> bytes:
    """The incidents' elements as `to_xml` indents them inside the root."""
    return to_xml(items)[len(XML_HEAD):-len(XML_TAIL)] if items else b""


def _kept(entries: Iterable[Entry], now: datetime, horizon: Horizon, memo: FragmentMemo, crs: str, kind: str,
          form, max_events: int | None, tally: Tally) -> list[bytes]:
    """Every listed closure's incidents shown at `now`, in `form`, each period's taken from the memo.

    What a period's incidents say depends on `now` only through the periods over the horizon (their key);
    whether they are shown at all is decided here, at every request, so the answer is exact at every instant.
    """
    out = []
    for entry in entries:
        if not _listed_one(entry, now):
            continue
        key = _periods(entry, now, horizon, max_events)
        tally.add(len(key[0]) * key[1])  # incidents: periods x parts; those already over are not shown
        reopened, periods = memo.get(kind, entry, crs, key,
                                     lambda entry=entry, key=key: _by_period(entry, *key, form))
        out.extend(part for period, part in periods if _shown(period, now, reopened))
    return out


def _by_period(entry: Entry, periods: tuple[Period, ...], kept: int, form) -> tuple[datetime | None, list]:
    reopened, found = _incidents_by_period(entry, periods, kept)
    return reopened, [(period, form(items)) for period, items in found]


def to_xml(items: list[dict]) -> bytes:
    root = etree.Element("incidents")
    for item in items:
        node = etree.SubElement(root, "incident", id=item["id"])
        for name in ORDER:
            if name not in item:
                continue
            value = item[name]
            if name == "parent_event":
                etree.SubElement(node, name, id=value["id"])
            elif isinstance(value, dict):
                child = etree.SubElement(node, name)
                for key, text in value.items():
                    etree.SubElement(child, key).text = str(text)
            else:
                etree.SubElement(node, name).text = str(value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ---------------------------------------------------------------------------- one closure

def closure_incidents(entry: Entry, now: datetime, horizon: Horizon,
                      max_events: int | None = MAX_EVENTS) -> list[dict]:
    """The incidents of one closure, in period and part order, at most `max_events` of them."""
    reopened, periods = _candidates(entry, now, horizon, max_events)
    return [item for period, items in periods if _shown(period, now, reopened) for item in items]


def _candidates(entry: Entry, now: datetime, horizon: Horizon,
                max_events: int | None) -> tuple[datetime | None, list]:
    """The real reopening, and each period over the horizon with its incidents, ended ones included."""
    return _incidents_by_period(entry, *_periods(entry, now, horizon, max_events))


def _periods(entry: Entry, now: datetime, horizon: Horizon, max_events: int | None) -> tuple[tuple[Period, ...], int]:
    """The periods over the horizon (hours left out) and how many parts of the line, under the cap."""
    return shown_periods(_without_hours(entry), now, horizon, 1, part_count(entry), max_events)


def _incidents_by_period(entry: Entry, periods: tuple[Period, ...], kept: int) -> tuple[datetime | None, list]:
    """The real reopening, and each of `periods` with its incidents over the first `kept` parts."""
    closure, project = entry.view.closure, entry.view.project
    tz = zone(project.timezone)
    _, reopened = closure.resolved_actuals(tz)
    if not periods:
        return reopened, []
    parts = _parts(entry.closure.geometry)
    if closure.direction == "backward":
        # Against the geometry, the parts are met in reverse order and each is run backwards.
        parts = [list(reversed(p)) for p in reversed(parts)]
    # Ids number the parts of the whole line, so a cut leaves the ids of the parts kept as they were.
    numbered = len(parts) > 1
    return reopened, [(period, [_incident(entry, period, line, _id(entry, period, k if numbered else None), tz)
                                for k, line in enumerate(parts[:kept])])
                      for period in periods]


def next_change(entries: Iterable[Entry], now: datetime, horizon: Horizon, *,
                memo: FragmentMemo | None = None, crs: str = WGS84) -> datetime | None:
    """The first instant after `now` when an incident leaves the feed without a status change.

    Incidents ignore working hours (they travel as `schedule`), and a reopened one stays a day.
    With a `memo`, each closure's period ends are worked out once per version and horizon.
    """
    moments, bounds = [], horizon.bounds(now)
    for entry in entries:
        if memo is None:
            grace_end, ends = _ends(entry, now, horizon)
        else:
            grace_end, ends = memo.get("waze.ends", entry, crs, bounds,
                                       lambda entry=entry: _ends(entry, now, horizon))
        if grace_end is not None and now < grace_end:
            moments.append(grace_end)
        moments.extend(end for end in ends if end > now)
    return min(moments, default=None)


def _ends(entry: Entry, now: datetime, horizon: Horizon) -> tuple[datetime | None, list[datetime]]:
    """When a reopened closure's grace runs out, and when each of its periods over the horizon ends."""
    _, reopened = entry.view.closure.resolved_actuals(zone(entry.view.project.timezone))
    grace_end = reopened + REOPENED_GRACE if reopened is not None else None
    return grace_end, [p.end for p in feed_periods(_without_hours(entry), now, horizon)]


def _without_hours(entry: Entry) -> Entry:
    """The entry with its weekly hours left out of the timeline: they travel as `schedule` instead."""
    timeline = entry.timeline
    if not timeline.schedule.hours:
        return entry
    found = _bare.get(id(timeline))
    if found is None or found[0] is not timeline:
        # Building a timeline resolves its windows again: kept per timeline, as feeds ask for it twice a render.
        found = (timeline, timeline.without_hours())
        _bare.put(id(timeline), found, _BARE_BYTES)
    return replace(entry, timeline=found[1], _status=None)


# Timelines without hours by the id of the timeline they come from (kept with it, so the id stays its own):
# about 3 KB a pair, old versions included, within 12 MiB.
_BARE_BYTES = 3 * 1024
_bare = ByteLru(4096 * _BARE_BYTES)


def _shown(period: Period, now: datetime, reopened: datetime | None) -> bool:
    if period.end > now:
        return True
    # Reopened: the incident ending at the real reopening stays a day, so partners see it end.
    return reopened is not None and period.end == reopened and now < reopened + REOPENED_GRACE


def _id(entry: Entry, period: Period, part: int | None) -> str:
    # The period's start and window never move with the horizon; only an open end does.
    base = f"{entry.id}:{period.window}:{int(period.start.timestamp())}"
    return base if part is None else f"{base}:{part}"


def parent_id(entry: Entry) -> str:
    return f"{entry.view.project.id}/{entry.id}"


def _incident(entry: Entry, period: Period, line: Line, id: str, tz) -> dict:
    closure, project = entry.view.closure, entry.view.project
    type_, subtype = TYPES[closure.impact]
    item: dict = {"id": id, "parent_event": {"id": parent_id(entry)}}
    if closure.created_at is not None:
        item["creationtime"] = stamp(closure.created_at, tz)
    if closure.updated_at is not None:
        item["updatetime"] = stamp(closure.updated_at, tz)
    item["source"] = {"reference": project.id, "name": project.agency}
    item.update({"type": type_, "subtype": subtype, "description": _description(closure),
                 "street": closure.road, "polyline": polyline(line),
                 "direction": "BOTH_DIRECTIONS" if closure.direction == "both" else "ONE_DIRECTION"})
    if closure.impact in LANE_IMPACTS:
        item["lane_impact"] = _lane_impact(closure)
    item["starttime"] = stamp(period.start, tz)
    if not period.open_end:
        item["endtime"] = stamp(period.end, tz)
    if closure.schedule.hours:
        item["schedule"] = schedule(closure.schedule.hours)
    return item


def _description(closure) -> str:
    stretch = " - ".join(s for s in (closure.from_, closure.to) if s)
    parts = [closure.description or (f"{closure.road} ({stretch})" if stretch else closure.road),
             f"Detour: {closure.detour}" if closure.detour else None]
    return "\n".join(p for p in parts if p)


def _lane_impact(closure) -> dict:
    extra = closure.extra or {}
    lanes, side = extra.get("closed_lanes"), extra.get("roadside")
    return {"total_closed_lanes": lanes if isinstance(lanes, int) and 0 <= lanes <= 99
            else DEFAULT_LANE_IMPACT["total_closed_lanes"],
            "roadside": side if side in ROADSIDES else DEFAULT_LANE_IMPACT["roadside"]}


def _parts(geometry: dict) -> list[Line]:
    coords = geometry["coordinates"]
    lines = [coords] if geometry["type"] == "LineString" else coords
    return [[[float(x) for x in p[:2]] for p in line] for line in lines]


def polyline(line: Line) -> str:
    """Space-separated "lat lon" pairs (GeoJSON is lon lat), six decimals."""
    return " ".join(f"{lat:.6f} {lon:.6f}" for lon, lat in line)


def stamp(t: datetime, tz) -> str:
    """ISO 8601 to the second with the zone's explicit offset, e.g. 2024-04-12T00:00:00+08:00."""
    return t.astimezone(tz).replace(microsecond=0).isoformat()


def schedule(hours: Iterable[Hours]) -> dict:
    """Weekly hours as CIFS day ranges; a night crossing midnight is split over the two days."""
    ranges: dict[int, list[tuple[str, str]]] = {d: [] for d in range(7)}
    for h in hours:
        start, end = _hm(h.start), _hm(h.end)
        crosses = h.ends_at_midnight or h.end <= h.start
        for day in sorted(h.days):
            ranges[day].append((start, END_OF_DAY if crosses else end))
            if crosses and not h.ends_at_midnight and h.end != time(0):
                ranges[(day + 1) % 7].append(("00:00", end))
    return {WEEKDAYS[d]: ",".join(f"{a}-{b}" for a, b in sorted(set(r))) for d, r in ranges.items() if r}


def _hm(t: time) -> str:
    return t.strftime("%H:%M")
