"""Partner feed formats: thin adapters over the domain's periods in effect, within a rolling horizon."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import shapely

from ..budget import ByteLru
from ..config import DEFAULTS
from ..domain.crs import WGS84, shapes_to
from ..domain.errors import TooLarge
from ..domain.schedule import Period, Timeline
from ..index import Entry


# Earlier than any schedule can start (they are checked to lie after 1900): stands for an open start.
DAWN = datetime(1800, 1, 1, tzinfo=timezone.utc)
# A closed interval includes its end, Timeline.periods() leaves it out: widen by the clock's resolution.
TICK = timedelta(microseconds=1)
# FEED_MAX_EVENTS_PER_CLOSURE's default: the road events one closure may put into a feed over the horizon.
MAX_EVENTS = 15_000

log = logging.getLogger(__name__)


def in_effect(timeline: Timeline, start: datetime | None, end: datetime | None) -> bool:
    """Whether the closure is in effect at some moment of [start, end]; None is an open end."""
    return timeline.in_effect(start, end)


# Weekly hours repeat, but a clock change can drop the one session of a week, so the last sessions of a stretch lie in its last 15 days.
_TAIL = timedelta(days=15)


def stretches(timeline: Timeline) -> list[Period]:
    """The periods in effect if there were no weekly hours: windows cut by pauses and actual dates.

    However far a schedule reaches these are few (windows x pauses), so listing them all is bounded.
    """
    bare = replace(timeline, schedule=replace(timeline.schedule, hours=()))
    return bare.periods(DAWN, None)


def final_period(timeline: Timeline) -> Period | None:
    """The last period in effect (None: never in effect), its end None if it runs on; in bounded work.

    Only the last 15 days of each stretch are looked at, from the last stretch back.
    """
    for stretch in reversed(stretches(timeline)):
        if stretch.end is None:
            first = next(iter(timeline.iter_periods(stretch.start, None)), None)
            if first is not None:
                return replace(first, end=None)
            continue
        tail = list(timeline.iter_periods(max(stretch.start, stretch.end - _TAIL), stretch.end))
        if tail:
            return tail[-1]
    return None


@dataclass(frozen=True)
class Horizon:
    """The stretch of time a feed covers: `back` before now to `ahead` after it."""

    back: timedelta = timedelta(days=DEFAULTS["FEED_DAYS_BACK"])
    ahead: timedelta = timedelta(days=DEFAULTS["FEED_DAYS_AHEAD"])

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """Whole UTC days, so a feed's bytes (and ETag) hold for a day instead of changing every second."""
        midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - self.back, midnight + self.ahead

    def today(self, now: datetime) -> datetime:
        """The start of the UTC day the horizon is built around."""
        return self.bounds(now)[0] + self.back

    def next_move(self, now: datetime) -> datetime:
        """When the horizon next slides forward, and with it every open end and the oldest periods."""
        return self.bounds(now)[0] + self.back + timedelta(days=1)


def feed_periods(entry: Entry, now: datetime, horizon: Horizon) -> list[Period]:
    """The closure's active periods overlapping the horizon; an open end becomes the horizon's end, marked
    `open_end` so that each format says, as well as it can, that no end is known.

    Pauses split a window into several periods, which the formats link to each other.
    """
    start, end = horizon.bounds(now)
    periods = entry.timeline.periods(start, end)
    return [p if p.end is not None else replace(p, end=end.astimezone(p.start.tzinfo), open_end=True)
            for p in periods]


def shown_periods(entry: Entry, now: datetime, horizon: Horizon, ways: int, parts: int,
                  cap: int | None) -> tuple[tuple[Period, ...], int]:
    """`within_cap` of `feed_periods`, as a key: all a closure's part depends on beyond its version.

    A part keyed by it (not by the horizon's bounds) survives the daily slide of the horizon unless
    a period enters or leaves it, or an open end moves with the horizon's end.
    """
    periods, kept = within_cap(entry, feed_periods(entry, now, horizon), ways, parts, cap, horizon.today(now))
    return tuple(periods), kept


def part_count(entry: Entry) -> int:
    """How many LineStrings the entry's line is, as the formats split it, without building them."""
    return 1 if entry.shape.geom_type == "LineString" else len(entry.shape.geoms)


def within_cap(entry: Entry, periods: list[Period], ways: int, parts: int, cap: int | None,
               today: datetime) -> tuple[list[Period], int]:
    """The periods, and parts of the line per way of travel, one closure may publish under `cap` events.

    Writes past the cap are refused, but a closure stored before (or under other settings) may pass it:
    its events stop at the cap, the feed stays valid, and one warning per closure version says so.
    The periods kept are those running from `today` on (earlier ones only if too few are left); this
    depends on nothing but the horizon's bounds, so a part rendered once stays right all day.
    """
    if cap is None or len(periods) * ways * parts <= cap:
        return periods, parts
    _warn_capped(entry, len(periods) * ways * parts, cap)
    if ways * parts > cap:
        return periods[:1], max(1, cap // ways)
    keep = cap // (ways * parts)
    first = next((i for i, p in enumerate(periods) if p.end is None or p.end > today), len(periods))
    first = max(0, min(first, len(periods) - keep))
    return periods[first:first + keep], parts


class Tally:
    """The road events a feed answer has taken so far, refused past `cap` (FEED_MAX_EVENTS; None: no cap).

    Counted as each closure's part is taken, so a refused feed stops at the cap instead of rendering a
    whole city first; the parts made meanwhile stay in the memo for the narrower feeds asked next.
    """

    def __init__(self, cap: int | None):
        self.cap, self.count = cap, 0

    def add(self, events: int) -> None:
        self.count += events
        if self.cap is not None and self.count > self.cap:
            raise TooLarge("bbox", f"this feed would hold more than {self.cap} road events (FEED_MAX_EVENTS="
                                   f"{self.cap}); narrow it with bbox, road or project")


# Known by id, change sequence and project: a project edit gives a closure a new project object (and maybe more
# events) without a new sequence, and a database emptied and refilled reuses sequences.
_warned: set[tuple[str, int, int]] = set()
_warned_lock = threading.Lock()


def _warn_capped(entry: Entry, events: int, cap: int) -> None:
    with _warned_lock:
        key = (entry.id, entry.seq, id(entry.project))
        if key in _warned:
            return
        if len(_warned) >= 10_000:  # a bound on memory; at worst a warning is repeated
            _warned.clear()
        _warned.add(key)
    log.warning("closure %r (change %d) would put %d road events into a feed; cut at "
                "FEED_MAX_EVENTS_PER_CLOSURE=%d", entry.id, entry.seq, events, cap)


def in_crs(entries: list[Entry], crs: str, memo: "FragmentMemo | None" = None) -> list[Entry]:
    """The entries with their lines in `crs`; statuses and schedules are shared, not recomputed."""
    if crs == WGS84:
        return entries
    entries = list(entries)
    batch = _Moving(entries, crs)
    if memo is None:
        return [batch.moved(i) for i in range(len(entries))]
    return [memo.get("crs", e, crs, None, lambda i=i: batch.moved(i)) for i, e in enumerate(entries)]


class _Moving:
    """Moves entries into a crs a chunk at a time, on demand.

    A street has a few dozen points: moving them one closure at a time costs numpy's per-call overhead,
    not arithmetic. So the first entry the memo misses moves the next CHUNK entries with it; the ones
    the memo then already holds cost at most that chunk's arithmetic, once.
    """

    CHUNK = 512

    def __init__(self, entries: list[Entry], crs: str):
        self.entries, self.crs, self.done = entries, crs, {}

    def moved(self, i: int) -> Entry:
        if i not in self.done:
            chunk = self.entries[i:i + self.CHUNK]
            for k, (entry, shape) in enumerate(zip(chunk, shapes_to([e.shape for e in chunk], self.crs))):
                self.done[i + k] = replace(entry, shape=shape, bounds=shape.bounds)
        return self.done.pop(i)


def dumps(value: Any) -> bytes:
    """JSON as every feed is served: UTF-8, no spaces."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Raw(bytes):
    """A JSON value already serialised by `dumps`."""


def encode(document: dict) -> bytes:
    """`dumps(document)`, byte for byte, with its `Raw` members spliced in as they are."""
    members = (dumps(k) + b":" + (v if isinstance(v, Raw) else dumps(v)) for k, v in document.items())
    return b"{" + b",".join(members) + b"}"


def raw_array(parts: list[bytes]) -> Raw:
    """A JSON array from the serialised items of each closure (`b""` for none)."""
    return Raw(b"[" + b",".join(p for p in parts if p) + b"]")


class FragmentMemo:
    """Each closure's part of a feed, rendered once per version of the closure and kept across writes.

    An entry is known by its closure's id and change sequence, and by its project object (a project edit
    gives the closure a new one without a new sequence); the caller adds everything else the part
    depends on (the crs, the periods shown, as `shown_periods` gives them). A closure keeps one version
    per kind and crs: a newer version or other periods shown drop the older one. Thread-safe; at most
    `budget` bytes of parts and their keys (as `part_bytes` estimates them), the least recently used
    going first; a part larger than the whole budget is returned but not kept.
    """

    def __init__(self, budget: int = 128 * 1024 * 1024, limit: int | None = None):
        self._parts = ByteLru(budget, on_drop=self._forget, max_items=limit)  # key -> (project, part)
        self._current: dict[tuple, tuple] = {}  # (kind, id, crs) -> the version held, to drop it when it moves
        self._lock = threading.Lock()

    @property
    def budget(self) -> int:
        return self._parts.budget

    @property
    def used(self) -> int:
        return self._parts.used

    def get(self, kind: str, entry: Entry, crs: str, extra: Any, make: Callable[[], Any]) -> Any:
        slot, version = (kind, entry.id, crs), (entry.seq, extra)
        found = self._parts.get(slot + version)
        if found is not None and found[0] is entry.project:
            return found[1]
        value = make()
        with self._lock:
            old = self._current.pop(slot, None)
            if old is not None:
                self._parts.pop(slot + old)
            # The key's periods are kept with the part: a night-works closure may show hundreds.
            cost = part_bytes(value) + part_bytes(extra) + PART_OVERHEAD
            if self._parts.put(slot + version, (entry.project, value), cost):
                self._current[slot] = version
        return value

    def _forget(self, key: tuple, _part) -> None:
        # Called by the LRU (under self._lock, held by `get`) when it evicts a part for room.
        kind, id_, crs, *version = key
        if self._current.get((kind, id_, crs)) == tuple(version):
            del self._current[(kind, id_, crs)]

    def __len__(self) -> int:
        return len(self._parts)


# What one kept part costs beyond itself and its `extra`: the rest of its key (kind, id, crs, sequence) and slots.
PART_OVERHEAD = 400
# Sizes of the small values parts hold: an instant, a period, a shapely coordinate.
_INSTANT, _PERIOD, _COORDINATE = 48, 200, 16


def part_bytes(value: Any, depth: int = 0) -> int:
    """An estimate of the memory a feed part holds: exact for bytes and text, close for the rest.

    Parts are serialised bytes (WZDx), (period, bytes) lists (Waze), instants, and entries moved into
    another crs, whose only new memory is their shape (the view and the timeline stay shared); keys
    hold tuples of periods. Called for every part kept, so the common types are told apart first.
    """
    kind = type(value)
    if kind is Period:
        return _PERIOD
    if kind is tuple or kind is list:
        if depth >= 4:
            return sys.getsizeof(value)
        total = 56 + 8 * len(value)
        for item in value:
            total += _PERIOD if type(item) is Period else part_bytes(item, depth + 1)
        return total
    if isinstance(value, (bytes, bytearray, str)):
        return len(value) + 40
    if isinstance(value, datetime) or value is None:
        return _INSTANT
    if isinstance(value, Period):
        return _PERIOD
    if isinstance(value, Entry):
        return 200 + _COORDINATE * int(shapely.get_num_coordinates(value.shape))
    if isinstance(value, (tuple, list)) and depth < 4:
        return 56 + 8 * len(value) + sum(part_bytes(v, depth + 1) for v in value)
    return sys.getsizeof(value)
