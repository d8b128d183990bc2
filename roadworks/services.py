"""Wires settings, storage and the registry together for one app instance."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .answers import AnswerCache
from .config import feed_horizon, make_clock
from .domain.crs import NAMES as CRS_NAMES
from .domain.errors import ValidationFailed
from .domain.geometry import parse_service_area
from .domain.model import FeedCap
from .domain.schedule import zone
from .feeds import FragmentMemo
from .index import ReadModel
from .registry import Registry
from .reports import ReportCounts
from .store.engine import make_engine, migrate, sqlite_url
from .store.reports import ReportStore
from .store.push import PushStore, notifier
from .store.repository import Store


@dataclass
class Services:
    """What request handlers and commands need, built once per app."""

    settings: dict[str, Any]  # config.settings: every name present
    store: Store
    registry: Registry
    clock: Callable
    index: ReadModel
    answers: AnswerCache    # every public answer, within ANSWER_CACHE_BYTES
    fragments: FragmentMemo  # each closure's part of every page and feed, within FRAGMENT_CACHE_BYTES
    reports: ReportStore  # residents' reports (api/reports.py)
    report_counts: ReportCounts  # their counts by state on public closures, per change sequence
    push: PushStore  # partner push: subscriptions, the outbox, deliveries
    report_limiter: Any = None  # their per-address budget, made by api/reports.py on the first filing


def build(settings: Mapping[str, Any], instance_path: str, engine=None) -> Services:
    """Open (and migrate) the database and make the registry; on `engine` when given (the tests renew a shared
    app's services on its engine, whose compiled statements then serve the next test too)."""
    zone(settings["TIMEZONE"], "ROADWORKS_TIMEZONE")
    area = parse_service_area(settings["SERVICE_AREA"], path="ROADWORKS_SERVICE_AREA") \
        if settings["SERVICE_AREA"] else None
    if settings["TILE_CRS"] not in CRS_NAMES:
        raise ValidationFailed.one("ROADWORKS_TILE_CRS", f"one of {', '.join(CRS_NAMES)}, not {settings['TILE_CRS']!r}")
    if engine is None:
        engine = make_engine(settings["DATABASE_URL"] or sqlite_url(instance_path))
    if settings["MIGRATE"]:
        migrate(engine)
    store = Store(engine)
    # Delivery workers in other processes are woken after each write that announced push events.
    if engine.dialect.name == "postgresql":
        store.on_announce.append(notifier(engine))
    elif settings["REDIS_URL"]:
        from .push.worker import redis_announcer

        store.on_announce.append(redis_announcer(settings["REDIS_URL"]))
    clock = make_clock(settings)
    registry = Registry(store, default_timezone=settings["TIMEZONE"], service_area=area, clock=clock,
                        feed_cap=feed_cap(settings))
    index = ReadModel(store, int(settings["PARSED_CACHE_BYTES"]))
    # Built now, not on the first request: under `gunicorn --preload` workers inherit it at fork.
    index.snapshot()
    engine.dispose()  # no pooled or kept connection may cross a fork into a worker
    # The snapshot lives as long as the process: keep the collector from touching (and so copying,
    # after a fork) its pages.
    gc.collect()
    gc.freeze()
    reports = ReportStore(store)
    return Services(settings, store, registry, clock, index, AnswerCache(int(settings["ANSWER_CACHE_BYTES"])),
                    FragmentMemo(int(settings["FRAGMENT_CACHE_BYTES"])), reports, ReportCounts(reports),
                    PushStore(store))


def feed_cap(settings: Mapping[str, Any]) -> FeedCap:
    """FEED_MAX_EVENTS_PER_CLOSURE over the feeds' horizon: FEED_DAYS_BACK + FEED_DAYS_AHEAD and today."""
    back, ahead = feed_horizon(settings)
    return FeedCap(int(settings["FEED_MAX_EVENTS_PER_CLOSURE"]), (back + ahead).days + 1)
