"""Settings from ROADWORKS_* environment variables, with defaults and a test override."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

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
    # Level of the JSON log lines on stderr: INFO writes one line per request, WARNING only trouble.
    "LOG_LEVEL": "INFO",
    # Absolute URLs in bodies and headers (iCalendar URL, Link headers) start with this; never the Host header.
    "PUBLIC_URL": "http://localhost:8000/",
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
    # Byte budgets of this process's caches (least recently used dropped first). Answers: every public
    # answer with its compressed copies (answers.AnswerCache). Fragments: each closure's part of every page
    # and feed, kept across writes (feeds.FragmentMemo).
    "ANSWER_CACHE_BYTES": 64 * 1024 * 1024,
    "FRAGMENT_CACHE_BYTES": 128 * 1024 * 1024,
    # Redis (rate-limit counts): connect and read timeouts in milliseconds, and the pause before retrying it
    # after it failed, in seconds; meanwhile each process counts on its own.
    "REDIS_TIMEOUT_MS": 100,
    "REDIS_RETRY_S": 30,
    # Partner push: 1 lets webhook URLs reach loopback, link-local and private addresses (tests, a closed network).
    "WEBHOOK_ALLOW_PRIVATE": 0,
    # Partner push: concurrent deliveries of one worker (one per subscription at a time).
    "PUSH_THREADS": 16,
}

_INTEGERS = {"MAX_BODY_BYTES", "TRUSTED_PROXIES", "FEED_DAYS_BACK", "FEED_DAYS_AHEAD", "MAX_QUERY_BYTES",
             "MAX_INTERVAL_DAYS", "ROUTE_MAX_VERTICES", "ROUTE_MAX_WINDOW_DAYS", "ROUTE_MAX_PAIRS",
             "FEED_MAX_EVENTS_PER_CLOSURE",
             "ANSWER_CACHE_BYTES", "FRAGMENT_CACHE_BYTES", "REDIS_TIMEOUT_MS", "REDIS_RETRY_S",
             "WEBHOOK_ALLOW_PRIVATE", "PUSH_THREADS"}


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults overlaid with every ROADWORKS_<NAME> variable that is set."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for name in DEFAULTS:
        raw = environ.get(f"ROADWORKS_{name}")
        if raw is not None and raw != "":
            settings[name] = int(raw) if name in _INTEGERS else raw
    return settings


def feed_horizon(settings: Mapping[str, Any]) -> tuple[timedelta, timedelta]:
    """The partner feeds' rolling horizon (back, ahead) from FEED_DAYS_BACK and FEED_DAYS_AHEAD, else DEFAULTS."""
    return (timedelta(days=int(settings.get("FEED_DAYS_BACK", DEFAULTS["FEED_DAYS_BACK"]))),
            timedelta(days=int(settings.get("FEED_DAYS_AHEAD", DEFAULTS["FEED_DAYS_AHEAD"]))))


def system_clock() -> datetime:
    """Now, time-zone aware; the app's CLOCK setting can replace it (tests, replays)."""
    return datetime.now(timezone.utc)
