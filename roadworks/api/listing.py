"""The closure list (GET /api/v1/closures): selected from the snapshot, filtered by status, paged, joined."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from ..answers import Answer, lifetime, make_answer
from ..auth import Actor
from ..domain.crs import WGS84
from ..feeds import FragmentMemo, encode
from ..index import Snapshot
from ..pages import crs_note, features, select
from ..reports import Counted, with_reports
from .queries import DEFAULT_STATUSES

GEOJSON = "application/geo+json"


def closures_page(snapshot: Snapshot, query: dict, actor: Actor, now: datetime, memo: FragmentMemo,
                  next_url: Callable[[str], str], reports: Counted | None = None) -> Answer:
    """Closures matching `query` as `actor` sees them, with statuses at `at` (default now), a page at a time."""
    at = query.get("at") or now
    entries = select(snapshot, query)
    wanted = query.get("status") or set(DEFAULT_STATUSES)
    shown = [e for e in entries if e.visible(actor, now) and e.status(at)[0] in wanted]
    after = query.get("cursor")
    remaining = [e for e in shown if after is None or e.id > after]
    page = remaining[:query["limit"]]
    crs = query.get("crs", WGS84)
    members = {"type": "FeatureCollection", "features": features(page, at, crs, memo, reports and reports.of),
               "numberMatched": len(shown), "numberReturned": len(page)}
    note, headers = crs_note(crs)
    members.update(note)
    if "at" in query:
        members["at"] = at.isoformat()
    if len(remaining) > len(page):
        headers["Link"] = f'<{next_url(page[-1].id)}>; rel="next"'
    life = lifetime(snapshot, entries, actor, now, at=query.get("at"))
    if reports is not None:
        life = with_reports(life, reports, [e.id for e in shown])
    return make_answer(encode(members), GEOJSON, life, headers=headers)
