"""The pre-bounded Timeline (day-by-day expansion of schedule.py before issue 10), kept as a test oracle.

Since issue 12 it follows the contract's date bounds with hours literally: each window takes the sessions
that start on its days (a date bound) or that it clips (a date-time bound), a stretch where windows meet
belongs to the window begun last, and touching segments of one window and state are one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from roadworks.domain.schedule import (
    ACTIVE, CANCELLED, COMPLETED, PAUSED, UPCOMING, Hours, Period, Schedule, Span, span_instants,
)

UTC = timezone.utc
_FOREVER = datetime(9999, 12, 1, tzinfo=UTC)
_WEEK = timedelta(days=7)
_HOURS_MARGIN = timedelta(days=8)


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return _local(day, time(0), tz)


def _local(day: date, clock: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Timeline:
    """One closure's schedule resolved in its project's zone; answers status and periods at any instant."""

    schedule: Schedule
    tz: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    project_pauses: tuple[Span, ...] = ()
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    cancelled: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hours", None if _covers_week(self.schedule.hours) else self.schedule.hours)
        object.__setattr__(self, "_windows", self._resolve_windows())
        pauses = [span_instants(p, self.tz) for p in (*self.project_pauses, *self.schedule.pauses)]
        object.__setattr__(self, "_pauses", _union((s, e or _FOREVER) for s, e in pauses))
        object.__setattr__(self, "_horizon", self._last_boundary())

    # -- public questions

    def status_at(self, t: datetime) -> str:
        """The contract's status at instant `t`."""
        return self._status(_utc(t), self._segments_around(_utc(t)))

    def next_change(self, t: datetime) -> datetime | None:
        """The first instant after `t` whose status differs from the status at `t`, or None if never."""
        t = _utc(t)
        if self.cancelled:
            return None
        # After the last fixed boundary the pattern repeats weekly, so a week without change means none.
        last = self._far_end(t)
        segments = self._segments(t, last + _HOURS_MARGIN)
        now = self._status(t, segments)
        for boundary in self._boundaries_after(t, segments):
            if boundary > last:
                break
            if self._status(boundary, segments) != now:
                return boundary
        return None

    def last_boundary(self, t: datetime) -> datetime | None:
        """The latest instant at or before `t` at which the status may have changed (None: never did)."""
        t = _utc(t)
        if self.cancelled:
            return None
        edges = [x for x in self._edges() if x <= t]
        if self._hours is not None:
            # Hours repeat weekly, so inside a window the latest of their edges lies within a week.
            edges += [x for s, e, _, _ in self._segments(t - _HOURS_MARGIN, t + _HOURS_MARGIN)
                      for x in (s, e) if x <= t]
        return max(edges, default=None)

    def periods(self, start: datetime, end: datetime | None, *, include_paused: bool = False) -> list[Period]:
        """Maximal periods in effect that overlap [start, end), unclipped; paused ones on request."""
        if self.cancelled:
            return []
        segments = self._segments(_utc(start), _utc(end) if end else self._far_end(_utc(start)))
        wanted = (ACTIVE, PAUSED) if include_paused else (ACTIVE,)
        return [self._period(s) for s in segments if s[2] in wanted]

    # -- resolution

    def _resolve_windows(self) -> list[tuple[datetime, datetime, int, date | None, date | None]]:
        """(start, end, index, first day, last day): with hours, a date bound selects the days whose sessions
        the window takes, and a date end reaches to the end of the last of them."""
        spans = []
        for i, w in enumerate(self.schedule.windows):
            s, e = span_instants(w, self.tz)
            first = last = None
            if self._hours is not None:
                if not isinstance(w.start, datetime):
                    first = w.start
                if w.end is not None and not isinstance(w.end, datetime):
                    last = w.end
                    for entry in self._hours:
                        if last.weekday() in entry.days:
                            e = max(e, _occurrence(entry, last, self.tz)[1])
            spans.append((s, e or _FOREVER, i, first, last))
        spans.sort(key=lambda w: (w[0], w[1], w[2]))
        if self.actual_start is not None and spans:
            began = _utc(self.actual_start)
            _, first_end, index, _, last = spans[0]
            # Nothing can be closed before the works began, whichever window was planned first.
            spans = [(began, first_end, index, None, last)] + [(max(s, began), *rest) for s, *rest in spans[1:]]
        if self.actual_end is not None:
            cut = _utc(self.actual_end)
            spans = [(s, min(e, cut), *rest) for s, e, *rest in spans]
        return [w for w in spans if w[0] < w[1]]

    def _last_boundary(self) -> datetime:
        """After this instant nothing but the weekly hours changes the status."""
        return max(self._edges(), default=datetime(1970, 1, 1, tzinfo=UTC))

    def _edges(self) -> list[datetime]:
        """Every finite start and end of the resolved windows and of the pauses."""
        edges = [w[0] for w in self._windows] + [w[1] for w in self._windows if w[1] != _FOREVER]
        return edges + [s for s, _ in self._pauses] + [e for _, e in self._pauses if e != _FOREVER]

    def _far_end(self, t: datetime) -> datetime:
        return min(max(self._horizon, t), _FOREVER) + _HOURS_MARGIN

    # -- segments: (start, end, state, window) in time order

    def _segments_around(self, t: datetime) -> list[tuple[datetime, datetime, str, int]]:
        return self._segments(t, self._far_end(t))

    def _segments(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime, str, int]]:
        out = []
        cuts = sorted({x for w in self._windows for x in w[:2]})
        for x, y in zip(cuts, cuts[1:]):
            here = [w for w in self._windows if w[0] <= x and y <= w[1]]
            if not here or y <= a or x >= b:
                continue
            owner = max(here, key=lambda w: (w[0], w[2]))[2]
            for on_start, on_end in self._in_hours(x, y, a, b, here):
                out.extend((s, e, st, owner) for s, e, st in self._split_by_pauses(on_start, on_end))
        out.sort()
        joined: list[list] = []
        for s, e, st, owner in out:
            if joined and joined[-1][1] == s and joined[-1][2:] == [st, owner]:
                joined[-1][1] = e
            else:
                joined.append([s, e, st, owner])
        return [tuple(s) for s in joined if s[1] > a and s[0] < b]

    def _in_hours(self, w_start, w_end, a, b, windows) -> list[tuple[datetime, datetime]]:
        if self._hours is None:
            return [(w_start, w_end)]
        lo, hi = max(w_start, a - _HOURS_MARGIN), min(w_end, b + _HOURS_MARGIN)
        found = []
        taken = [(s, e) for day, s, e in _occurrences(self._hours, self.tz, lo, hi)
                 if any((w[3] is None or w[3] <= day) and (w[4] is None or day <= w[4]) for w in windows)]
        for s, e in _union(taken):
            s, e = max(s, w_start), min(e, w_end)
            if s < e:
                found.append((s, e))
        return found

    def _split_by_pauses(self, start, end) -> Iterator[tuple[datetime, datetime, str]]:
        cursor = start
        for p_start, p_end in self._pauses:
            if p_end <= cursor or p_start >= end:
                continue
            if p_start > cursor:
                yield cursor, p_start, ACTIVE
            yield max(p_start, cursor), min(p_end, end), PAUSED
            cursor = min(p_end, end)
        if cursor < end:
            yield cursor, end, ACTIVE

    # -- status from segments

    def _status(self, t: datetime, segments) -> str:
        if self.cancelled:
            return CANCELLED
        for start, end, state, _ in segments:
            if start <= t < end:
                return state
        if any(state == ACTIVE and start > t for start, _, state, _ in segments):
            return UPCOMING
        return COMPLETED

    def _boundaries_after(self, t, segments) -> list[datetime]:
        edges = {x for s, e, _, _ in segments for x in (s, e) if t < x < _FOREVER}
        return sorted(edges)

    def _period(self, segment) -> Period:
        start, end, state, window = segment
        label = self.schedule.windows[window].note
        return Period(start.astimezone(self.tz), None if end >= _FOREVER else end.astimezone(self.tz),
                      state, window, label)


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("instants must be time-zone aware")
    return t.astimezone(UTC)


def _union(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _occurrences(hours: Sequence[Hours], tz: tzinfo, lo: datetime, hi: datetime):
    """Every weekly occurrence of `hours` that may overlap [lo, hi), as (local day, UTC start, UTC end)."""
    day = lo.astimezone(tz).date() - timedelta(days=1)
    last = hi.astimezone(tz).date()
    while day <= last:
        for entry in hours:
            if day.weekday() in entry.days:
                yield (day, *_occurrence(entry, day, tz))
        day += timedelta(days=1)


def _occurrence(entry: Hours, day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    start = _local(day, entry.start, tz)
    crosses = entry.ends_at_midnight or entry.end <= entry.start
    end = _local(day + timedelta(days=1) if crosses else day, entry.end, tz)
    return start, end


def _covers_week(hours: Sequence[Hours]) -> bool:
    """True when the hours leave no gap in the week, so they limit nothing."""
    if not hours:
        return True
    monday = date(2024, 1, 1)  # any Monday: gaps are judged on a zone without clock changes
    spans = []
    for entry in hours:
        for day in entry.days:
            s, e = _occurrence(entry, monday + timedelta(days=day), UTC)
            spans += [(s - _WEEK, e - _WEEK), (s, e), (s + _WEEK, e + _WEEK)]
    week_start = _local_midnight(monday, UTC)
    merged = _union(spans)
    return any(s <= week_start and e >= week_start + _WEEK for s, e in merged)


def _bench() -> None:
    """`python tests/reference_schedule.py`: status_at + next_change over the bench city, oracle vs bounded."""
    import sys
    import timeit
    from pathlib import Path

    sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
    from bench.synthetic import PROJECTS, closures
    from roadworks.domain.schedule import Timeline as Bounded

    projects = {p.id: p for p in PROJECTS}
    new = [c.timeline(projects[c.project]) for c in closures(10_000)]
    old = [Timeline(t.schedule, t.tz, t.project_pauses, t.actual_start, t.actual_end, t.cancelled) for t in new]
    moments = [datetime(2024, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)]

    def poll(timelines):
        for t in moments:
            for tl in timelines:
                tl.status_at(t), tl.next_change(t)

    assert all((o.status_at(t), o.next_change(t)) == (n.status_at(t), n.next_change(t))
               for t in moments for o, n in zip(old, new))
    for name, timelines in (("oracle", old), ("bounded", new)):
        best = min(timeit.repeat(lambda: poll(timelines), number=1, repeat=3))
        print(f"{name}: {best / (len(moments) * len(timelines)) * 1e6:.1f} us per status_at + next_change")


if __name__ == "__main__":
    _bench()
