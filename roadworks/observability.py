"""Operations: JSON request and audit logs with a request id, Prometheus metrics, security headers, read-only CORS.

Everything here runs in one WSGI middleware wrapped around the whole app (outside the cached-read path of
api/fastpath.py, which answers repeated polls without entering Flask), so replays, 304s and errors get the
same headers, metrics and log line as any other answer. A small Flask hook passes in what only Flask knows:
the route template, the actor and, for HTML pages, the hashes of their inline scripts.

Metrics live in a CollectorRegistry of the app's own. Under gunicorn each worker process counts alone, so a
scrape sees one worker's numbers, unless PROMETHEUS_MULTIPROC_DIR names an empty directory, writable by all
workers and emptied before each start: then every worker writes its counts there and any worker's /metrics
adds them up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import logging
import os
import re
import sys
import time
from functools import lru_cache
from typing import Callable, Iterable

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import HTTPException

from .api.problems import PROBLEMS
from .auth import ANONYMOUS
from .domain.errors import ValidationFailed
from .domain.schedule import STATUSES

log = logging.getLogger("roadworks.request")
audit_log = logging.getLogger("roadworks.audit")

REQUEST_ID = contextvars.ContextVar("roadworks_request_id", default=None)
# Accepted from clients as is; anything else (too long, spaces, control characters) is replaced.
WELL_FORMED_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")
ROUTE_KEY, ACTOR_KEY = "roadworks.route", "roadworks.actor"
UNMATCHED = "<unmatched>"

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# Pages (the map, the API docs) load their own scripts and styles; tiles may come from any HTTPS server.
PAGE_POLICY = ("default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: https:; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)

READ_METHODS = frozenset({"GET", "HEAD"})
# POSTs that only read: a route is too long for a query string, but checking it changes nothing.
READ_POSTS = frozenset({"/api/v1/route-check"})
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CORS_ALLOWED_HEADERS = "Accept, Accept-Language, Authorization, If-None-Match, If-Modified-Since, X-Request-Id"
CORS_EXPOSED_HEADERS = ("ETag, Link, Location, Content-Location, Retry-After, RateLimit, RateLimit-Policy, "
                        "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id")
LATENCY_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ETAG_VERSION = re.compile(r'^(?:W/)?"(\d+)\.')


def _headers(*pairs: tuple[str, str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((name.lower(), name, value) for name, value in pairs)


_COMMON = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"))
_API_HEADERS = _headers(*_COMMON, ("Content-Security-Policy", API_POLICY), ("Referrer-Policy", "no-referrer"))
# Tile servers (OpenStreetMap's among them) ask browsers for the page's origin as Referer.
_PAGE_HEADERS = _headers(*_COMMON, ("Content-Security-Policy", PAGE_POLICY.format(hashes="")),
                         ("Referrer-Policy", "strict-origin-when-cross-origin"))
_READ_HEADERS = _headers(("Access-Control-Allow-Origin", "*"),
                         ("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS))
_HTTPS_HEADERS = _headers(("Strict-Transport-Security", "max-age=31536000"))


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


def json_handler(stream=None) -> logging.Handler:
    """A handler writing one JSON object per line, with a UTC timestamp and the request id."""
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s", timestamp=True,
                                       rename_fields={"levelname": "level", "name": "logger"},
                                       json_ensure_ascii=False))
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
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


class ClosureCollector:
    """Published closures by their status now, read from the process's read model at scrape time."""

    def __init__(self, services):
        self.services = services

    def collect(self):
        try:
            snapshot = self.services.index.snapshot()
        except Exception:  # the database is down: the request metrics are still worth scraping
            logging.getLogger(__name__).warning("metrics: read model unavailable", exc_info=True)
            return
        now = self.services.clock()
        counts = dict.fromkeys(STATUSES, 0)
        for entry in snapshot.entries():
            if entry.visible(ANONYMOUS, now):
                status = entry.status(now)[0]
                counts[status] = counts.get(status, 0) + 1
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


# ---------------------------------------------------------------------- the Flask side

def _note(response: Response) -> Response:
    """Tell the middleware the route and the actor; audit accepted writes; give pages their policy."""
    environ = request.environ
    environ[ROUTE_KEY] = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    who = g.get("_roadworks_actor")  # set by api.http.actor() when a token was resolved; never resolved here
    if who is not None:
        environ[ACTOR_KEY] = who
    if request.blueprint == "bureau" and 200 <= response.status_code < 300:
        _audit(who, response)
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        _page_policy(response)
    return response


def _audit(who, response: Response) -> None:
    """One line per accepted write: who, what and which version it produced."""
    ids, version = _written(response)
    audit_log.info("write", extra={
        "actor": getattr(who, "name", None), "token_id": getattr(who, "token_id", None),
        "agency": getattr(who, "agency", None), "method": request.method, "route": request.url_rule.rule,
        "ids": ids, "version": version, "status": response.status_code,
        "replayed": response.headers.get("Idempotent-Replayed") == "true"})


def _written(response: Response) -> tuple[list, int | None]:
    if request.endpoint == "bureau.import_closures":
        features = (response.get_json(silent=True) or {}).get("features") or []
        return [[f.get("id"), (f.get("properties") or {}).get("version")] for f in features], None
    id = (request.view_args or {}).get("id")
    if id is None and response.location:
        id = response.location.rstrip("/").rsplit("/", 1)[-1]
    match = _ETAG_VERSION.match(response.headers.get("ETag", ""))
    return [id], int(match.group(1)) if match else None


def _page_policy(response: Response) -> None:
    """A page's CSP allows exactly the inline scripts it carries (Swagger UI's start-up script), by hash."""
    hashes = ""
    if not response.direct_passthrough and "Content-Encoding" not in response.headers:
        digests = (hashlib.sha256(script).digest() for script in INLINE_SCRIPT.findall(response.get_data()))
        hashes = "".join(f" 'sha256-{base64.b64encode(d).decode()}'" for d in digests)
    response.headers["Content-Security-Policy"] = PAGE_POLICY.format(hashes=hashes)


# ---------------------------------------------------------------------- the middleware

class Observed:
    """Outermost WSGI layer: request id, CORS, security headers, metrics and the request log line."""

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
                self._decorate(environ, headers, request_id)
                self._record(environ, int(status[:3]), headers, time.perf_counter() - started)
            return start_response(status, headers, exc_info)

        try:
            if _preflight(environ):
                return _answer_preflight(environ, start)
            return self.wsgi_app(environ, start)
        except Exception:
            if not answered:
                self._record(environ, 500, [], time.perf_counter() - started)
            raise
        finally:
            REQUEST_ID.reset(context)

    def _decorate(self, environ, headers: list, request_id: str) -> None:
        present, html = set(), False
        for name, value in headers:
            lower = name.lower()
            present.add(lower)
            html = html or (lower == "content-type" and value.startswith("text/html"))
        extra = [*(_PAGE_HEADERS if html else _API_HEADERS),
                 *(_READ_HEADERS if _reads(environ, environ.get("REQUEST_METHOD", "")) else ()),
                 *(_HTTPS_HEADERS if environ.get("wsgi.url_scheme") == "https" else ())]
        headers.extend((name, value) for lower, name, value in extra if lower not in present)
        headers.append(("X-Request-Id", request_id))

    def _record(self, environ, status: int, headers: list, seconds: float) -> None:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        replayed = ROUTE_KEY not in environ and not _preflight(environ)  # answered without entering Flask
        route = environ.get(ROUTE_KEY) or self.route_of(path, _routing_method(environ))
        self.metrics.observe(method, route, status, seconds, replayed)
        level = logging.ERROR if status >= 500 else logging.INFO
        if not log.isEnabledFor(level):
            return
        who = environ.get(ACTOR_KEY)
        actor = who.name if who is not None else ("unverified" if "HTTP_AUTHORIZATION" in environ else "anonymous")
        size = next((v for n, v in headers if n.lower() == "content-length"), None)
        log.log(level, "request", extra={
            "method": method, "path": path, "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 3), "actor": actor, "token_id": getattr(who, "token_id", None),
            "remote_addr": environ.get("REMOTE_ADDR"), "bytes": int(size) if size else None,
            "replayed": replayed, "user_agent": environ.get("HTTP_USER_AGENT")})

    def _route_of(self, path: str, method: str) -> str:
        """The route template of a path the app did not see (replays, preflights), to keep labels few."""
        try:
            rule, _ = self.url_map.bind("localhost").match(path, method=method, return_rule=True)
        except HTTPException:
            return UNMATCHED
        return rule.rule


def _request_id(incoming: str | None) -> str:
    if incoming and WELL_FORMED_ID.match(incoming):
        return incoming
    return os.urandom(16).hex()


def _preflight(environ) -> bool:
    return environ.get("REQUEST_METHOD") == "OPTIONS" and "HTTP_ORIGIN" in environ \
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ


def _routing_method(environ) -> str:
    if _preflight(environ):
        return environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"].upper()
    return environ.get("REQUEST_METHOD", "GET")


def _reads(environ, method: str) -> bool:
    return method.upper() in READ_METHODS or (method.upper() == "POST" and environ.get("PATH_INFO") in READ_POSTS)


def _answer_preflight(environ, start_response) -> list[bytes]:
    """Cross-origin reads are allowed from anywhere; cross-origin writes never (no allowance is sent)."""
    if _reads(environ, environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"]):
        posting = environ.get("PATH_INFO") in READ_POSTS
        start_response("204 No Content", [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Methods", "GET, HEAD, POST" if posting else "GET, HEAD"),
            ("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS + (", Content-Type" if posting else "")),
            ("Access-Control-Max-Age", "86400"),
            ("Cache-Control", "public, max-age=86400"), ("Vary", "Access-Control-Request-Method")])
        return [b""]
    slug, title = PROBLEMS[403]
    body = json.dumps({"type": f"/problems/{slug}", "title": title, "status": 403,
                       "detail": "cross-origin writes are not allowed; reads (GET, HEAD) are open to any origin",
                       "instance": environ.get("PATH_INFO", "")}).encode()
    start_response("403 Forbidden", [("Content-Type", "application/problem+json"), ("Cache-Control", "no-store"),
                                     ("Content-Length", str(len(body))), ("Vary", "Access-Control-Request-Method")])
    return [body]
