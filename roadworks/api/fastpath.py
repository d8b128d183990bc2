"""A response cache in front of the app for anonymous polls: the app's own bytes, replayed while true.

Partners repeat the same GET all day. The first answer goes through the whole app; its final bytes and
headers (after compression) are kept beside the listing they came from. Until that listing stops being
true (a new change sequence, or the next status change or publication), the same request is answered
here: counted against the client's rate limit, with Cache-Control, Last-Modified and the rate-limit
fields recomputed for this instant, and 304 when the client's validators match.

Answers are kept by path, parsed query in canonical order (listing.query_key) and the content coding the
client's Accept-Encoding chooses, within a byte budget (a share of ANSWER_CACHE_BYTES). The view names the
parsed query of each raw query string it answers, so `limit=0010` and `limit=10` replay one answer once
each has been seen; `Accept-Encoding: gzip` and `deflate, gzip;q=1.0` replay one answer at once. The
answers still vary with Accept-Encoding (and say so in Vary); never with what the coding leaves out.

Query strings longer than MAX_QUERY_BYTES are refused here, on every path, before anything parses them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

from flask import Flask, Response, g, request
from werkzeug.http import http_date

from ..budget import ByteLru
from ..config import DEFAULTS
from ..domain.errors import Unavailable
from .http import cache_control, not_modified, seconds_until, settled
from .limits import ANONYMOUS, COUNTED, address_key, chosen_coding
from .listing import Listing, RenderCache, query_key, still_true
from .problems import Problem

# Recomputed for every answer, so never replayed.
VOLATILE = frozenset({"cache-control", "last-modified", "date", "retry-after", "ratelimit", "ratelimit-policy",
                      "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "content-length"})
# What a 304 repeats of the full answer (RFC 9110 15.4.5).
KEPT_ON_304 = frozenset({"etag", "vary", "content-location"})
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
    """Final answers by (path, canonical query, coding), and which raw query strings mean which canonical query.

    Both within `budget` bytes: an answer costs its body, headers and key, a raw query string its length
    and its canonical form. Aliases may take an eighth of the budget, answers the rest; the least recently
    used go first, and an answer larger than its whole share is served but not kept.
    """

    ALIAS_SHARE = 8
    OVERHEAD = 512

    def __init__(self, budget: int):
        self.budget = int(budget)
        self._answers = ByteLru(self.budget - self.budget // self.ALIAS_SHARE)
        self._aliases = ByteLru(self.budget // self.ALIAS_SHARE)

    @property
    def used(self) -> int:
        return self._answers.used + self._aliases.used

    def __len__(self) -> int:
        """How many answers are kept (however many query strings lead to them)."""
        return len(self._answers)

    def get(self, path: str, raw_query: str, coding: str) -> Kept | None:
        canonical = self._aliases.get((path, raw_query))
        return None if canonical is None else self._answers.get((path, canonical, coding))

    def put(self, path: str, raw_query: str, canonical: tuple, coding: str, kept: Kept) -> None:
        key = (path, canonical, coding)
        headers = sum(len(name) + len(value) for name, value in kept.headers)
        answer_cost = len(kept.body) + headers + len(repr(key)) + self.OVERHEAD
        alias_cost = len(path) + len(raw_query) + len(repr(canonical)) + self.OVERHEAD
        self._aliases.put((path, raw_query), canonical, alias_cost)
        self._answers.put(key, kept, answer_cost)


def mark_cacheable(seq: int, listing: Listing, query: dict | None = None) -> None:
    """Called by a view whose answer may be replayed: anonymous, built from `listing` at sequence `seq`,
    for the parsed `query` (without it, only the same raw query string replays the answer)."""
    if not request.headers.get("Authorization"):
        canonical = query_key(query) if query is not None else (("", request.query_string.decode("latin-1")),)
        g._roadworks_cacheable = (seq, listing, canonical)


def install(app: Flask, services, limiter_of: Callable[[], object | None]) -> ResponseCache:
    """Refuse oversized query strings and keep final answers (register before other after_request hooks,
    so this one runs last, and before other before_request hooks, so the refusal comes first)."""
    settings = services.settings
    cache = ResponseCache(RenderCache.share_of(settings, "replay"))
    cap = int(settings.get("MAX_QUERY_BYTES", DEFAULTS["MAX_QUERY_BYTES"]))
    app.extensions["roadworks_replays"] = cache

    @app.before_request
    def refuse_long_query() -> None:
        length = len(request.environ.get("QUERY_STRING", ""))
        if length > cap:
            raise Problem(400, f"the query string is {length} bytes; MAX_QUERY_BYTES is {cap}",
                          {"query": [f"longer than MAX_QUERY_BYTES ({cap} bytes)"]})

    @app.after_request
    def keep(response: Response) -> Response:
        marked = g.get("_roadworks_cacheable")
        if marked is not None and response.status_code == 200 and not response.direct_passthrough:
            seq, listing, canonical = marked
            headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in VOLATILE)
            coding = _coding(app, request.environ)
            # Only the listing's dates are needed to tell whether the answer holds: not a second body.
            kept = Kept(seq, replace(listing, body=b""), response.get_data(), headers,
                        response.headers.get("ETag", ""))
            cache.put(request.environ.get("PATH_INFO", ""), request.environ.get("QUERY_STRING", ""), canonical,
                      coding, kept)
        return response

    app.wsgi_app = CachedReads(app.wsgi_app, cache, services, limiter_of, cap,
                               lambda environ: _coding(app, environ))
    return cache


def _coding(app: Flask, environ) -> str:
    """The content coding the app answers this request in (identity if compression is not installed)."""
    compressor = app.extensions.get("roadworks_compressor")
    return chosen_coding(compressor, environ.get("HTTP_ACCEPT_ENCODING", "")) if compressor else "identity"


class CachedReads:
    """WSGI middleware answering repeated anonymous GETs from the ResponseCache while they hold."""

    def __init__(self, app, cache: ResponseCache, services, limiter_of, max_query: int,
                 coding_of: Callable[[dict], str]):
        self.app, self.cache, self.services, self.limiter_of = app, cache, services, limiter_of
        self.max_query, self.coding_of = max_query, coding_of

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_AUTHORIZATION" in environ or len(query) > self.max_query:
            return self.app(environ, start_response)
        kept = self.cache.get(environ.get("PATH_INFO", ""), query, self.coding_of(environ))
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
        fresh = [("Cache-Control", cache_control(False, seconds_until(listing.max_age_until, now), now))]
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
