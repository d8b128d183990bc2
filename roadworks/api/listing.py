"""The closure list: selected from the read model, rendered once, and kept while its statuses hold."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from shapely.geometry import box

from ..auth import ANONYMOUS, Actor
from ..domain.crs import LABELS, URIS, WGS84, bbox_from
from ..feeds import in_crs
from ..index import Entry, Snapshot, first_event
from .http import etag_for
from .queries import DEFAULT_STATUSES
from .render import entry_feature

CACHE_SIZE = 512


@dataclass(frozen=True)
class Listing:
    """One rendered page of closures and how long it stays true."""

    body: bytes
    etag: str
    computed_at: datetime
    changed_at: datetime | None  # no earlier than the last change of this content (for Last-Modified)
    expires_at: datetime | None  # the first instant at which a status or a draft in it may change
    last_cursor: str | None      # id of the last feature when more follow


def scope_of(actor: Actor) -> tuple:
    """Drafts differ by who asks; everyone else sees the same list."""
    return ("public",) if not actor.is_editor else (actor.role, actor.agency)


class RenderCache:
    """Rendered answers (with `body`, `computed_at` and `expires_at`) by key, each reused while still true.

    The least recently used go first past `size` answers or, if given, `budget` bytes.
    """

    def __init__(self, size: int = CACHE_SIZE, budget: int | None = None):
        self.size, self.budget, self.used = size, budget, 0
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, now: datetime, render: Callable[[], Any]) -> Any:
        """The answer kept for `key` if it still holds at `now`, else a fresh one from `render`."""
        with self._lock:
            found = self._items.get(key)
            if found is not None and still_true(found, now):
                self._items.move_to_end(key)
                return found
        made = render()
        with self._lock:
            old = self._items.pop(key, None)
            self.used += len(made.body) - (len(old.body) if old is not None else 0)
            self._items[key] = made
            while len(self._items) > 1 and (len(self._items) > self.size or self._over_budget()):
                _, dropped = self._items.popitem(last=False)
                self.used -= len(dropped.body)
        return made

    def _over_budget(self) -> bool:
        return self.budget is not None and self.used > self.budget


class ListingCache:
    """Rendered listings per snapshot, query and scope, dropped when their expiry passes."""

    def __init__(self, size: int = CACHE_SIZE):
        self._cache = RenderCache(size)

    def get(self, snapshot: Snapshot, query: dict, actor: Actor, now: datetime) -> Listing:
        key = (snapshot.seq, scope_of(actor), query_key(query))
        return self._cache.get(key, now, lambda: render_listing(snapshot, query, actor, query.get("at") or now, now))


def query_key(query: dict) -> tuple:
    return tuple(sorted((k, repr(sorted(v) if isinstance(v, set) else v)) for k, v in query.items()))


def still_true(listing: Listing, now: datetime) -> bool:
    return listing.computed_at <= now and (listing.expires_at is None or now < listing.expires_at)


def render_listing(snapshot: Snapshot, query: dict, actor: Actor, at: datetime, now: datetime) -> Listing:
    """Select, filter by status at `at`, page and serialise."""
    entries = select(snapshot, query)
    explicit = "at" in query
    expires = _expiry(entries, at, now, explicit)
    wanted = query.get("status") or set(DEFAULT_STATUSES)
    shown = [e for e in entries if e.visible(actor, now) and e.status(at)[0] in wanted]
    after = query.get("cursor")
    remaining = [e for e in shown if after is None or e.id > after]
    page = remaining[:query["limit"]]
    crs = query.get("crs", WGS84)
    body: dict[str, Any] = {"type": "FeatureCollection",
                            "features": [entry_feature(e, at) for e in in_crs(page, crs)],
                            "numberMatched": len(shown), "numberReturned": len(page)}
    if crs != WGS84:
        body["coordinate_system"] = {"name": LABELS[crs], "uri": URIS[crs]}
    if explicit:
        body["at"] = at.isoformat()
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    more = page[-1].id if len(remaining) > len(page) else None
    return Listing(data, etag_for(data), now, _changed_at(snapshot, entries, at, now, explicit), expires, more)


def select(snapshot: Snapshot, query: dict) -> list[Entry]:
    """Entries matching every filter but status, in id order, drafts included; `bbox` is read in `crs`."""
    area = box(*bbox_from(query["bbox"], query.get("crs", WGS84))) if "bbox" in query else None
    entries = snapshot.select(area=area, project=query.get("project"), road=query.get("road"))
    since = query.get("updated_since")
    return [e for e in entries if since is None or e.view.closure.updated_at > since]


def public(entries: list[Entry], at: datetime) -> list[Entry]:
    """What anyone may see at `at`: drafts stay out until their publication."""
    return [e for e in entries if e.visible(ANONYMOUS, at)]


def _changed_at(snapshot: Snapshot, entries: list[Entry], at: datetime, now: datetime,
                explicit: bool) -> datetime | None:
    """The last write, or a later status change or publication among these closures, up to now."""
    moments = [snapshot.last_write_at]
    for entry in entries:
        if explicit:  # a fixed `at` moves only with writes and publications
            shown = entry.published_at
            moments.append(shown if shown is not None and shown <= now else None)
        else:
            moments.append(entry.last_event(at, now))
    return min(max((m for m in moments if m is not None), default=now), now)


def _expiry(entries: list[Entry], at: datetime, now: datetime, explicit: bool) -> datetime | None:
    """When this answer may stop being true: a status change at `at`'s pace, or a draft going public."""
    # With `at` fixed by the client, only publications move; otherwise `at` is now and statuses move too.
    moments = (first_event(None if explicit else entry.status(at)[1], entry.published_at, now) for entry in entries)
    return min((m for m in moments if m is not None), default=None)
