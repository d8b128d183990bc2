"""Project and Closure values, and the rules that tie a closure's schedule to its project."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any

from .errors import ValidationFailed
from .schedule import Schedule, Span, Timeline, When, check_pauses, check_schedule, end_instant, zone
from .schedule import start_instant

DIRECTIONS = ("both", "forward", "backward")
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

    def check(self, project: Project) -> None:
        """Raise ValidationFailed unless the schedule holds together in the project's zone."""
        check_schedule(self.schedule, zone(project.timezone), "properties.schedule")
        tz = zone(project.timezone)
        began, reopened = self.resolved_actuals(tz)
        if began and reopened and reopened <= began:
            raise ValidationFailed.one("properties.actual_end", "reopening must come after the works began")

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
