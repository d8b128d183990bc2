"""The closure list: selected from the read model, rendered once, and kept while its statuses hold."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from shapely.geometry import box

from ..auth import ANONYMOUS, Actor
from ..budget import ByteLru
from ..config import DEFAULTS
from ..domain.crs import LABELS, URIS, WGS84, bbox_from
from ..feeds import in_crs
from ..index import Entry, Snapshot, first_event, last_visible_change, next_visible_event, visible
from .http import etag_for
from .queries import DEFAULT_STATUSES
from .render import entry_feature


@dataclass(frozen=True)
class Listing:
    """One rendered page of closures and how long it stays true."""

    body: bytes
    etag: str
    computed_at: datetime
    changed_at: datetime | None  # no earlier than the last change of this content (for Last-Modified)
    expires_at: datetime | None  # the first instant at which a status or a draft in it may change (our caches)
    last_cursor: str | None      # id of the last feature when more follow
    # What clients are told (max-age): the next change the asker may see. Drafts hidden from them do not count.
    max_age_until: datetime | None = None


def scope_of(actor: Actor) -> tuple:
    """Drafts differ by who asks; everyone else sees the same list."""
    return ("public",) if not actor.is_editor else (actor.role, actor.agency)


class RenderCache:
    """Rendered answers (with `body`, `computed_at` and `expires_at`) by key, each reused while still true.

    Bounded by bytes, not by count: an answer may be a few hundred bytes or tens of megabytes. Each one
    costs its body, its key and a fixed overhead; the least recently used go first past `budget`, and an
    answer larger than the whole budget is served but not kept.
    """

    # How ANSWER_CACHE_BYTES is split between the answer caches. Feeds get half: one city-wide WZDx feed
    # is megabytes and partners poll a handful of them all day. Listings and their replays (compressed
    # copies of the same bytes, api/fastpath.py) get a quarter each.
    SHARES = {"feeds": 0.5, "listings": 0.25, "replay": 0.25}

    def __init__(self, budget: int):
        self._items = ByteLru(budget)

    @classmethod
    def share_of(cls, settings: dict, name: str) -> int:
        """The bytes of ANSWER_CACHE_BYTES that the cache `name` ("feeds", "listings", "replay") may hold."""
        return int(int(settings.get("ANSWER_CACHE_BYTES", DEFAULTS["ANSWER_CACHE_BYTES"])) * cls.SHARES[name])

    @property
    def budget(self) -> int:
        return self._items.budget

    @property
    def used(self) -> int:
        return self._items.used

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple, now: datetime, render: Callable[[], Any]) -> Any:
        """The answer kept for `key` if it still holds at `now`, else a fresh one from `render`."""
        found = self._items.get(key)
        if found is not None and still_true(found, now):
            return found
        made = render()
        self.keep(key, made)
        return made

    def keep(self, key: tuple, made: Any) -> None:
        self._items.put(key, made, answer_bytes(key, made.body))


# What a kept answer costs beyond its body and key: the answer object, its ETag and dates, the dict slot.
ENTRY_OVERHEAD = 512


def answer_bytes(key: tuple, body: bytes) -> int:
    """An estimate of the memory one kept answer holds: its body, its key (as long as its repr) and overhead."""
    return len(body) + len(repr(key)) + ENTRY_OVERHEAD


class ListingCache:
    """Rendered listings per snapshot, query and scope, dropped when their expiry passes."""

    def __init__(self, budget: int | None = None):
        self._cache = RenderCache(RenderCache.share_of(DEFAULTS, "listings") if budget is None else budget)

    @classmethod
    def from_settings(cls, settings: dict) -> "ListingCache":
        return cls(RenderCache.share_of(settings, "listings"))

    @property
    def used(self) -> int:
        return self._cache.used

    @property
    def budget(self) -> int:
        return self._cache.budget

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, snapshot: Snapshot, query: dict, actor: Actor, now: datetime) -> Listing:
        key = (snapshot.seq, scope_of(actor), query_key(query))
        return self._cache.get(key, now, lambda: render_listing(snapshot, query, actor, query.get("at") or now, now))


def query_key(query: dict) -> tuple:
    """The parsed query in canonical order: queries that mean the same (limit=0010 and limit=10, parameters
    in another order, a bbox's numbers written differently, a status list reordered) get one key."""
    return tuple(sorted((name, repr(_canonical(value))) for name, value in query.items()))


def _canonical(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(value))
    if isinstance(value, (tuple, list)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, float):
        return value + 0.0  # -0.0 and 0.0 are one number
    return value  # an instant keeps its offset in its repr: the answer echoes `at` as it was written


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
    return Listing(data, etag_for(data), now, _changed_at(snapshot, entries, actor, at, now, explicit), expires, more,
                   next_visible_event(entries, actor, at, now, statuses=not explicit))


def select(snapshot: Snapshot, query: dict) -> list[Entry]:
    """Entries matching every filter but status, in id order, drafts included; `bbox` is read in `crs`."""
    area = box(*bbox_from(query["bbox"], query.get("crs", WGS84))) if "bbox" in query else None
    entries = snapshot.select(area=area, project=query.get("project"), road=query.get("road"))
    since = query.get("updated_since")
    return [e for e in entries if since is None or e.view.closure.updated_at > since]


def public(entries: list[Entry], at: datetime) -> list[Entry]:
    """What anyone may see at `at`: drafts stay out until their publication."""
    return visible(entries, ANONYMOUS, at)


def _changed_at(snapshot: Snapshot, entries: list[Entry], actor: Actor, at: datetime, now: datetime,
                explicit: bool) -> datetime | None:
    """The last write the asker may see, or a later status change or publication among what they see, up to now."""
    # A fixed `at` moves only with writes and publications.
    found = last_visible_change(snapshot, entries, actor, at, now, statuses=not explicit)
    return now if found is None else found


def _expiry(entries: list[Entry], at: datetime, now: datetime, explicit: bool) -> datetime | None:
    """When this answer may stop being true: a status change at `at`'s pace, or a draft going public."""
    # With `at` fixed by the client, only publications move; otherwise `at` is now and statuses move too.
    moments = (first_event(None if explicit else entry.status(at)[1], entry.published_at, now) for entry in entries)
    return min((m for m in moments if m is not None), default=None)
