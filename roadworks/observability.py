"""Operations: JSON request and audit logs with a request id, and Prometheus metrics.

Everything here runs in one WSGI middleware wrapped around the whole app (outside the replay of kept answers in
api/answering.py, which answers repeated polls without entering Flask, and outside api/headers.py), so replays,
304s, preflights and errors get the same request id, metrics and log line as any other answer. A small Flask
hook passes in what only Flask knows: the route template and the actor. What a write was, the API says
(audit(), called by the bureau's blueprint).

Metrics live in a CollectorRegistry of the app's own. Under gunicorn each worker process counts alone, so a
scrape sees one worker's numbers, unless PROMETHEUS_MULTIPROC_DIR names an empty directory, writable by all
workers and emptied before each start: then every worker writes its counts there and any worker's /metrics
adds them up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import time
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, Iterable

import orjson
from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from pythonjsonlogger.orjson import OrjsonFormatter
from werkzeug.exceptions import HTTPException

from .answers import Lifetime, lifetime
from .auth import ANONYMOUS
from .domain.errors import ValidationFailed
from .domain.schedule import STATUSES
from .push.metrics import PushCollector

log = logging.getLogger("roadworks.request")
audit_log = logging.getLogger("roadworks.audit")

REQUEST_ID = contextvars.ContextVar("roadworks_request_id", default=None)
# Accepted from clients as is; anything else (too long, spaces, control characters) is replaced.
WELL_FORMED_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")
ROUTE_KEY, ACTOR_KEY = "roadworks.route", "roadworks.actor"
UNMATCHED = "<unmatched>"

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def install(app: Flask, services, level: str = "INFO") -> "Metrics":
    """Wrap the app (call last, so the middleware is outermost) and add the Flask-side hook."""
    configure_logging(level)
    metrics = app.extensions["roadworks_metrics"] = Metrics(services)
    app.after_request(_note)
    app.wsgi_app = Observed(app, app.wsgi_app, metrics)
    return metrics


# ---------------------------------------------------------------------- logging

class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (test runners and CLIs swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


class RequestIdFilter(logging.Filter):
    """Stamps every line written while a request is served with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonLines(OrjsonFormatter):
    """python-json-logger's lines, encoded by orjson; a request line is written straight from its fields.

    Every poll writes a request line, and it was a third of a replayed answer's cost: python-json-logger's
    generic path sifts the record's attributes for extras, while a request line carries them in one dict.
    """

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__.get("fields")
        if fields is None:
            return super().format(record)
        return request_line(record.levelname, record.name, record.getMessage(), fields,
                            record.__dict__.get("request_id"), datetime.fromtimestamp(record.created, timezone.utc))


def request_line(level: str, logger: str, message: str, fields: dict, request_id: str | None,
                 at: datetime) -> str:
    """One request's JSON line, however it is written (through logging, or straight to the one handler)."""
    return orjson.dumps({"level": level, "logger": logger, "message": message, **fields, "request_id": request_id,
                         "timestamp": at}).decode()


def _sole_handler(logger: logging.Logger, level: int) -> logging.Handler | None:
    """Our JSON handler, when it is all a line of `logger` at `level` would reach (no filter, capture or copy)."""
    parent = logger.parent
    if logger.handlers or logger.filters or not logger.propagate or parent is None or parent.filters:
        return None
    if len(parent.handlers) != 1 or (parent.propagate and logging.root.handlers):
        return None
    handler = parent.handlers[0]
    return handler if getattr(handler, "roadworks_json", False) and level >= handler.level else None


def json_handler(stream=None) -> logging.Handler:
    """A handler writing one JSON object per line, with a UTC timestamp and the request id."""
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    handler.setFormatter(JsonLines("%(levelname)s %(name)s %(message)s", timestamp=True,
                                   rename_fields={"levelname": "level", "name": "logger"}))
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(level: str = "INFO") -> None:
    """Send the `roadworks` loggers to stderr as JSON, once per process however many apps are made."""
    if level.upper() not in LEVELS:
        raise ValidationFailed.one("ROADWORKS_LOG_LEVEL", f"must be one of {', '.join(LEVELS)} (got {level!r})")
    logger = logging.getLogger("roadworks")
    logger.setLevel(level.upper())
    audit_log.setLevel(logging.INFO)  # the record of who changed what stays, whatever the level
    if not any(getattr(h, "roadworks_json", False) for h in logger.handlers):
        handler = json_handler()
        handler.roadworks_json = True
        logger.addHandler(handler)


def log_server(name: str) -> None:
    """Under a server that calls logging.basicConfig() (waitress does): its lines as JSON too, ours once.

    basicConfig adds a plain-text handler to the root logger only when the root has none, and every `roadworks`
    line would reach it too and be printed twice; a root NullHandler keeps it from adding one.
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    server = logging.getLogger(name)
    if not any(getattr(h, "roadworks_json", False) for h in server.handlers):
        handler = json_handler()
        handler.roadworks_json = True
        server.addHandler(handler)
    if server.level == logging.NOTSET:
        server.setLevel(logging.INFO)  # "Serving on ..." is an INFO line


# ---------------------------------------------------------------------- metrics

class Metrics:
    """Request counts, latency and cache hits per app; closures by status computed at each scrape."""

    def __init__(self, services):
        self.registry = CollectorRegistry()
        self.requests = Counter("roadworks_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("roadworks_http_request_duration_seconds",
                                 "Time from receiving a request to sending its response headers",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.cache_hits = Counter("roadworks_http_cache_hits",
                                  "Answers from a cache: 304s of the app, and replays of the cached-read path",
                                  ["source", "status"], registry=self.registry)
        self._children: dict[tuple, tuple] = {}
        self.closures = ClosureCollector(services)
        self.registry.register(self.closures)
        self.push = PushCollector(services.push)
        self.registry.register(self.push)

    def observe(self, method: str, route: str, status: int, seconds: float, replayed: bool) -> None:
        key = (method if method in KNOWN_METHODS else "other", route, status, replayed)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._children_of(*key)
        count, latency, hit = children
        count.inc()
        latency.observe(seconds)
        if hit is not None:
            hit.inc()

    def _children_of(self, method: str, route: str, status: int, replayed: bool) -> tuple:
        """The labelled series of one kind of request; looked up once, since labels() costs more than inc()."""
        hit = self.cache_hits.labels("replay" if replayed else "app", str(status)) \
            if replayed or status == 304 else None
        return self.requests.labels(method, route, str(status)), self.latency.labels(method, route), hit

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The text a scrape gets, in the format its Accept header prefers."""
        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            registry.register(self.closures)
            registry.register(self.push)
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


class ClosureCollector:
    """Published closures by their status now, read from the process's read model at scrape time."""

    def __init__(self, services):
        self.services = services
        self.kept: tuple[int, Lifetime, dict[str, int]] | None = None  # (snapshot seq, lifetime, counts)

    def collect(self):
        try:
            snapshot = self.services.index.snapshot()
        except Exception:  # the database is down: the request metrics are still worth scraping
            logging.getLogger(__name__).warning("metrics: read model unavailable", exc_info=True)
            return
        now = self.services.clock()
        counts = self._counts(snapshot, now)
        family = GaugeMetricFamily("roadworks_closures", "Published closures by status now", labels=["status"])
        for status, count in counts.items():
            family.add_metric([status], count)
        yield family
        try:
            # The public number, publications due by now included: saving a draft must not move it.
            sequence = self.services.store.public_sequence(now)
        except Exception:
            logging.getLogger(__name__).warning("metrics: change sequence unavailable", exc_info=True)
            return
        yield GaugeMetricFamily("roadworks_change_sequence",
                                "Public change sequence: the last number of GET /api/v1/changes", value=sequence)

    def _counts(self, snapshot, now: datetime) -> dict[str, int]:
        """Closures by status now, counted again only when the snapshot or a status has changed since.

        Scrapes come every few seconds and the counts move only at writes and status changes; counting a
        city of 100,000 closures at each scrape would cost a whole-city pass each time.
        """
        kept = self.kept
        if kept is not None and kept[0] == snapshot.seq and kept[1].built_at <= now \
                and (kept[1].expires_at is None or now < kept[1].expires_at):
            return kept[2]
        entries = snapshot.entries
        counts = dict.fromkeys(STATUSES, 0)
        for entry in entries():
            if entry.visible(ANONYMOUS, now):
                status = entry.status(now)[0]
                counts[status] = counts.get(status, 0) + 1
        self.kept = (snapshot.seq, lifetime(snapshot, entries(), ANONYMOUS, now), counts)
        return counts


# ---------------------------------------------------------------------- the Flask side

def _note(response: Response) -> Response:
    """Tell the middleware the route and the actor."""
    environ = request.environ
    environ[ROUTE_KEY] = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    who = g.get("_roadworks_actor")  # set by api.http.actor() when a token was resolved; never resolved here
    if who is not None:
        environ[ACTOR_KEY] = who
    return response


def audit(who, response: Response, ids: list[Any], version: int | None) -> None:
    """One line per accepted write: who, what (the ids written) and which version it produced."""
    audit_log.info("write", extra={
        "actor": getattr(who, "name", None), "token_id": getattr(who, "token_id", None),
        "agency": getattr(who, "agency", None), "method": request.method, "route": request.url_rule.rule,
        "ids": ids, "version": version, "status": response.status_code,
        "replayed": response.headers.get("Idempotent-Replayed") == "true"})


# ---------------------------------------------------------------------- the middleware

class Observed:
    """Outermost WSGI layer: request id, metrics and the request log line."""

    def __init__(self, flask_app: Flask, wsgi_app: Callable, metrics: Metrics):
        self.wsgi_app, self.metrics = wsgi_app, metrics
        self.url_map = flask_app.url_map
        self.route_of = lru_cache(maxsize=4096)(self._route_of)

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = _request_id(environ.get("HTTP_X_REQUEST_ID"))
        context = REQUEST_ID.set(request_id)
        answered = []

        def start(status: str, headers: list, exc_info=None):
            if not answered:
                answered.append(status)
                headers.append(("X-Request-Id", request_id))
                self._record(environ, int(status[:3]), headers, time.perf_counter() - started)
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        except Exception:
            if not answered:
                self._record(environ, 500, [], time.perf_counter() - started)
            raise
        finally:
            REQUEST_ID.reset(context)

    def _record(self, environ, status: int, headers: list, seconds: float) -> None:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        # Answered without entering Flask: a replay of the cached-read path, or (OPTIONS) a CORS preflight.
        replayed = ROUTE_KEY not in environ and method != "OPTIONS"
        route = environ.get(ROUTE_KEY) or self.route_of(path, method)
        self.metrics.observe(method, route, status, seconds, replayed)
        level = logging.ERROR if status >= 500 else logging.INFO
        if not log.isEnabledFor(level):
            return
        who = environ.get(ACTOR_KEY)
        actor = who.name if who is not None else ("unverified" if "HTTP_AUTHORIZATION" in environ else "anonymous")
        size = next((v for n, v in headers if n.lower() == "content-length"), None)
        fields = {"method": method, "path": path, "route": route, "status": status,
                  "duration_ms": round(seconds * 1000, 3), "actor": actor, "token_id": getattr(who, "token_id", None),
                  "remote_addr": environ.get("REMOTE_ADDR"), "bytes": int(size) if size else None,
                  "replayed": replayed, "user_agent": environ.get("HTTP_USER_AGENT")}
        if not _written_straight(level, fields):
            # Made and handed over directly: Logger.log would walk the stack to find this very line.
            log.handle(log.makeRecord(log.name, level, __file__, 0, "request", (), None, extra={"fields": fields}))


    def _route_of(self, path: str, method: str) -> str:
        """The route template of a path the app did not see (replays, preflights), to keep labels few."""
        try:
            rule, _ = self.url_map.bind("localhost").match(path, method=method, return_rule=True)
        except HTTPException:
            return UNMATCHED
        return rule.rule


def _written_straight(level: int, fields: dict) -> bool:
    """Write the request line to our JSON handler's stream without a LogRecord, where nothing else would see it.

    A LogRecord and the handler's machinery were two thirds of the line's cost, and the line a third of a
    replayed 304's. Anywhere another handler, filter or capture listens (tests, a server's own logging), the
    line goes through logging as any other, in the same bytes (`request_line`).
    """
    handler = _sole_handler(log, level)
    if handler is None:
        return False
    text = request_line(logging.getLevelName(level), log.name, "request", fields, REQUEST_ID.get(),
                        datetime.now(timezone.utc)) + handler.terminator
    with handler.lock:
        try:
            handler.stream.write(text)
            handler.stream.flush()
        except (OSError, ValueError):
            return False  # through logging, which reports a broken stream its own way
    return True


def _request_id(incoming: str | None) -> str:
    if incoming and WELL_FORMED_ID.match(incoming):
        return incoming
    return os.urandom(16).hex()
