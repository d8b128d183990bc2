"""Project and Closure values, and the rules that tie a closure's schedule to its project."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from .errors import ValidationFailed
from .schedule import Schedule, Span, Timeline, When, check_pauses, check_schedule, end_instant, zone
from .schedule import start_instant

DIRECTIONS = ("both", "forward", "backward")
# The ways of travel a feed publishes for each direction: `both` is one event along the line, one against it.
TRAVELS = {"both": 2, "forward": 1, "backward": 1}
# Earlier than any schedule can start: the start of "all of a closure's periods".
_DAWN = datetime(1800, 1, 1, tzinfo=timezone.utc)
_DAY, _WEEK = timedelta(days=1), timedelta(days=7)
IMPACTS = ("closed", "lanes-closed", "alternating", "restricted")
ROLES = ("editor", "admin", "partner")


@dataclass(frozen=True)
class Project:
    """One construction undertaking: owns closures, a time zone and project-wide pauses."""

    id: str
    name: str
    agency: str
    timezone: str = "Asia/Shanghai"
    description: str | None = None
    contact: str | None = None
    reference: str | None = None
    pauses: tuple[Span, ...] = ()
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def check(self) -> None:
        """Raise ValidationFailed unless the zone exists and every pause is well ordered."""
        check_pauses(self.pauses, zone(self.timezone), "pauses")

    def in_zone(self, tz: tzinfo) -> "Project":
        """The same project with every date-time written in zone `tz` (same instants)."""
        return replace(self, pauses=tuple(_span_in(p, tz) for p in self.pauses))


@dataclass(frozen=True)
class Closure:
    """One road segment affected by works, with its phased schedule."""

    id: str
    project: str
    geometry: dict[str, Any]
    schedule: Schedule
    road: str
    from_: str | None = None
    to: str | None = None
    direction: str = "both"
    impact: str = "closed"
    description: str | None = None
    detour: str | None = None
    actual_start: When | None = None
    actual_end: When | None = None
    cancelled: bool = False
    publish_at: When | None = None
    length_m: float = 0.0
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self, project: Project, feed_cap: "FeedCap | None" = None) -> None:
        """Raise ValidationFailed unless the schedule holds together in the project's zone (and, given a
        `feed_cap`, unless the closure stays under it in every feed)."""
        check_schedule(self.schedule, zone(project.timezone), "properties.schedule")
        tz = zone(project.timezone)
        began, reopened = self.resolved_actuals(tz)
        if began and reopened and reopened <= began:
            raise ValidationFailed.one("properties.actual_end", "reopening must come after the works began")
        started = began or min(start_instant(w.start, tz) for w in self.schedule.windows)
        if reopened and reopened <= started:
            # A road cannot reopen before it closed: the map would show a reopening that never happened.
            raise ValidationFailed.one("properties.actual_end", (
                f"the reopening ({reopened.astimezone(tz).isoformat()}) must come after the closure started "
                f"({started.astimezone(tz).isoformat()}, its first window's start)"))
        if feed_cap is not None:
            feed_cap.check(self, project)

    def resolved_actuals(self, tz) -> tuple[datetime | None, datetime | None]:
        """Actual start and end as instants: a date means the start of that local day."""
        return (None if self.actual_start is None else start_instant(self.actual_start, tz),
                None if self.actual_end is None else start_instant(self.actual_end, tz))

    def timeline(self, project: Project) -> Timeline:
        """The closure's schedule resolved in its project's zone with the project's pauses."""
        tz = zone(project.timezone)
        began, reopened = self.resolved_actuals(tz)
        return Timeline(self.schedule, tz, project.pauses, began, reopened, self.cancelled)

    def published_at(self, project: Project) -> datetime | None:
        """When a draft becomes public (None: published at once)."""
        return None if self.publish_at is None else start_instant(self.publish_at, zone(project.timezone))

    def is_published(self, project: Project, now: datetime) -> bool:
        """A draft stays hidden from the public until its publish_at instant."""
        shown = self.published_at(project)
        return shown is None or shown <= now

    def planned_end(self, project: Project) -> datetime | None:
        """The end of the last window as planned, ignoring any actual reopening."""
        tz = zone(project.timezone)
        ends = [end_instant(w.end, tz) for w in self.schedule.windows]
        return None if any(e is None for e in ends) else max(ends)

    def in_zone(self, tz: tzinfo) -> "Closure":
        """The same closure with every date-time written in zone `tz` (same instants)."""
        schedule = replace(self.schedule, windows=tuple(_span_in(w, tz) for w in self.schedule.windows),
                           pauses=tuple(_span_in(p, tz) for p in self.schedule.pauses))
        return replace(self, schedule=schedule, actual_start=_in(self.actual_start, tz),
                       actual_end=_in(self.actual_end, tz), publish_at=_in(self.publish_at, tz))


def _in(value: When | None, tz: tzinfo) -> When | None:
    return value.astimezone(tz) if isinstance(value, datetime) else value


def _span_in(span: Span, tz: tzinfo) -> Span:
    return replace(span, start=_in(span.start, tz), end=_in(span.end, tz))


# ---------------------------------------------------------------------------- feed output

def feed_parts(geometry: dict[str, Any]) -> int:
    """The lines a feed publishes the closure as: WZDx and Waze take LineStrings only."""
    return len(geometry["coordinates"]) if geometry.get("type") == "MultiLineString" else 1


def feed_events(periods: int, closure: Closure) -> int:
    """The road events one closure puts into a feed with `periods` periods in effect.

    WZDx, the largest format, publishes one event per period, per way of travel and per part of the line;
    Waze publishes one per period without hours and part, iCalendar one per period: never more.
    """
    return periods * TRAVELS.get(closure.direction, 2) * feed_parts(closure.geometry)


def most_periods(closure: Closure, project: Project, days: int) -> int:
    """An upper bound on the periods in effect that overlap any `days` consecutive days, in bounded work.

    The schedule without its hours is a few stretches (windows cut by pauses and actual dates), however
    far they reach. Inside a stretch of L days weekly hours give at most `per_week` x (ceil(L/7) + 2)
    sessions, and at most `per_day` x (ceil(L) + 2) (a session starts on a day and lasts under 26 hours),
    a stretch's edges cutting a session in two at worst. Without hours each stretch is one period.
    """
    span = timedelta(days=days)
    timeline = closure.timeline(project)
    bare = replace(timeline, schedule=replace(timeline.schedule, hours=()))
    stretches = [(p.start, p.end) for p in bare.periods(_DAWN, None)]
    hours = closure.schedule.hours

    def sessions(start: datetime, end: datetime | None) -> int:
        if not hours:
            return 1
        length = span if end is None else min(end - start, span)
        per_week = sum(len(h.days) for h in hours)
        per_day = max(sum(1 for h in hours if day in h.days) for day in range(7))
        return min(per_week * (math.ceil(length / _WEEK) + 2), per_day * (math.ceil(length / _DAY) + 2))

    counts = [sessions(s, e) for s, e in stretches]
    # The stretches one span meets are consecutive: slide over them, each block starting with stretch i.
    best, total, last = 0, 0, 0
    for i, (_, end) in enumerate(stretches):
        while last < len(stretches) and (end is None or stretches[last][0] < end + span):
            total += counts[last]
            last += 1
        best = max(best, total)
        total -= counts[i]
    return best


@dataclass(frozen=True)
class ClosureView:
    """A closure with the project that gives its schedule meaning."""

    closure: Closure
    project: Project


@dataclass(frozen=True)
class FeedCap:
    """At most `events` road events from one closure in a feed covering `days` days (FEED_MAX_EVENTS_PER_CLOSURE)."""

    events: int
    days: int
    setting: str = "FEED_MAX_EVENTS_PER_CLOSURE"

    def check(self, closure: Closure, project: Project) -> None:
        """Raise ValidationFailed, naming the cap and its value, if the closure could pass it in any feed span."""
        worst = feed_events(most_periods(closure, project, self.days), closure)
        if worst <= self.events:
            return
        if feed_events(1, closure) > self.events:
            path = "geometry"
        else:
            path = "properties.schedule.hours" if closure.schedule.hours else "properties.schedule.windows"
        raise ValidationFailed.one(path, (
            f"would put up to {worst} road events into a {self.days}-day feed (periods x ways of travel x "
            f"parts of the line); {self.setting} is {self.events}: use fewer parts, hours or windows"))
