"""Traffic shaping: per-client rate limits (the `limits` package) and response compression (flask-compress).

Rate limits
- Every request counts once against one budget shared by all endpoints, so a client cannot multiply
  its allowance by spreading requests over paths. flask-limiter's per-route machinery cost more than
  the rest of a cached read, so the `limits` package it is built on is used directly.
- Anonymous requests, and requests whose token is unknown or revoked, are counted per client address:
  `ROADWORKS_RATE_LIMIT` (default "300 per minute"). IPv6 clients are counted per /64, which is what
  one subscriber usually gets.
- Requests with a valid token (partner, editor or admin) are counted per token:
  `ROADWORKS_PARTNER_RATE_LIMIT` (default "3000 per minute").
- Limits are `limits` strings, several separated by ";" ("10 per second;300 per minute"); an empty
  string (only possible through the `create_app` override) switches that limit off.
- Storage is in process memory by default, so each worker process keeps its own counts. Set
  `ROADWORKS_REDIS_URL` (redis://host:6379/0) to share the budgets between workers and hosts; keys start
  with `ROADWORKS_RATE_LIMIT_PREFIX`. Redis is given `ROADWORKS_REDIS_TIMEOUT_MS` (default 100) to connect
  and to answer. When it fails, a circuit breaker (pybreaker) stops asking it: each process counts on its
  own and tries Redis again after `ROADWORKS_REDIS_RETRY_S` (default 30) seconds. An outage logs one
  warning per process, and its end one info line.
- The client address is the connection's (REMOTE_ADDR). Behind reverse proxies that is the proxy's
  address and everyone would share one budget: set `ROADWORKS_TRUSTED_PROXIES` to the number of proxies
  in front of the app, which trusts that many X-Forwarded-For / X-Forwarded-Proto entries (werkzeug
  ProxyFix). Never set it without such a proxy: clients could then choose their own address.
- Health checks and static assets (the map's files, the offline docs' assets) are not counted.
- Answers carry `RateLimit-Policy` (quota q per window w seconds) and `RateLimit` (r remaining, reset in
  t seconds), from draft-ietf-httpapi-ratelimit-headers, and nothing else: the older X-RateLimit-* trio
  would say the same again in three more lines on every poll. A 304 carries `RateLimit` alone. A 429
  is problem+json with `Retry-After` in seconds.

Compression
- gzip, br, zstd or deflate as the client's Accept-Encoding prefers, for JSON, GeoJSON, problem+json,
  XML, iCalendar, HTML, JS and CSS of at least 500 bytes; `Vary: Accept-Encoding` on every answer.
- A compressed answer's strong ETag `"v.digest"` becomes the weak `W/"v.digest"`: the two
  representations no longer share a strong validator, If-None-Match (weak comparison) answers 304 to
  either, and If-Match still accepts what a client read, because the API's If-Match takes W/ tags.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from functools import lru_cache, partial
from typing import Any, NamedTuple

from flask import Flask, Response, g, request
from flask_compress import Compress
from flask_compress.flask_compress import _choose_algorithm
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from pybreaker import (STATE_CLOSED, STATE_HALF_OPEN, STATE_OPEN, CircuitBreaker, CircuitBreakerListener,
                       CircuitMemoryStorage)
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from ..auth import Unauthenticated
from ..domain.errors import ValidationFailed
from .http import actor as current_actor

log = logging.getLogger(__name__)

ANONYMOUS, TOKEN = "anonymous", "token"
# Set in the WSGI environ by the cached-read path when it has counted the request already.
COUNTED = "roadworks.rate.counted"
# Not counted: liveness probes and files that cost nothing to serve.
EXEMPT_PATHS = frozenset({"/", "/healthz", "/livez", "/readyz", "/favicon.ico"})
EXEMPT_PREFIXES = ("/map/", "/docs/assets/")
# Besides flask-compress' defaults (HTML, CSS, JS, JSON, XML, SVG, fonts...).
EXTRA_COMPRESSED_TYPES = ("application/geo+json", "application/problem+json", "application/vnd.geo+json",
                          "application/schema+json", "text/calendar", "text/csv", "text/javascript")
# flask-compress leaves gzip out for streamed answers (files); gzip-only clients should still get it.
STREAMING_ALGORITHMS = ("zstd", "br", "gzip", "deflate")
# Budget windows kept per process (about 250 bytes each, so 12 MB at most): addresses and tokens seen in one window.
WINDOW_KEYS = 50_000


# ---------------------------------------------------------------------- rate limits

class Counted(NamedTuple):
    """One request counted against one limit: the first limit it broke, or the last one it was counted under."""

    policy: str
    limit: RateLimitItem
    key: str
    breached: bool
    remaining: int
    reset_at: float  # Unix time at which the window ends


class RateLimiter:
    """Fixed-window budgets kept in Redis (shared by workers) or in memory, checked before each request."""

    def __init__(self, settings: dict[str, Any]):
        self.policies = {ANONYMOUS: parse_many(settings["RATE_LIMIT"] or "") if settings["RATE_LIMIT"] else [],
                         TOKEN: parse_many(settings["PARTNER_RATE_LIMIT"]) if settings["PARTNER_RATE_LIMIT"] else []}
        self.prefix = settings["RATE_LIMIT_PREFIX"] or "roadworks"
        redis_url = settings["REDIS_URL"]
        self.local = LocalWindows(WINDOW_KEYS)
        self.shared = None
        # When the breaker is open (after Redis failed), counts stay in this process; opened_at tells when.
        self.breaker_state = CircuitMemoryStorage(STATE_CLOSED)
        self.breaker = CircuitBreaker(fail_max=1, reset_timeout=int(settings["REDIS_RETRY_S"]),
                                      state_storage=self.breaker_state, listeners=[OutageLog()], name="redis")
        if redis_url:
            # A stalled Redis must not stall requests: fail fast, then stop asking it until the retry is due.
            timeout = int(settings["REDIS_TIMEOUT_MS"]) / 1000
            self.shared = SharedWindows(storage_from_string(
                redis_url, key_prefix=self.prefix, socket_connect_timeout=timeout, socket_timeout=timeout),
                WINDOW_KEYS)

    def check(self) -> None:
        """Count this request; past a limit, answer 429 before the view runs."""
        if _exempt():
            return
        counted = request.environ.get(COUNTED)  # the cached-read path counted it already
        if counted is None:
            counted = self.count(*_client())
        g._roadworks_rate = counted
        if counted is not None and counted.breached:
            raise TooManyRequests(_breach_message(counted.policy))

    def count(self, policy: str, key: str) -> Counted | None:
        """Count one request of `key` under each limit of its policy, up to the first one it breaks."""
        counted, now = None, time.time()
        for limit in self.policies[policy]:
            used, reset_at = self._spend(limit.key_for(self.prefix, key), limit.get_expiry(), now)
            counted = Counted(policy, limit, key, used > limit.amount, max(0, limit.amount - used), reset_at)
            if counted.breached:
                break
        return counted

    def headers(self, counted: Counted, status: int) -> list[tuple[str, str]]:
        """RateLimit fields for a counted answer; Retry-After only on a 429.

        A 304 carries only `RateLimit`, what is left now: its policy, which names no state, came with the
        200 the client revalidates, and a 304 repeats little more than what changed (RFC 9110, 15.4.5).
        """
        policy, limit, _, breached, remaining, reset_at = counted
        seconds = max(1 if breached else 0, math.ceil(reset_at - time.time()))
        left = ("RateLimit", f'"{policy}";r={remaining};t={seconds}')
        if status == 304:
            return [left]
        fields = [("RateLimit-Policy", f'"{policy}";q={limit.amount};w={limit.get_expiry()}'), left]
        return fields + [("Retry-After", str(seconds))] if status == 429 else fields

    def window(self, limit: RateLimitItem, key: str) -> tuple[float, int]:
        """(reset time, remaining) of `key` under `limit`, without counting a request."""
        name, now = limit.key_for(self.prefix, key), time.time()
        used, reset_at = self._ask("peek", name, limit.get_expiry(), now)
        return reset_at, max(0, limit.amount - used)

    def _spend(self, name: str, seconds: int, now: float) -> tuple[int, float]:
        return self._ask("spend", name, seconds, now)

    def _ask(self, method: str, name: str, seconds: int, now: float) -> tuple[int, float]:
        if self.shared is not None:
            try:
                return self.breaker.call(getattr(self.shared, method), name, seconds, now)
            except Exception:  # noqa: BLE001 - OutageLog logs the outage once; count in this process meanwhile
                pass
        return getattr(self.local, method)(name, seconds, now)


class LocalWindows:
    """Fixed-window counts of this process: one locked dict step per request.

    limits' MemoryStorage starts a timer thread every 10 ms under load to expire its keys, and each start waits
    for the new thread to get the GIL: a sixth of a replayed 304. Here a window simply ends when a request
    finds it over, and ended windows are swept when the table is full. Past `max_keys` live windows (an
    attacker with that many addresses in one window) the oldest are dropped, so memory stays bounded.
    """

    def __init__(self, max_keys: int):
        self.max_keys = max_keys
        self.windows: dict[str, list] = {}  # name -> [count, reset_at]
        self.lock = threading.Lock()  # waitress serves requests on threads

    def spend(self, name: str, seconds: int, now: float) -> tuple[int, float]:
        with self.lock:
            window = self.windows.get(name)
            if window is None or window[1] <= now:
                if window is None and len(self.windows) >= self.max_keys:
                    self._sweep(now)
                window = self.windows[name] = [0, now + seconds]
            window[0] += 1
            return window[0], window[1]

    def peek(self, name: str, seconds: int, now: float) -> tuple[int, float]:
        window = self.windows.get(name)
        return (0, now + seconds) if window is None or window[1] <= now else (window[0], window[1])

    def _sweep(self, now: float) -> None:
        for name in [name for name, (_, reset_at) in self.windows.items() if reset_at <= now]:
            del self.windows[name]
        while len(self.windows) >= self.max_keys:
            del self.windows[next(iter(self.windows))]  # the window opened longest ago


class SharedWindows:
    """Fixed-window counts in Redis (limits' storage): one INCR per request.

    When a window ends is fixed once it opens, so it is asked of Redis once per window and process, not with
    every request (limits' get_window_stats would cost two more round trips each time).
    """

    def __init__(self, storage, max_keys: int):
        self.storage, self.max_keys = storage, max_keys
        self.ends: dict[str, float] = {}

    def spend(self, name: str, seconds: int, now: float) -> tuple[int, float]:
        used = self.storage.incr(name, seconds)
        end = self.ends.get(name)
        if used == 1:
            end = now + seconds  # this request opened the window
        elif end is None or end <= now:
            end = self.storage.get_expiry(name)  # another process opened it
        if name not in self.ends and len(self.ends) >= self.max_keys:
            self.ends.clear()  # only a memo: each window's end is asked again
        self.ends[name] = end
        return used, end

    def peek(self, name: str, seconds: int, now: float) -> tuple[int, float]:
        used = self.storage.get(name)
        return (used, self.storage.get_expiry(name)) if used else (0, now + seconds)


class OutageLog(CircuitBreakerListener):
    """One warning when Redis fails and the breaker opens, one info line when a retry finds it back.

    A failed retry (half-open -> open) is the same outage and says nothing, so a Redis that stays down
    costs one log line, not a traceback per request.
    """

    def __init__(self):
        self.last_error: BaseException | None = None

    def failure(self, cb: CircuitBreaker, exc: BaseException) -> None:
        self.last_error = exc

    def state_change(self, cb: CircuitBreaker, old_state, new_state) -> None:
        before = getattr(old_state, "name", None)
        if new_state.name == STATE_OPEN and before == STATE_CLOSED:
            error = self.last_error
            log.warning("rate limit: Redis unavailable (%s: %s); counting in each process, retrying in %s s",
                        type(error).__name__, error, cb.reset_timeout)
        elif new_state.name == STATE_CLOSED and before == STATE_HALF_OPEN:
            log.info("rate limit: Redis answers again; budgets are shared again")


def register(app: Flask, settings: dict[str, Any]) -> RateLimiter:
    """Install the rate limiter (and ProxyFix when proxies are trusted); call after the blueprints."""
    for name in ("RATE_LIMIT", "PARTNER_RATE_LIMIT"):
        _check_limit(name, settings[name])
    proxies = int(settings["TRUSTED_PROXIES"])
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    limiter = app.extensions["roadworks_limiter"] = RateLimiter(settings)
    app.before_request(limiter.check)
    app.after_request(partial(_rate_headers, limiter))
    return limiter


def _check_limit(name: str, value: str) -> None:
    try:
        if value:
            parse_many(value)
    except ValueError:
        raise ValidationFailed.one(f"ROADWORKS_{name}",
                                   f"not a rate limit like '300 per minute' or '10/second;300/minute': {value!r}") \
            from None


def _exempt() -> bool:
    path = request.path
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


def _client() -> tuple[str, str]:
    """(policy, key) of this request, resolved once however many limits ask."""
    found = g.get("_roadworks_rate_client")
    if found is None:
        found = g._roadworks_rate_client = _identify()
    return found


def _client_key() -> str:
    return _client()[1]


def _identify() -> tuple[str, str]:
    header = request.headers.get("Authorization")
    if header:
        try:
            actor = current_actor()
        except Unauthenticated:
            actor = None  # a bad token buys nothing: the address's budget applies (and limits guessing)
        except Exception:  # the view reports database trouble; here it must not raise
            log.warning("rate limit: token lookup failed; counting by address", exc_info=True)
            actor = None
        if actor is not None and actor.token_id is not None:
            return TOKEN, f"token:{actor.token_id}"
    return ANONYMOUS, address_key(request.remote_addr)


def address_key(raw: str | None) -> str:
    """The budget key of a client address: IPv4 as is, IPv6 by its /64 network."""
    return f"addr:{client_address(raw or '')}"


@lru_cache(maxsize=4096)  # asked on every request, replays included; clients come back
def client_address(raw: str) -> str:
    """The address a budget belongs to: IPv4 as is, IPv6 by its /64 network."""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def _breach_message(policy: str) -> str:
    if policy == TOKEN:
        return "too many requests for this token; wait the seconds in Retry-After"
    return ("too many requests from this address; wait the seconds in Retry-After, "
            "or ask for a partner token, which has a higher limit")


def _rate_headers(limiter: RateLimiter, response: Response) -> Response:
    counted = g.get("_roadworks_rate")
    if counted is not None:
        for name, value in limiter.headers(counted, response.status_code):
            response.headers[name] = value
    return response


# ---------------------------------------------------------------------- compression

def compress(app: Flask) -> Compress:
    """Compress answers the client accepts compressed; call before any other after_request hook is added."""
    app.config.update(
        COMPRESS_REGISTER=False,  # wrapped by _compressed below
        COMPRESS_ALGORITHM_STREAMING=list(STREAMING_ALGORITHMS),
        # The views answer If-None-Match themselves, before compression, against the identity ETag.
        COMPRESS_EVALUATE_CONDITIONAL_REQUEST=False)
    compressor = Compress(app)
    compressor.compress_mimetypes_set |= set(EXTRA_COMPRESSED_TYPES)
    app.config["COMPRESS_MIMETYPES"] = sorted(compressor.compress_mimetypes_set)
    app.after_request(partial(_compressed, compressor))
    app.extensions["roadworks_compressor"] = compressor  # the cached-read path keys answers by coding
    return compressor


def chosen_coding(compressor: Compress, accept_encoding: str) -> str:
    """The coding this Accept-Encoding gets for a compressible answer: gzip, br, zstd, deflate or identity.

    flask-compress's own choice, so a key built from it can never disagree with the bytes it keys.
    """
    return _choose_algorithm(compressor.enabled_algorithms, accept_encoding) or "identity"


def _compressed(compressor: Compress, response: Response) -> Response:
    if response.status_code == 206 or "Content-Range" in response.headers \
            or "no-transform" in response.headers.get("Cache-Control", ""):
        return response  # a byte range of the identity body, or a sender who forbids transformation
    before = response.headers.get("Content-Encoding")
    etag, weak = response.get_etag()
    response = compressor.after_request(response)  # adds Vary: Accept-Encoding, compresses if it should
    if response.status_code == 304:
        _echo_weak(response)
    elif before is None and "Content-Encoding" in response.headers and etag and not weak:
        # flask-compress would append ":gzip", which the API's If-Match parser refuses; weakening keeps
        # the tag usable for If-Match and If-None-Match while no longer claiming byte equality.
        response.set_etag(etag, weak=True)
        # Byte ranges would address the identity body, which this answer is not.
        response.headers.pop("Accept-Ranges", None)
    return response


def _echo_weak(response: Response) -> None:
    """A 304 names the validator the client holds: the weak one if it revalidates a compressed copy."""
    etag, weak = response.get_etag()
    if etag and not weak:
        held = request.if_none_match
        if held.is_weak(etag) and not held.is_strong(etag):
            response.set_etag(etag, weak=True)
