"""Settings from ROADWORKS_* environment variables, with defaults and a test override."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from .domain.errors import ValidationFailed

DEFAULTS: dict[str, Any] = {
    # Empty means a SQLite file in the instance folder, created and migrated on first start.
    "DATABASE_URL": "",
    "TIMEZONE": "Asia/Shanghai",
    # China, so a Xining line typed as lat,lon is caught as swapped; set your city's box instead.
    "SERVICE_AREA": "73.4,18.1,135.1,53.6",
    "MAX_BODY_BYTES": 5 * 1024 * 1024,
    # Named in the partner feeds (WZDx feed_info): who publishes them and how to reach them.
    "PUBLISHER": "Roadworks",
    "CONTACT": "",
    # The Open511 jurisdiction id (a domain name, e.g. jtj.xining.gov.cn) that prefixes every event id.
    "OPEN511_JURISDICTION": "roadworks.invalid",
    # Requests per client address without a token, and per token (partner, editor, admin).
    "RATE_LIMIT": "300 per minute",
    "PARTNER_RATE_LIMIT": "3000 per minute",
    # Residents' reports filed per client address (on top of RATE_LIMIT), shared through REDIS_URL when set.
    "REPORT_RATE_LIMIT": "5 per minute;30 per hour",
    # Seconds between two runs of `serve`'s job erasing contacts 180 days after a report was closed.
    "REPORT_ERASE_EVERY_S": 3600,
    # Empty keeps rate-limit counts in each process; redis://host:6379/0 shares them between workers.
    "REDIS_URL": "",
    "RATE_LIMIT_PREFIX": "roadworks",
    # The partner feeds' rolling horizon: whole days before and after today that they cover.
    "FEED_DAYS_BACK": 30,
    "FEED_DAYS_AHEAD": 180,
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none).
    "TRUSTED_PROXIES": 0,
    # The residents' map's base layer: a {z}/{x}/{y} tile URL template and the credit it requires.
    "TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "TILE_ATTRIBUTION": "© OpenStreetMap contributors",
    # The coordinate system the tiles are drawn in: wgs84 (OSM and most servers) or gcj02 (the usual tile
    # servers inside mainland China); with gcj02 the map asks the API for GCJ-02 lines so they sit on the streets.
    "TILE_CRS": "wgs84",
    # Level of the JSON log lines on stderr: INFO writes one line per request, WARNING only trouble.
    "LOG_LEVEL": "INFO",
    # Absolute URLs in bodies and headers (iCalendar URL, Link headers) start with this; never the Host header.
    "PUBLIC_URL": "http://localhost:8000/",
    # Replay: an ISO 8601 instant with its offset (2024-05-20T12:00+08:00). The service starts its clock there
    # and lets it run on at real speed; every answer says so in a Roadworks-Clock header. Empty: the real time.
    "AT": "",
    # Signs the bureau desk's CSRF tokens and cookie. Empty: one is generated on first start and kept in the
    # instance folder (instance/secret_key); set it when several hosts serve the desk.
    "SECRET_KEY": "",
    # How long a desk sign-in lasts, in minutes, from signing in (revoking the token ends it at once).
    "DESK_SESSION_MINUTES": 480,
    # ---- Bounded cost: every cap below is refused with a 400 problem that names it and its value.
    # Longest query string accepted, in bytes (as sent, percent escapes included), on every path.
    "MAX_QUERY_BYTES": 4096,
    # Longest closed interval a read may ask about (OGC datetime, Open511 in_effect_on); open ends cost no more.
    "MAX_INTERVAL_DAYS": 1830,
    # Route check: vertices of the route and the longest window [from, to).
    "ROUTE_MAX_VERTICES": 5000,
    "ROUTE_MAX_WINDOW_DAYS": 31,
    # Route check: the work one check may do, in (closure segment, route segment) pairs whose boxes (buffer
    # included) meet; about 0.35 s a million on one core. A route past it is asked to be split.
    "ROUTE_MAX_PAIRS": 2_000_000,
    # Road events one closure may put into a feed inside the horizon, counted as WZDx (the largest format)
    # writes them: periods x ways of travel (2 for `both`) x parts of the line. A write that could pass it in
    # any horizon-long span is refused with 422; a closure stored past it is cut at it. A year of night works
    # on a 30-part street both ways meets at most 213 nights of the default 211-day horizon: 12,780 events
    # (~13 MB of WZDx). Lengthen the horizon to a year and it needs 367 x 60 = 22,020: raise this with it.
    "FEED_MAX_EVENTS_PER_CLOSURE": 15000,
    # Road events one feed answer may hold in all (a whole city's WZDx at 100,000 closures was 920 MB); past it
    # the feed is refused with a 400 asking for a bbox, road or project. At least FEED_MAX_EVENTS_PER_CLOSURE.
    "FEED_MAX_EVENTS": 20000,
    # Byte budgets of this process's caches (least recently used dropped first). Answers: every public
    # answer with its compressed copies (answers.AnswerCache). Fragments: each closure's part of every page
    # and feed, kept across writes (feeds.FragmentMemo).
    "ANSWER_CACHE_BYTES": 64 * 1024 * 1024,
    "FRAGMENT_CACHE_BYTES": 128 * 1024 * 1024,
    # Closures parsed from the snapshot's compact form, with their resolved schedules (index.Kept): about
    # 2.6 KB a closure, so 48 MB holds about 18,000 of them; the others are parsed again when read.
    "PARSED_CACHE_BYTES": 48 * 1024 * 1024,
    # Redis (rate-limit counts): connect and read timeouts in milliseconds, and the pause before retrying it
    # after it failed, in seconds; meanwhile each process counts on its own.
    "REDIS_TIMEOUT_MS": 100,
    "REDIS_RETRY_S": 30,
    # Partner push: 1 lets webhook URLs reach loopback, link-local and private addresses (tests, a closed network).
    "WEBHOOK_ALLOW_PRIVATE": 0,
    # Partner push: concurrent deliveries of one worker (one per subscription at a time).
    "PUSH_THREADS": 16,
}

# Given only by code (tests, `roadworks serve`), never read from the environment: what tells the time (None:
# the system clock) and whether the app migrates its database when made.
CODE_ONLY: dict[str, Any] = {"CLOCK": None, "MIGRATE": True}

_INTEGERS = {"MAX_BODY_BYTES", "TRUSTED_PROXIES", "FEED_DAYS_BACK", "FEED_DAYS_AHEAD", "MAX_QUERY_BYTES",
             "MAX_INTERVAL_DAYS", "ROUTE_MAX_VERTICES", "ROUTE_MAX_WINDOW_DAYS", "ROUTE_MAX_PAIRS",
             "FEED_MAX_EVENTS_PER_CLOSURE", "FEED_MAX_EVENTS", "DESK_SESSION_MINUTES",
             "ANSWER_CACHE_BYTES", "FRAGMENT_CACHE_BYTES", "PARSED_CACHE_BYTES", "REDIS_TIMEOUT_MS", "REDIS_RETRY_S",
             "REPORT_ERASE_EVERY_S", "WEBHOOK_ALLOW_PRIVATE", "PUSH_THREADS"}


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults overlaid with every ROADWORKS_<NAME> variable that is set."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for name in DEFAULTS:
        raw = environ.get(f"ROADWORKS_{name}")
        if raw is not None and raw != "":
            settings[name] = int(raw) if name in _INTEGERS else raw
    return settings


def settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The app's one settings object: defaults, then ROADWORKS_* variables, then `overrides`.

    Every name is present, so readers index it instead of repeating defaults; a name nobody knows is refused,
    because a mistyped setting would otherwise be ignored without a word.
    """
    merged = {**from_environment(environ), **CODE_ONLY}
    for name, value in (overrides or {}).items():
        if name not in merged:
            raise ValidationFailed.one(name, "is not a setting (see roadworks/config.py)")
        merged[name] = int(value) if name in _INTEGERS and isinstance(value, str) else value
    return merged


def feed_horizon(settings: Mapping[str, Any]) -> tuple[timedelta, timedelta]:
    """The partner feeds' rolling horizon (back, ahead) from FEED_DAYS_BACK and FEED_DAYS_AHEAD."""
    return timedelta(days=int(settings["FEED_DAYS_BACK"])), timedelta(days=int(settings["FEED_DAYS_AHEAD"]))


def system_clock() -> datetime:
    """Now, time-zone aware; the app's CLOCK setting can replace it (tests, replays)."""
    return datetime.now(timezone.utc)


class ReplayClock:
    """The service's clock started at `start` and running on at real speed (`roadworks serve --at`).

    Running on, not standing still: partners replaying the founding case see statuses change at their instants,
    writes get increasing times (history, Last-Modified), and cache lifetimes still count down.
    """

    def __init__(self, start: datetime):
        self.start = start
        self._origin = time.monotonic()  # shared by gunicorn's forked workers: one clock for all of them

    def __call__(self) -> datetime:
        return (self.start + timedelta(seconds=time.monotonic() - self._origin)).astimezone(timezone.utc)

    @property
    def label(self) -> str:
        """The Roadworks-Clock header's value."""
        return f"replay {self.start.isoformat()}"


def parse_at(raw: str, name: str = "ROADWORKS_AT") -> datetime:
    """An instant to replay from: ISO 8601 with an offset or Z; anything else is refused naming `name`."""
    try:
        instant = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed.one(name, f"not an ISO 8601 date-time like 2024-05-20T12:00+08:00: {raw!r}") \
            from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValidationFailed.one(name, f"needs an offset or Z, as in 2024-05-20T12:00+08:00: {raw!r}")
    return instant


def make_clock(settings: Mapping[str, Any]):
    """CLOCK when given (tests), else a ReplayClock at AT when set, else the system clock."""
    if settings.get("CLOCK"):
        return settings["CLOCK"]
    if settings.get("AT"):
        return ReplayClock(parse_at(str(settings["AT"])))
    return system_clock
