"""Settings from ROADWORKS_* environment variables, with defaults and a test override."""

from __future__ import annotations

import os
from datetime import datetime, timezone
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
}

_INTEGERS = {"MAX_BODY_BYTES", "TRUSTED_PROXIES", "FEED_DAYS_BACK", "FEED_DAYS_AHEAD"}


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults overlaid with every ROADWORKS_<NAME> variable that is set."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for name in DEFAULTS:
        raw = environ.get(f"ROADWORKS_{name}")
        if raw is not None and raw != "":
            settings[name] = int(raw) if name in _INTEGERS else raw
    return settings


def system_clock() -> datetime:
    """Now, time-zone aware; the app's CLOCK setting can replace it (tests, replays)."""
    return datetime.now(timezone.utc)
