"""WZDx 4.2 Work Zone Feed: each closure's periods in effect, as LineString road events in UTC.

One road event per period, per direction of travel and per part of the line:
- `both` gives one event along the geometry and one against it (reversed coordinates);
- a MultiLineString gives one event per part, linked `first-in-sequence`/`next-in-sequence`;
- the periods of one closure (a pause splits a window) are linked `first-occurrence`/`next-occurrence`.
Until further notice: WZDx requires `end_date`, so an open-ended period ends at the feed's horizon with
`is_end_date_verified` false, WZDx 4.2's way of saying the end is an estimate (the deprecated
`end_date_accuracy` is not written).
Event ids are built from what does not move with the rolling horizon (closure, window, period start,
direction, part), so a partner sees the same id for the same event on every request.
No closure puts more than FEED_MAX_EVENTS_PER_CLOSURE events in: writes past it are refused, and one
stored past it is cut at it, whole periods from today on (see `within_cap`), its links left valid.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from json.encoder import encode_basestring

from ..domain.crs import WGS84
from ..domain.schedule import Period, zone
from ..index import Entry
from . import MAX_EVENTS, FragmentMemo, Horizon, Tally, dumps, part_count, raw_array, shown_periods

WZDX_VERSION = "4.2"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"

VEHICLE_IMPACT = {
    "closed": "all-lanes-closed",
    "lanes-closed": "some-lanes-closed",
    "alternating": "alternating-one-way",
    # "Open with limits": every lane stays open; the limits are told in the description.
    "restricted": "all-lanes-open",
}
# The way of travel each closure direction publishes, relative to the geometry's point order.
TRAVEL = {"forward": ("forward",), "backward": ("backward",), "both": ("forward", "backward")}
CARDINALS = ("northbound", "eastbound", "southbound", "westbound")

Line = list[list[float]]


def work_zone_feed(entries: Iterable[Entry], now: datetime, horizon: Horizon, *, publisher: str,
                   contact: str | None, update_frequency: int = 60, updated: datetime | None = None,
                   memo: FragmentMemo | None = None, crs: str = WGS84, max_events: int | None = MAX_EVENTS,
                   max_total: int | None = None) -> dict:
    """The WorkZoneFeed for `entries` as seen at `now` over `horizon` (drafts not yet published left out).

    `updated` is when the data last changed (default `now`): the feed's bytes, and so its ETag, then
    stay the same between changes. With a `memo` (`entries` being in `crs`), each closure's events are
    serialised once per version and periods shown, and `features` is `Raw`: write the feed with `encode`.
    No closure puts more than `max_events` events in (FEED_MAX_EVENTS_PER_CLOSURE; None: no cap), and
    the feed no more than `max_total` (FEED_MAX_EVENTS: TooLarge past it; None: no cap).
    """
    shown = [e for e in entries if e.published_at is None or e.published_at <= now]
    tally = Tally(max_total)
    if memo is None:
        features = []
        for entry in shown:
            events = closure_events(entry, now, horizon, max_events)
            tally.add(len(events))
            features += events
    else:
        items = []
        for e in shown:
            key = _shown(e, now, horizon, max_events)
            tally.add(len(key[0]) * len(TRAVEL[e.view.closure.direction]) * key[1])
            items.append(memo.get("wzdx", e, crs, key, lambda e=e, key=key: _serialised(e, *key)))
        features = raw_array(items)
    return {
        "feed_info": feed_info(shown, updated or now, publisher, contact, update_frequency),
        "type": "FeatureCollection",
        "features": features,
    }


def feed_info(entries: list[Entry], now: datetime, publisher: str, contact: str | None,
              update_frequency: int) -> dict:
    """Feed header: one data source per project, so every event's `data_source_id` is listed."""
    info = {"publisher": publisher, "version": WZDX_VERSION, "license": CC0,
            "update_frequency": update_frequency, "update_date": utc(now),
            **_contact(contact), "data_sources": _data_sources(entries, publisher, contact)}
    return info


def _data_sources(entries: list[Entry], publisher: str, contact: str | None) -> list[dict]:
    projects = {e.view.project.id: e.view.project for e in entries}
    sources = [{"data_source_id": p.id, "organization_name": p.agency, **_contact(p.contact)}
               for _, p in sorted(projects.items())]
    # The schema wants at least one source, even in a feed with no events.
    return sources or [{"data_source_id": "roadworks", "organization_name": publisher, **_contact(contact)}]


def _contact(contact: str | None) -> dict:
    """WZDx has an e-mail field and a name field; a phone hotline can only go in the name."""
    if not contact:
        return {}
    return {"contact_email": contact} if "@" in contact and " " not in contact else {"contact_name": contact}


def _serialised(entry: Entry, periods: tuple[Period, ...], kept: int) -> bytes:
    """`dumps(_events(entry, periods, kept))[1:-1]`, byte for byte, from members serialised once each.

    Most of an event is the same in every event of its closure, and its line the same in every period:
    those are serialised once and the events put together from them, in the order `_event` builds them.
    """
    if not periods:
        return b""
    closure, project = entry.view.closure, entry.view.project
    began, reopened = closure.resolved_actuals(zone(project.timezone))
    travels = TRAVEL[closure.direction]
    parts = _parts(entry.closure.geometry)[:kept]
    head = '{"core_details":{' + _members({"data_source_id": project.id, "event_type": "work-zone",
                                          "road_names": [closure.road]})
    text = "," + _members({"name": _name(closure), **_text(closure), **_dates(closure)})
    rest = "," + _members({"is_start_position_verified": False, "is_end_position_verified": False,
                           "vehicle_impact": VEHICLE_IMPACT.get(closure.impact, "unknown"),
                           "location_method": "other", "work_zone_type": "static"})
    lines = {}  # (travel, k) -> (direction member, cross streets, geometry and bbox), as in `_event`
    for travel in travels:
        ordered = parts if travel == "forward" else [list(reversed(p)) for p in reversed(parts)]
        begin, end = (closure.from_, closure.to) if travel == "forward" else (closure.to, closure.from_)
        for k, line in enumerate(ordered):
            cross = {}
            if k == 0 and begin:
                cross["beginning_cross_street"] = begin
            if k == len(ordered) - 1 and end:
                cross["ending_cross_street"] = end
            lines[travel, k] = (f',"direction":{encode_basestring(cardinal(line))}',
                                "," + _members(cross) if cross else "",
                                f'}},"geometry":{{"type":"LineString","coordinates":{_json(line)}}},'
                                f'"bbox":{_json(_bbox(line))}}}')
    bases = [encode_basestring(f"{entry.id}:{p.window}:{int(p.start.timestamp())}:")[:-1] for p in periods]
    events = []
    for i, period in enumerate(periods):
        # What `_members` writes for these, spelt out: the dates are ASCII digits, so nothing is escaped.
        dates = (f'}},"start_date":"{utc(period.start)}","end_date":"{utc(period.end)}",'
                 f'"is_start_date_verified":{_TRUE[began is not None and period.start == began]},'
                 f'"is_end_date_verified":{_TRUE[_end_verified(period, reopened)]}')
        for travel in travels:
            def of(i: int, k: int, travel=travel) -> str:
                return f'{bases[i]}{travel}:{k}"'
            for k in range(len(parts)):
                related = []
                if i > 0:
                    related.append('{"type":"first-occurrence","id":' + of(0, k) + "}")
                if i + 1 < len(periods):
                    related.append('{"type":"next-occurrence","id":' + of(i + 1, k) + "}")
                if k > 0:
                    related.append('{"type":"first-in-sequence","id":' + of(i, 0) + "}")
                if k + 1 < len(parts):
                    related.append('{"type":"next-in-sequence","id":' + of(i, k + 1) + "}")
                direction, cross, shape = lines[travel, k]
                links = ',"related_road_events":[' + ",".join(related) + "]" if related else ""
                events.append(f'{{"id":{of(i, k)},"type":"Feature","properties":'
                              f"{head}{direction}{text}{links}{dates}{rest}{cross}{shape}")
    return ",".join(events).encode("utf-8")


_TRUE = {True: "true", False: "false"}


def _members(value: dict) -> str:
    """A dict's members as `dumps` writes them, without the braces."""
    return _json(value)[1:-1]


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _shown(entry: Entry, now: datetime, horizon: Horizon, max_events: int | None) -> tuple[tuple[Period, ...], int]:
    """The periods one closure shows and how many parts of its line, under the cap: its part's key."""
    return shown_periods(entry, now, horizon, len(TRAVEL[entry.view.closure.direction]), part_count(entry),
                         max_events)



def closure_events(entry: Entry, now: datetime, horizon: Horizon, max_events: int | None = MAX_EVENTS) -> list[dict]:
    """Every road event of one closure, in period, direction and part order, at most `max_events` of them."""
    return _events(entry, *_shown(entry, now, horizon, max_events))


def _events(entry: Entry, periods: tuple[Period, ...], kept: int) -> list[dict]:
    """The road events of `periods`, each over the first `kept` parts of the line."""
    closure = entry.closure
    travels = TRAVEL[closure.direction]
    # Cut parts keep the links valid: ids and next-in-sequence only ever name events that are listed.
    parts = _parts(closure.geometry)[:kept]
    events = []
    for i, period in enumerate(periods):
        for travel in travels:
            # Against the geometry, the parts are met in reverse order and each is run backwards.
            ordered = parts if travel == "forward" else [list(reversed(p)) for p in reversed(parts)]
            ids = _Ids(entry, periods, travel, len(ordered))
            for k, line in enumerate(ordered):
                events.append(_event(entry, period, line, ids.related(i, k), ids.of(i, k), travel,
                                     first=k == 0, last=k == len(ordered) - 1))
    return events


class _Ids:
    """Stable ids of one closure's events along one way of travel, and the links between them."""

    def __init__(self, entry: Entry, periods: list[Period], travel: str, parts: int):
        self.entry, self.periods, self.travel, self.parts = entry, periods, travel, parts

    def of(self, i: int, k: int) -> str:
        # The period's start and window never move with the horizon; only an open end does.
        period = self.periods[i]
        start = int(period.start.timestamp())
        return f"{self.entry.id}:{period.window}:{start}:{self.travel}:{k}"

    def related(self, i: int, k: int) -> list[dict]:
        links = []
        if i > 0:
            links.append({"type": "first-occurrence", "id": self.of(0, k)})
        if i + 1 < len(self.periods):
            links.append({"type": "next-occurrence", "id": self.of(i + 1, k)})
        if k > 0:
            links.append({"type": "first-in-sequence", "id": self.of(i, 0)})
        if k + 1 < self.parts:
            links.append({"type": "next-in-sequence", "id": self.of(i, k + 1)})
        return links


def _event(entry: Entry, period: Period, line: Line, related: list[dict], id: str, travel: str,
           *, first: bool, last: bool) -> dict:
    closure, project = entry.view.closure, entry.view.project
    began, reopened = closure.resolved_actuals(zone(project.timezone))
    # Cross streets name the ends of the whole closure, swapped when travelling against the geometry.
    begin, end = (closure.from_, closure.to) if travel == "forward" else (closure.to, closure.from_)
    core = {"data_source_id": project.id, "event_type": "work-zone", "road_names": [closure.road],
            "direction": cardinal(line), "name": _name(closure), **_text(closure),
            **_dates(closure), "related_road_events": related}
    if not related:
        del core["related_road_events"]
    props = {"core_details": core, "start_date": utc(period.start), "end_date": utc(period.end),
             # Verified only where the bureau recorded the actual instant this event starts or ends at.
             "is_start_date_verified": began is not None and period.start == began,
             "is_end_date_verified": _end_verified(period, reopened),
             "is_start_position_verified": False, "is_end_position_verified": False,
             "vehicle_impact": VEHICLE_IMPACT.get(closure.impact, "unknown"),
             "location_method": "other", "work_zone_type": "static"}
    if first and begin:
        props["beginning_cross_street"] = begin
    if last and end:
        props["ending_cross_street"] = end
    return {"id": id, "type": "Feature", "properties": props,
            "geometry": {"type": "LineString", "coordinates": line}, "bbox": _bbox(line)}


def _name(closure) -> str:
    stretch = " - ".join(s for s in (closure.from_, closure.to) if s)
    return f"{closure.road} ({stretch})" if stretch else closure.road


def _text(closure) -> dict:
    """The description and the detour in one text: WZDx has no member for a detour in words."""
    parts = [closure.description, f"Detour: {closure.detour}" if closure.detour else None]
    text = "\n".join(p for p in parts if p)
    return {"description": text} if text else {}


def _dates(closure) -> dict:
    out = {}
    if closure.created_at is not None:
        out["creation_date"] = utc(closure.created_at)
    if closure.updated_at is not None:
        out["update_date"] = utc(closure.updated_at)
    return out


def _parts(geometry: dict) -> list[Line]:
    """WZDx takes LineStrings only: a MultiLineString becomes its parts."""
    coords = geometry["coordinates"]
    lines = [coords] if geometry["type"] == "LineString" else coords
    return [[[float(x) for x in p[:2]] for p in line] for line in lines]


def _bbox(line: Line) -> list[float]:
    lons, lats = [p[0] for p in line], [p[1] for p in line]
    return [min(lons), min(lats), max(lons), max(lats)]


def cardinal(line: Line) -> str:
    """The cardinal way of travel nearest the line's overall bearing, from its first point to its last."""
    (lon1, lat1), (lon2, lat2) = line[0][:2], line[-1][:2]
    # Local flat-earth bearing: a degree of longitude shrinks with cos(latitude); fine for a street.
    east = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    north = lat2 - lat1
    bearing = math.degrees(math.atan2(east, north)) % 360
    return CARDINALS[int((bearing + 45) // 90) % 4]


def utc(t: datetime) -> str:
    """RFC 3339 in UTC with `Z`, as WZDx asks; whole seconds, as every period edge is."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _end_verified(period: Period, reopened: datetime | None) -> bool:
    """Verified only where the bureau recorded the reopening this event ends at; never for an open end."""
    return not period.open_end and reopened is not None and period.end == reopened
