"""Closure schedules: windows, pauses, weekly hours and actual dates turned into instants and statuses."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Iterable, Iterator, Sequence, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .errors import ValidationFailed

UTC = timezone.utc
ACTIVE, PAUSED, UPCOMING, COMPLETED, CANCELLED = "active", "paused", "upcoming", "completed", "cancelled"
STATUSES = (ACTIVE, PAUSED, UPCOMING, COMPLETED, CANCELLED)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Stands for "until further notice" inside interval arithmetic; never shown to users.
_FOREVER = datetime(9999, 12, 1, tzinfo=UTC)
_WEEK = timedelta(days=7)
# Hours repeat weekly, so any merged hours period not covering the whole week is under 8 days.
_HOURS_MARGIN = timedelta(days=8)
# Earlier than any schedule can start (they are checked to lie after 1900): stands for an open start.
DAWN = datetime(1800, 1, 1, tzinfo=UTC)

When = Union[date, datetime]


@dataclass(frozen=True)
class Span:
    """A window or pause as the bureau wrote it: dates are local days, date-times exact instants."""

    start: When
    end: When | None = None
    note: str | None = None


@dataclass(frozen=True)
class Hours:
    """Weekly time-of-day limits; an entry belongs to the day it starts on and may cross midnight."""

    days: frozenset[int]
    start: time
    end: time
    ends_at_midnight: bool = False

    def length(self) -> timedelta:
        """How long one occurrence lasts on a day without a clock change."""
        start = timedelta(hours=self.start.hour, minutes=self.start.minute)
        end = timedelta(hours=self.end.hour, minutes=self.end.minute)
        if self.ends_at_midnight:
            end = timedelta(days=1)
        return end - start if end > start else end + timedelta(days=1) - start


@dataclass(frozen=True)
class Schedule:
    """The planned windows of a closure, with its own pauses and optional weekly hours."""

    windows: tuple[Span, ...]
    pauses: tuple[Span, ...] = ()
    hours: tuple[Hours, ...] = ()


@dataclass(frozen=True)
class Period:
    """A stretch of time in which a closure is in effect (`active`) or would be but is `paused`.

    `end` None means until further notice. A view that must show some end (a feed over a horizon) puts its
    own there and sets `open_end`, so each format can still say that no end is known.
    """

    start: datetime
    end: datetime | None
    state: str
    window: int
    label: str | None = None
    open_end: bool = False


# ---------------------------------------------------------------------------- values in, instants out

def zone(name: str, path: str = "timezone") -> ZoneInfo:
    """The IANA zone called `name`, or a ValidationFailed naming `path`."""
    if not isinstance(name, str) or not name or name not in _zone_names():
        raise ValidationFailed.one(path, f"unknown IANA time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed.one(path, f"unknown IANA time zone {name!r}") from None


_ZONES: frozenset[str] | None = None


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def start_instant(value: When, tz: tzinfo) -> datetime:
    """First instant of a start value: a date begins at local midnight."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return _local_midnight(value, tz)


def end_instant(value: When | None, tz: tzinfo) -> datetime | None:
    """Exclusive end instant: a date end is inclusive, so it ends at the next local midnight."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return _local_midnight(value + timedelta(days=1), tz)


@lru_cache(maxsize=8192)
def _local_midnight(day: date, tz: tzinfo) -> datetime:
    # Schedules share their days: the snapshot resolves thousands of timelines over a few years of dates.
    return _local(day, time(0), tz)


def _local(day: date, clock: time, tz: tzinfo) -> datetime:
    # Round-trip through UTC so that a wall time skipped by a clock change lands on a real instant.
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def span_instants(span: Span, tz: tzinfo) -> tuple[datetime, datetime | None]:
    """The half-open [start, end) of a span; end None means until further notice."""
    return start_instant(span.start, tz), end_instant(span.end, tz)


# ---------------------------------------------------------------------------- validation

def check_schedule(schedule: Schedule, tz: tzinfo, path: str = "schedule") -> None:
    """Reject windows or pauses that end before they start, overlap, or pause nothing."""
    errors: dict[str, list[str]] = {}
    if not schedule.windows:
        errors[f"{path}.windows"] = ["at least one window is required"]
    windows = _checked_spans(schedule.windows, tz, f"{path}.windows", errors)
    pauses = _checked_spans(schedule.pauses, tz, f"{path}.pauses", errors)
    _check_overlaps(windows, f"{path}.windows", errors)
    if windows:
        _check_pauses_meet_windows(pauses, windows, f"{path}.pauses", errors)
    if errors:
        raise ValidationFailed(errors)


def check_pauses(pauses: Sequence[Span], tz: tzinfo, path: str = "pauses") -> None:
    """Reject project pauses that end before they start."""
    errors: dict[str, list[str]] = {}
    _checked_spans(pauses, tz, path, errors)
    if errors:
        raise ValidationFailed(errors)


def _checked_spans(spans, tz, path, errors) -> list[tuple[int, datetime, datetime]]:
    good = []
    for i, span in enumerate(spans):
        start, end = span_instants(span, tz)
        end = end or _FOREVER
        if end <= start:
            errors[f"{path}[{i}].end"] = [f"ends ({_show(span.end)}) before it starts ({_show(span.start)})"]
        else:
            good.append((i, start, end))
    return good


def _check_overlaps(spans, path, errors) -> None:
    latest = None  # the window reaching furthest so far, by start order
    for j, start, end in sorted(spans, key=lambda s: s[1]):
        if latest is not None and start < latest[2]:
            errors.setdefault(f"{path}[{j}]", []).append(f"overlaps window {latest[0]}; phases must not overlap")
        if latest is None or end > latest[2]:
            latest = (j, start, end)


def _check_pauses_meet_windows(pauses, windows, path, errors) -> None:
    for i, start, end in pauses:
        if not any(start < w_end and w_start < end for _, w_start, w_end in windows):
            errors.setdefault(f"{path}[{i}]", []).append("lies outside every window, so it pauses nothing")


def _show(value: When | None) -> str:
    return "open end" if value is None else value.isoformat()


# ---------------------------------------------------------------------------- the timeline
#
# The resolved windows, cut by the pauses, make "pieces": stretches in which the state is fixed (in effect,
# or paused). Without hours the pieces are the periods. With hours, the periods are the pieces cut to the
# runs of weekly sessions, and every question is answered by looking at a few days of sessions around the
# instants asked about, piece by piece, so the work never grows with how far the schedule reaches.

# Weekly hours have a session in any stretch this long, even in a week where a clock change drops one.
_PROBE = timedelta(days=15)
_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)

Piece = tuple  # (start, end, state, window, days): a stretch of one window inside or outside the pauses
# `days` says which local days' sessions a piece takes: None for all, else ranges (first, last), None open.
Days = Union[tuple, None]


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
        covers, run = _week_shape(tuple(self.schedule.hours))
        hours = None if covers else self.schedule.hours
        windows = self._resolve_windows(hours)
        pauses = [span_instants(p, self.tz) for p in (*self.project_pauses, *self.schedule.pauses)]
        pauses = _union((s, e or _FOREVER) for s, e in pauses)
        regions = windows if hours is None else _regions(windows)
        pieces = _pieces([(s, e, i, days) for s, e, i, days, *_ in regions], pauses)
        edges = sorted([w[0] for w in windows] + [w[1] for w in windows if w[1] != _FOREVER]
                       + [s for s, _ in pauses] + [e for _, e in pauses if e != _FOREVER])
        active_ends = [p[1] for p in pieces if p[2] == ACTIVE]
        fields = {
            "_windows": windows, "_pauses": pauses, "_hours": hours, "_pieces": pieces,
            "_starts": [p[0] for p in pieces], "_ends": [p[1] for p in pieces], "_edges": edges,
            "_horizon": edges[-1] if edges else datetime(1970, 1, 1, tzinfo=UTC),
            "_active_end": max(active_ends, default=None),
            # A run of sessions is at most two of the week's runs joined by a clock change: look back that far.
            "_margin": min(2 * run + _DAY, _HOURS_MARGIN),
            "_by_weekday": _by_weekday(tuple(self.schedule.hours)),
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    # -- public questions

    def status_at(self, t: datetime) -> str:
        """The contract's status at instant `t`."""
        t = _utc(t)
        if self.cancelled:
            return CANCELLED
        piece = self._piece_at(t)
        if piece is not None and (self._hours is None or self._covered(t, piece[4])):
            return piece[2]
        return UPCOMING if self._active_after(t) else COMPLETED

    def next_change(self, t: datetime) -> datetime | None:
        """The first instant after `t` whose status differs from the status at `t`, or None if never."""
        t = _utc(t)
        if self.cancelled:
            return None
        here = self._segment_at(t)
        if here is None:
            change = self._first_start_after(t, (ACTIVE, PAUSED))
        else:
            state, change = here
            # Adjacent periods in the same state (windows back to back) do not change the status.
            while change < _FOREVER:
                there = self._segment_at(change)
                if there is None or there[0] != state:
                    break
                change = there[1]
        # After the last fixed edge only the weekly hours move the status: a change comes within 8 days or never.
        if change is None or change >= _FOREVER or change > self._far_end(t):
            return None
        return change

    def last_boundary(self, t: datetime) -> datetime | None:
        """The latest instant at or before `t` at which the status may have changed (None: never did)."""
        t = _utc(t)
        if self.cancelled:
            return None
        i = bisect_right(self._edges, t)
        latest = self._edges[i - 1] if i else None
        if self._hours is not None:
            # Hours repeat weekly, so inside a window the latest of their edges lies within a week.
            for s, e, _, _ in self._segments(t - _HOURS_MARGIN, t + _TICK, (ACTIVE, PAUSED), reach=_TICK):
                for x in (s, e):
                    if x <= t and (latest is None or x > latest):
                        latest = x
        return latest

    def next_edge(self, t: datetime) -> datetime | None:
        """The first start or end of a window or pause (actual dates applied) after `t`, or None.

        Between `t` and the earlier of this and `next_change(t)`, `last_boundary` stays what it is at `t`:
        every other instant it may return is a change of status.
        """
        i = bisect_right(self._edges, _utc(t))
        return self._edges[i] if i < len(self._edges) else None

    def in_effect(self, start: datetime | None, end: datetime | None, *, include_paused: bool = False) -> bool:
        """Whether the closure is in effect (or paused, on request) at some moment of the closed [start, end].

        None is an open start or end. The work is a few days of sessions per piece looked at, never the interval.
        """
        a = DAWN if start is None else _utc(start)
        b = None if end is None else _utc(end)
        if self.cancelled or (b is not None and b < a):
            return False
        wanted = (ACTIVE, PAUSED) if include_paused else (ACTIVE,)
        for piece in self._pieces[bisect_right(self._ends, a):]:
            p_start, p_end, state, _, days = piece
            if b is not None and p_start > b:
                return False
            if state not in wanted:
                continue
            if self._hours is None:
                return True
            until = p_end if b is None else min(p_end, b + _TICK)
            if self._first_session(max(a, p_start), until, days) is not None:
                return True
        return False

    def iter_periods(self, start: datetime, end: datetime | None, *,
                     include_paused: bool = False) -> Iterator[Period]:
        """Maximal periods in effect that overlap [start, end), unclipped, in time order; paused ones on request.

        Lazy: each period costs a few days of sessions. With `end` None it goes on to the last period there is,
        which with weekly hours in an open-ended window means every week until the year 9999: the caller stops.
        """
        if self.cancelled:
            return
        wanted = (ACTIVE, PAUSED) if include_paused else (ACTIVE,)
        for segment in self._segments(_utc(start), None if end is None else _utc(end), wanted):
            yield self._period(segment)

    def periods(self, start: datetime, end: datetime | None, *, include_paused: bool = False) -> list[Period]:
        """`iter_periods` as a list. With `end` None it runs to 8 days past the schedule's last fixed edge,
        which with hours in a far-reaching window is a period a night for all of it: only for callers that
        bound the schedule some other way; the others pass the horizon or window they show, or iterate."""
        if self.cancelled:
            return []
        stop = _utc(end) if end else self._far_end(_utc(start))
        return list(self.iter_periods(start, stop, include_paused=include_paused))

    def last_period(self, end: datetime | None, *, include_paused: bool = False) -> Period | None:
        """The last of `periods(DAWN, end)` (None if there is none), looking back a few days per piece."""
        if self.cancelled:
            return None
        stop = _utc(end) if end else self._far_end(DAWN)
        wanted = (ACTIVE, PAUSED) if include_paused else (ACTIVE,)
        for piece in reversed(self._pieces[:bisect_left(self._starts, stop)]):
            if piece[2] not in wanted:
                continue
            # Weekly hours leave no 15 days of a piece without a session: its last ones lie in its last 15 days.
            since = piece[0] if self._hours is None else max(piece[0], min(piece[1], stop) - _PROBE)
            last = None
            for last in self._segments(since, stop, wanted, pieces=(piece,)):
                pass
            if last is not None:
                return self._period(last)
        return None

    def without_hours(self) -> "Timeline":
        """The same closure without its weekly hours, each window drawn from its first session's start to the
        end of its last day's sessions (actual dates applied): the one span per window that a format carrying
        the hours beside it (Waze's `schedule`) publishes, so the span neither opens the morning before the
        first evening nor stops before the last night's end. Window indexes and labels are kept."""
        if self._hours is None:
            return replace(self, schedule=replace(self.schedule, hours=()))
        spans = [Span(DAWN, DAWN, w.note) for w in self.schedule.windows]  # a window resolved away stays empty
        for start, end, index, days in self._windows:
            first = self._first_session(start, end, days)
            spans[index] = Span(start if first is None else first, None if end >= _FOREVER else end,
                                self.schedule.windows[index].note)
        return replace(self, schedule=Schedule(tuple(spans), self.schedule.pauses, ()), actual_start=None,
                       actual_end=None)

    # -- resolution

    def _resolve_windows(self, hours) -> list[tuple[datetime, datetime, int, Days]]:
        """Each window as (start, end, index, days). With hours, a date bound selects the days on which sessions
        start (the contract's Schedule object): the window takes only those days' sessions and reaches to the
        end of its last day's sessions; a date-time bound or an actual date clips sessions at its instant."""
        spans = []
        for i, w in enumerate(self.schedule.windows):
            start, end = span_instants(w, self.tz)
            first = last = None
            if hours is not None:
                first = None if isinstance(w.start, datetime) else w.start
                if w.end is not None and not isinstance(w.end, datetime):
                    last = w.end
                    nights = _by_weekday(tuple(hours))[last.weekday()]
                    end = max([end] + [_occurrence(h, last, self.tz)[1] for h in nights])
            spans.append((start, end or _FOREVER, i, first, last))
        spans.sort(key=lambda w: (w[0], w[1], w[2]))
        if self.actual_start is not None and spans:
            began = _utc(self.actual_start)
            _, first_end, index, _, last = spans[0]
            # Nothing can be closed before the works began, whichever window was planned first.
            spans = [(began, first_end, index, None, last)] + [(max(s, began), *rest) for s, *rest in spans[1:]]
        if self.actual_end is not None:
            cut = _utc(self.actual_end)
            spans = [(s, min(e, cut), *rest) for s, e, *rest in spans]
        resolved = []
        for s, e, i, first, last in spans:
            if s < e:
                resolved.append((s, e, i, None if first is None and last is None else ((first, last),)))
        return resolved

    def _far_end(self, t: datetime) -> datetime:
        return min(max(self._horizon, t), _FOREVER) + _HOURS_MARGIN

    # -- pieces and segments: (start, end, state, window); a segment is a piece cut to a run of sessions

    def _piece_at(self, t: datetime) -> Piece | None:
        i = bisect_right(self._ends, t)
        if i < len(self._pieces) and self._pieces[i][0] <= t:
            return self._pieces[i]
        return None

    def _segment_at(self, t: datetime) -> tuple[str, datetime] | None:
        """The state and end of the segment holding `t`, if any."""
        piece = self._piece_at(t)
        if piece is None:
            return None
        if self._hours is None:
            return piece[2], piece[1]
        run_end = self._run_end(t, piece[4])
        return None if run_end is None else (piece[2], min(run_end, piece[1]))

    def _active_after(self, t: datetime) -> bool:
        """Whether a segment in effect starts after `t` (which lies in no segment)."""
        if self._active_end is None or t >= self._active_end:
            return False
        return self._hours is None or self._first_start_after(t, (ACTIVE,)) is not None

    def _first_start_after(self, t: datetime, wanted) -> datetime | None:
        """The start of the first segment in a `wanted` state after `t` (which lies in no segment)."""
        for start, end, state, _, days in self._pieces[bisect_right(self._ends, t):]:
            if state not in wanted:
                continue
            if self._hours is None:
                if start > t:
                    return start
                continue
            found = self._first_session(max(t, start), end, days)
            if found is not None and found > t:
                return found
        return None

    def _segments(self, a: datetime, b: datetime | None, wanted, reach: timedelta | None = None, pieces=None):
        """Segments in a `wanted` state with end > a and start < b (b None: no end), whole, in time order.

        A run's end is looked for up to `reach` past b (default: as far as a run may last). Only `pieces`
        are looked at, if given.
        """
        reach = self._margin if reach is None else reach
        for piece in self._pieces[bisect_right(self._ends, a):] if pieces is None else pieces:
            if piece[1] <= a:
                continue
            p_start, p_end, state, window, days = piece
            if b is not None and p_start >= b:
                return
            if state not in wanted:
                continue
            if self._hours is None:
                yield piece[:4]
                continue
            until = p_end + self._margin if b is None else min(p_end, max(a, b) + reach)
            for r_start, r_end in self._runs(max(a, p_start) - self._margin, until, days):
                s, e = max(r_start, p_start), min(r_end, p_end)
                if s >= p_end or (b is not None and s >= b):
                    break
                if s < e and e > a:
                    yield s, e, state, window

    def _period(self, segment) -> Period:
        start, end, state, window = segment
        label = self.schedule.windows[window].note
        return Period(start.astimezone(self.tz), None if end >= _FOREVER else end.astimezone(self.tz),
                      state, window, label)

    # -- sessions of the weekly hours, day by day and only as far as asked

    def _occurrences(self, since: datetime, until: datetime, days: Days) -> Iterator[tuple[datetime, datetime]]:
        """Every session of the `days` taken that may overlap [since, until], in order of start (each day's before
        the next's)."""
        tz = self.tz
        day = since.astimezone(tz).date() - _DAY  # a session may run on from the evening before
        last = until.astimezone(tz).date()
        while day <= last:
            if days is not None and not _takes(days, day):
                day += _DAY
                continue
            found = [_occurrence(h, day, tz) for h in self._by_weekday[day.weekday()]]
            if len(found) > 1:
                found.sort()
            yield from found
            day += _DAY

    def _runs(self, since: datetime, until: datetime, days: Days) -> Iterator[tuple[datetime, datetime]]:
        """Sessions merged where they touch, as `_union` merges them; the first may be cut short at `since`."""
        run: list[datetime] | None = None
        for s, e in self._occurrences(since, until, days):
            if run is not None and s <= run[1]:
                if e > run[1]:
                    run[1] = e
            else:
                if run is not None:
                    yield run[0], run[1]
                run = [s, e]
        if run is not None:
            yield run[0], run[1]

    def _covered(self, t: datetime, days: Days) -> bool:
        """Whether a session of the `days` taken holds `t`."""
        for s, e in self._occurrences(t, t, days):
            if s > t:
                return False
            if t < e:
                return True
        return False

    def _run_end(self, t: datetime, days: Days) -> datetime | None:
        """The end of the run of sessions holding `t`, or None if no session holds it."""
        end = None
        for s, e in self._occurrences(t, t + self._margin, days):
            if end is None:
                if s > t:
                    return None
                if t < e:
                    end = e
            elif s <= end:
                end = max(end, e)
            else:
                break
        return end

    def _first_session(self, since: datetime, until: datetime, days: Days) -> datetime | None:
        """The first instant of [since, until) inside a session, looking no further than `_PROBE` ahead."""
        limit = min(until, since + _PROBE)
        for s, e in self._occurrences(since, limit, days):
            if s >= limit:
                return None
            if e > since and s < e:
                return max(s, since)
        return None


def _regions(windows) -> list[tuple[datetime, datetime, int, Days]]:
    """Windows made disjoint: a window's last sessions may run on into the next window, so where windows meet
    the stretch belongs to the one begun last, and it takes the sessions of every window reaching over it."""
    cuts = sorted({x for w in windows for x in w[:2]})
    order = sorted(windows)
    out: list[tuple[datetime, datetime, int, Days]] = []
    active: list = []
    added = 0
    for x, y in zip(cuts, cuts[1:]):
        while added < len(order) and order[added][0] <= x:
            active.append(order[added])
            added += 1
        active = [w for w in active if w[1] > x]
        if not active:
            continue
        owner = max(active, key=lambda w: (w[0], w[2]))[2]
        days = _joined_days(w[3] for w in active)
        if out and out[-1][1] == x and out[-1][2] == owner:
            out[-1] = (out[-1][0], y, owner, _joined_days((out[-1][3], days)))
        else:
            out.append((x, y, owner, days))
    return out


def _joined_days(selections: Iterable[Days]) -> Days:
    ranges: set = set()
    for days in selections:
        if days is None:
            return None
        ranges.update(days)
    return tuple(sorted(ranges, key=lambda r: (r[0] or date.min, r[1] or date.max)))


def _takes(days: tuple, day: date) -> bool:
    return any((first is None or first <= day) and (last is None or day <= last) for first, last in days)


def _pieces(windows, pauses) -> tuple[Piece, ...]:
    """Each window cut by the (merged, sorted) pauses into stretches in effect and paused, in time order."""
    pause_ends = [e for _, e in pauses]
    out = []
    for w_start, w_end, index, days in sorted(windows, key=lambda w: w[:3]):
        cursor = w_start
        for p_start, p_end in pauses[bisect_right(pause_ends, cursor):]:
            if p_start >= w_end:
                break
            if p_start > cursor:
                out.append((cursor, p_start, ACTIVE, index, days))
            out.append((max(p_start, cursor), min(p_end, w_end), PAUSED, index, days))
            cursor = min(p_end, w_end)
        if cursor < w_end:
            out.append((cursor, w_end, ACTIVE, index, days))
    out.sort(key=lambda p: p[:4])
    return tuple(out)


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


def _occurrence(entry: Hours, day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The session of `entry` starting on local `day`, as UTC instants (a skipped wall time lands past the gap)."""
    start = _local(day, entry.start, tz)
    crosses = entry.ends_at_midnight or entry.end <= entry.start
    end = _local(day + timedelta(days=1) if crosses else day, entry.end, tz)
    return start, end


@lru_cache(maxsize=1024)
def _by_weekday(hours: tuple[Hours, ...]) -> tuple[tuple[Hours, ...], ...]:
    """The hours entries starting on each weekday, Monday first."""
    return tuple(tuple(h for h in hours if d in h.days) for d in range(7))


@lru_cache(maxsize=1024)
def _week_shape(hours: tuple[Hours, ...]) -> tuple[bool, timedelta]:
    """Whether the hours cover the whole week, and the longest run of touching sessions they make."""
    if not hours:
        return True, timedelta(0)
    monday = date(2024, 1, 1)  # any Monday: gaps are judged on a zone without clock changes
    spans = []
    for entry in hours:
        for day in entry.days:
            s, e = _occurrence(entry, monday + timedelta(days=day), UTC)
            spans += [(s - _WEEK, e - _WEEK), (s, e), (s + _WEEK, e + _WEEK)]
    week_start = _local_midnight(monday, UTC)
    merged = _union(spans)
    covers = any(s <= week_start and e >= week_start + _WEEK for s, e in merged)
    return covers, max((e - s for s, e in merged), default=timedelta(0))
