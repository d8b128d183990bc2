"""A response cache in front of the app for anonymous polls: the app's own bytes, replayed while true.

Partners repeat the same GET all day. The first answer goes through the whole app; its final bytes and
headers (after compression) are kept beside the listing they came from. Until that listing stops being
true (a new change sequence, or the next status change or publication), the same request is answered
here: counted against the client's rate limit, with Cache-Control, Last-Modified and the rate-limit
fields recomputed for this instant, and 304 when the client's validators match.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterable

from flask import Flask, Response, g, request
from werkzeug.http import http_date

from ..domain.errors import Unavailable
from .http import cache_control, not_modified, seconds_until, settled
from .limits import ANONYMOUS, COUNTED, address_key
from .listing import Listing, still_true

# Recomputed for every answer, so never replayed.
VOLATILE = frozenset({"cache-control", "last-modified", "date", "retry-after", "ratelimit", "ratelimit-policy",
                      "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "content-length"})
# What a 304 repeats of the full answer (RFC 9110 15.4.5).
KEPT_ON_304 = frozenset({"etag", "vary", "content-location"})
CACHE_SIZE = 1024
ENVIRON_KEY = "roadworks.cacheable"


@dataclass(frozen=True)
class Kept:
    """One final answer of the app, and the listing whose truth it depends on."""

    seq: int
    listing: Listing
    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str


class ResponseCache:
    """Final answers by (path, query string, Accept-Encoding)."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[tuple, Kept] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Kept | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple, kept: Kept) -> None:
        with self._lock:
            self._items[key] = kept
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def mark_cacheable(seq: int, listing: Listing) -> None:
    """Called by a view whose answer may be replayed: anonymous, built from `listing` at sequence `seq`."""
    if not request.headers.get("Authorization"):
        g._roadworks_cacheable = (seq, listing)


def install(app: Flask, services, limiter_of: Callable[[], object | None]) -> ResponseCache:
    """Keep final answers (register before other after_request hooks, so this one runs last)."""
    cache = ResponseCache()

    @app.after_request
    def keep(response: Response) -> Response:
        marked = g.get("_roadworks_cacheable")
        if marked is not None and response.status_code == 200 and not response.direct_passthrough:
            seq, listing = marked
            headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in VOLATILE)
            cache.put(_key(request.environ), Kept(seq, listing, response.get_data(), headers,
                                                 response.headers.get("ETag", "")))
        return response

    app.wsgi_app = CachedReads(app.wsgi_app, cache, services, limiter_of)
    return cache


def _key(environ) -> tuple:
    return (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), environ.get("HTTP_ACCEPT_ENCODING", ""))


class CachedReads:
    """WSGI middleware answering repeated anonymous GETs from the ResponseCache while they hold."""

    def __init__(self, app, cache: ResponseCache, services, limiter_of):
        self.app, self.cache, self.services, self.limiter_of = app, cache, services, limiter_of

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_AUTHORIZATION" in environ:
            return self.app(environ, start_response)
        kept = self.cache.get(_key(environ))
        if kept is None:
            return self.app(environ, start_response)
        now = self.services.clock()
        if not still_true(kept.listing, now) or self._moved(kept):
            return self.app(environ, start_response)
        limiter = self.limiter_of()
        counted = limiter.count(ANONYMOUS, address_key(environ.get("REMOTE_ADDR"))) if limiter else None
        if counted is not None and counted[3]:
            environ[COUNTED] = counted  # the app answers the 429 without counting again
            return self.app(environ, start_response)
        return self._replay(kept, now, counted, limiter, environ, start_response)

    def _moved(self, kept: Kept) -> bool:
        try:
            return self.services.store.sequence() != kept.seq
        except Unavailable:
            return True  # the app answers from its last snapshot, or with a 503 problem

    def _replay(self, kept: Kept, now, counted, limiter, environ, start_response) -> Iterable[bytes]:
        listing = kept.listing
        modified = settled(listing.changed_at, now)
        fresh = [("Cache-Control", cache_control(False, seconds_until(listing.expires_at, now)))]
        if modified is not None:
            fresh.append(("Last-Modified", http_date(modified)))
        unchanged = not_modified(environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_IF_MODIFIED_SINCE"),
                                 kept.etag, modified)
        status = 304 if unchanged else 200
        if counted is not None:
            fresh += limiter.headers(counted, status)
        if unchanged:
            headers = [(k, v) for k, v in kept.headers if k.lower() in KEPT_ON_304] + fresh
            start_response("304 NOT MODIFIED", headers)
            return [b""]
        start_response("200 OK", list(kept.headers) + fresh + [("Content-Length", str(len(kept.body)))])
        return [kept.body]
