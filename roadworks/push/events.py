"""Outbox rows made into webhook bodies once, and matched against each subscription's events and filters."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ..changes import Feed
from ..store.push import PushStore

TYPES = ("closure.created", "closure.updated", "closure.deleted", "closure.status_changed", "project.updated")
KEPT = 5000  # prepared events kept in memory: one body serves every subscription


@dataclass(frozen=True)
class Prepared:
    """One event as sent: its body (signed per subscription) and what filters look at."""

    id: int
    type: str
    body: str
    created_at: datetime  # wall clock at commit: lag is measured from it
    project: str | None
    road: str  # case-folded, for substring filters
    bounds: tuple[float, float, float, float] | None  # of the closure's line, none for a project


def matches(subscription: dict, event: Prepared) -> bool:
    """Whether a subscription wants this event: its types, then project, road and bbox (closures only)."""
    if event.type not in subscription["events"]:
        return False
    filters = subscription["filters"]
    if filters.get("project") and filters["project"] != event.project:
        return False
    if event.bounds is None:  # a project event: only the project filter applies
        return True
    if filters.get("road") and filters["road"].casefold() not in event.road:
        return False
    box = filters.get("bbox")
    if box:
        b = event.bounds
        return b[0] <= box[2] and box[0] <= b[2] and b[1] <= box[3] and box[1] <= b[3]
    return True


class Preparer:
    """Bodies of outbox rows, made once per event (a change's entry costs a few queries) and kept a while."""

    def __init__(self, push: PushStore):
        self.push = push
        self.kept: OrderedDict[int, Prepared] = OrderedDict()
        self.lock = threading.Lock()

    def after(self, cursor: int, limit: int, rows: list[dict] | None = None) -> list[Prepared]:
        """Events after `cursor`; from `rows` (fetched once for many subscriptions) where they reach that far."""
        if rows is None or not rows or rows[0]["id"] > cursor + 1 or rows[-1]["id"] <= cursor:
            rows = self.push.events_after(cursor, limit)
        else:
            rows = [r for r in rows if r["id"] > cursor][:limit]
        with self.lock:
            missing = [r for r in rows if r["id"] not in self.kept]
            if missing:
                self._prepare(missing)
            return [self.kept[r["id"]] for r in rows]

    def _prepare(self, rows: list[dict]) -> None:
        feed = Feed(self.push.store)
        entries = {e["seq"]: e for e in feed.entries(self.push.public_rows([r["pseq"] for r in rows if r["pseq"]]))}
        for row in rows:
            data = entries.get(row["pseq"]) if row["pseq"] else self._status_data(row)
            self.kept[row["id"]] = self._made(row, data)
        while len(self.kept) > KEPT:
            self.kept.popitem(last=False)

    def _status_data(self, row: dict) -> dict:
        return {"kind": "closure", "id": row["resource_id"], **(row["data"] or {})}

    def _made(self, row: dict, data: dict | None) -> Prepared:
        data = data or {"kind": row["kind"], "id": row["resource_id"]}
        project, road, bounds = self._facets(row, data)
        body = orjson.dumps({"type": row["type"], "timestamp": row["at"].isoformat(), "seq": row["id"],
                             "data": data}).decode()
        return Prepared(row["id"], row["type"], body, row["created_at"], project, road, bounds)

    def _facets(self, row: dict, data: dict) -> tuple[str | None, str, tuple | None]:
        if row["kind"] == "project":
            return row["resource_id"], "", None
        feature = data.get("data") if row["pseq"] else None
        if feature is None:  # a deletion or a status change: the closure's last stored version tells
            stored = self.push.store.get("closure", row["resource_id"], include_deleted=True)
            feature = None if stored is None else stored.doc
        if feature is None:
            return None, "", (0.0, 0.0, 0.0, 0.0)
        props = feature.get("properties") or {}
        return props.get("project"), (props.get("road") or "").casefold(), _bounds(feature.get("geometry"))


def _bounds(geometry: dict[str, Any] | None) -> tuple[float, float, float, float]:
    coords = (geometry or {}).get("coordinates") or []
    if geometry and geometry.get("type") == "MultiLineString":
        coords = [p for line in coords for p in line]
    if not coords:
        return (0.0, 0.0, 0.0, 0.0)
    lons, lats = [p[0] for p in coords], [p[1] for p in coords]
    return (min(lons), min(lats), max(lons), max(lats))
