"""Partner feed formats: thin adapters over the domain's periods in effect, within a rolling horizon."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from ..domain.crs import WGS84, shape_to
from ..domain.schedule import Period
from ..index import Entry


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


def in_crs(entries: list[Entry], crs: str) -> list[Entry]:
    """The entries with their lines in `crs`; statuses and schedules are shared, not recomputed."""
    if crs == WGS84:
        return entries
    return [replace(e, shape=(moved := shape_to(e.shape, crs)), bounds=moved.bounds) for e in entries]
