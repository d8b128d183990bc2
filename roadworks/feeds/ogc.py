"""OGC API - Features over the closures: the datetime filter and the collection's extent, from the domain's periods."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from ..domain.crs import URIS, WGS84
from ..domain.schedule import Timeline
from ..index import Entry
from . import DAWN, final_period

GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


def effect_span(timeline: Timeline) -> tuple[datetime, datetime | None] | None:
    """From the first moment in effect to the last (None: runs on), or None if never in effect.

    Bounded work: the first period and the last, never the sessions in between (a window may reach 2199).
    """
    first = next(iter(timeline.iter_periods(DAWN, None)), None)
    final = final_period(timeline)
    if first is None or final is None:
        return None
    last = final.end
    # Weekly hours split an open-ended window into periods without end: it runs on if its status still moves.
    if last is not None and timeline.next_change(last) is not None:
        last = None
    return first.start, last


def extent(entries: Iterable[Entry]) -> dict | None:
    """The collection's extent: the box around every line (CRS84) and the span of time any is in effect."""
    entries = list(entries)
    if not entries:
        return None
    boxes = [e.bounds for e in entries]
    bbox = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
    out = {"spatial": {"bbox": [bbox], "crs": URIS[WGS84]}}
    spans = [s for s in (effect_span(e.timeline) for e in entries) if s is not None]
    if spans:
        first = min(s[0] for s in spans)
        last = None if any(s[1] is None for s in spans) else max(s[1] for s in spans)
        out["temporal"] = {"interval": [[utc(first), utc(last)]], "trs": GREGORIAN}
    return out


def utc(instant: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as OGC API examples and clients expect."""
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
