"""Partner feed formats: thin adapters over the domain's periods in effect, within a rolling horizon."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from ..domain.crs import WGS84, shape_to
from ..domain.schedule import Period, Timeline
from ..index import Entry


# Earlier than any schedule can start (they are checked to lie after 1900): stands for an open start.
DAWN = datetime(1800, 1, 1, tzinfo=timezone.utc)
# A closed interval includes its end, Timeline.periods() leaves it out: widen by the clock's resolution.
TICK = timedelta(microseconds=1)


def in_effect(timeline: Timeline, start: datetime | None, end: datetime | None) -> bool:
    """Whether the closure is in effect at some moment of [start, end]; None is an open end."""
    if start is not None and end is not None and end < start:
        return False
    return bool(timeline.periods(start or DAWN, None if end is None else end + TICK))


@dataclass(frozen=True)
class Horizon:
    """The stretch of time a feed covers: `back` before now to `ahead` after it."""

    back: timedelta = timedelta(days=30)
    ahead: timedelta = timedelta(days=180)

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """Whole UTC days, so a feed's bytes (and ETag) hold for a day instead of changing every second."""
        midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - self.back, midnight + self.ahead

    def next_move(self, now: datetime) -> datetime:
        """When the horizon next slides forward, and with it every open end and the oldest periods."""
        return self.bounds(now)[0] + self.back + timedelta(days=1)


def feed_periods(entry: Entry, now: datetime, horizon: Horizon) -> list[Period]:
    """The closure's active periods overlapping the horizon; an open end is published as the horizon's end.

    Pauses split a window into several periods, which the formats link to each other.
    """
    start, end = horizon.bounds(now)
    periods = entry.timeline.periods(start, end)
    return [p if p.end is not None else Period(p.start, end.astimezone(p.start.tzinfo), p.state, p.window, p.label)
            for p in periods]


def in_crs(entries: list[Entry], crs: str, memo: "FragmentMemo | None" = None) -> list[Entry]:
    """The entries with their lines in `crs`; statuses and schedules are shared, not recomputed."""
    if crs == WGS84:
        return entries
    if memo is None:
        return [_moved(e, crs) for e in entries]
    return [memo.get("crs", e, crs, None, lambda e=e: _moved(e, crs)) for e in entries]


def _moved(entry: Entry, crs: str) -> Entry:
    shape = shape_to(entry.shape, crs)
    return replace(entry, shape=shape, bounds=shape.bounds)


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


_MISSING = object()


class FragmentMemo:
    """Each closure's part of a feed, rendered once per version of the closure and kept across writes.

    An entry is known by its closure's id and change sequence, and by its view object (a project edit
    gives the closure a new view without a new sequence); the caller adds everything else the part
    depends on (the crs, the horizon's bounds). A closure keeps one version per kind and crs: a newer
    version or a moved horizon drops the older one. Thread-safe; at most `limit` parts.
    """

    def __init__(self, limit: int = 100_000):
        self.limit = limit
        self._items: OrderedDict[tuple, tuple[Any, Any]] = OrderedDict()  # key -> (view, part), oldest use first
        self._current: dict[tuple, tuple] = {}  # (kind, id, crs) -> the version held, to drop it when it moves
        self._lock = threading.Lock()

    def get(self, kind: str, entry: Entry, crs: str, extra: Any, make: Callable[[], Any]) -> Any:
        slot, version = (kind, entry.id, crs), (entry.seq, extra)
        with self._lock:
            found = self._items.get(slot + version, _MISSING)
            if found is not _MISSING and found[0] is entry.view:
                self._items.move_to_end(slot + version)
                return found[1]
        value = make()
        with self._lock:
            old = self._current.get(slot)
            if old is not None and old != version:
                self._items.pop(slot + old, None)
            self._current[slot] = version
            self._items[slot + version] = (entry.view, value)
            while len(self._items) > self.limit:
                (kind_, id_, crs_, *rest), _ = self._items.popitem(last=False)
                if self._current.get((kind_, id_, crs_)) == tuple(rest):
                    del self._current[(kind_, id_, crs_)]
        return value

    def __len__(self) -> int:
        return len(self._items)
