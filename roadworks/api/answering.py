"""How every public GET is answered: built once per change, kept once, written with its validators, replayed.

A poll goes like this:
1. `Replay` (the WSGI layer) looks the request up: path, raw query string and the headers its
   representation varies on. If a kept public answer is still true at the current change sequence and
   instant, it is written at once (counted against the client's rate limit, 304 when the validators
   match) without Flask, parsing or the read model.
2. Otherwise the view parses its query (schemas in queries.py) and calls `respond` with a builder: a
   function of (snapshot, who asks, now) giving an `answers.Answer`. `respond` keys it by representation,
   change sequence, canonical query and audience, builds it only if no kept one holds, compresses it once
   per coding, points the raw request at it for step 1, and writes it.
3. `written` decides status and headers for both paths: ETag (weak when compressed), Last-Modified once its
   second is over, Cache-Control from the answer's lifetime (never past the clock's next whole minute),
   Vary, and 304 when If-None-Match (else If-Modified-Since) matches.
"""

from __future__ import annotations

import gzip
from datetime import datetime
from typing import Callable, Iterable

from flask import Flask, Response, current_app, request
from flask_compress.flask_compress import _compress_data
from werkzeug.http import http_date
from werkzeug.utils import get_content_type

from ..answers import PUBLIC, Answer, AnswerCache, Key, audience_of, query_key
from ..auth import Actor
from ..domain.errors import Unavailable
from ..index import Snapshot
from .http import actor, cache_control, not_modified, now, seconds_until, services, settled
from .limits import ANONYMOUS, COUNTED, address_key, chosen_coding
from .problems import Problem

# The request headers, besides Accept-Encoding, that some representations vary on (as WSGI environ keys).
VARYING = {"/open511": ("HTTP_ACCEPT", "HTTP_OPEN511_VERSION")}
Builder = Callable[[Snapshot, Actor, datetime], Answer]


def cache() -> AnswerCache:
    return current_app.extensions["roadworks"].answers


def respond(build: Builder, query: dict, *, representation: str | None = None, extra: tuple = ()) -> Response:
    """The answer for this request: kept if one still holds, else built now; 304 when the client has it.

    `extra` names what the answer depends on beyond the parsed query (a negotiated format, a path id).
    """
    who, clock, snapshot = actor(), now(), services().index.snapshot()
    audience = audience_of(who)
    canonical = query_key(query) + tuple(extra)
    key = Key(representation or request.endpoint, snapshot.seq, canonical, audience)
    answer = cache().get_or_build(key, clock, lambda: build(snapshot, who, clock))
    authorised = "Authorization" in request.headers
    if not authorised and audience == PUBLIC:
        cache().point(request_key(request.environ), key.representation, canonical)
    coding = _coding(answer, request.environ.get("HTTP_ACCEPT_ENCODING", ""))
    body = cache().encoded(key, answer, coding, lambda data: compressed(data, coding))
    status, headers = written(answer, clock, coding, request.headers.get("If-None-Match"),
                              request.headers.get("If-Modified-Since"), authorised)
    if status == 304:  # typed as its 200 would be, so no layer mistakes it for a page
        return Response(b"", status=304, headers=headers, content_type=content_type(answer))
    return Response(body, status=status, headers=headers)


def request_key(environ: dict) -> tuple:
    """What identifies a request to the replay: path, raw query and the headers its representation varies on."""
    path = environ.get("PATH_INFO", "")
    for prefix, names in VARYING.items():
        if path.startswith(prefix):
            return (path, environ.get("QUERY_STRING", ""), *(environ.get(n, "") for n in names))
    return path, environ.get("QUERY_STRING", "")


def compressed(data: bytes, coding: str) -> bytes:
    """`data` in `coding`, at flask-compress's configured levels; gzip without a timestamp, so every process
    and every second gives the same bytes for the same answer."""
    if coding == "gzip":
        return gzip.compress(data, current_app.config["COMPRESS_LEVEL"], mtime=0)
    return _compress_data(current_app, data, coding)


def content_type(answer: Answer) -> str:
    return get_content_type(answer.media_type, "utf-8")


def _coding(answer: Answer, accept_encoding: str, app: Flask | None = None) -> str:
    """The content coding this client gets: the one flask-compress would choose, for a body worth compressing."""
    app = app or current_app
    compressor = app.extensions.get("roadworks_compressor")
    if compressor is None or len(answer.body) < app.config["COMPRESS_MIN_SIZE"] \
            or answer.media_type not in compressor.compress_mimetypes_set:
        return "identity"
    return chosen_coding(compressor, accept_encoding)


def written(answer: Answer, now: datetime, coding: str, if_none_match: str | None,
            if_modified_since: str | None, authorised: bool) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers for `answer` at `now` in `coding`: 304 when the client's validators match."""
    life = answer.life
    etag = answer.etag if coding == "identity" else "W/" + answer.etag
    # Without a known change, the build itself: no earlier than the last change of what it shows.
    modified = settled(life.changed_at or life.built_at, now)
    vary = ", ".join(["Authorization", "Accept-Encoding", *answer.vary])
    headers = [("ETag", etag), ("Vary", vary),
               ("Cache-Control", cache_control(authorised, seconds_until(life.max_age_until, now), now))]
    if not_modified(if_none_match, if_modified_since, answer.etag, modified):
        return 304, headers  # what RFC 9110 asks a 304 to repeat (werkzeug drops Last-Modified from one anyway)
    if modified is not None:
        headers.append(("Last-Modified", http_date(modified)))
    headers += [("Content-Type", content_type(answer)), *answer.headers]
    if coding != "identity":
        headers.append(("Content-Encoding", coding))
    return 200, headers


class Replay:
    """WSGI middleware answering repeated anonymous GETs from the answer cache while their answers hold."""

    def __init__(self, app, services, limiter_of: Callable[[], object | None], coding_of: Callable[[dict, Answer], str]):
        self.app, self.services, self.limiter_of, self.coding_of = app, services, limiter_of, coding_of

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_AUTHORIZATION" in environ:
            return self.app(environ, start_response)
        found = self._kept(environ)
        if found is None:
            return self.app(environ, start_response)
        key, answer = found
        coding = self.coding_of(environ, answer)
        if coding != "identity" and coding not in answer.encoded:
            return self.app(environ, start_response)  # the app compresses it once and keeps the copy
        limiter = self.limiter_of()
        counted = limiter.count(ANONYMOUS, address_key(environ.get("REMOTE_ADDR"))) if limiter else None
        if counted is not None and counted.breached:
            environ[COUNTED] = counted  # the app answers the 429 without counting again
            return self.app(environ, start_response)
        now = self.services.clock()
        status, headers = written(answer, now, coding, environ.get("HTTP_IF_NONE_MATCH"),
                                  environ.get("HTTP_IF_MODIFIED_SINCE"), False)
        if counted is not None:
            headers += limiter.headers(counted, status)
        if status == 304:
            start_response("304 NOT MODIFIED", headers)
            return [b""]
        body = answer.body if coding == "identity" else answer.encoded[coding]
        start_response("200 OK", headers + [("Content-Length", str(len(body)))])
        return [body]

    def _kept(self, environ) -> tuple[Key, Answer] | None:
        try:
            return self.services.answers.find(request_key(environ), self.services.store.sequence,
                                              self.services.clock())
        except Unavailable:
            return None  # the app answers from its last snapshot, or with a 503 problem


def install(app: Flask, services, limiter_of: Callable[[], object | None]) -> None:
    """Refuse oversized query strings before anything parses them, and replay kept answers in front of the app."""
    cap = int(services.settings["MAX_QUERY_BYTES"])

    @app.before_request
    def refuse_long_query() -> None:
        length = len(request.environ.get("QUERY_STRING", ""))
        if length > cap:
            raise Problem(400, f"the query string is {length} bytes; MAX_QUERY_BYTES is {cap}",
                          {"query": [f"longer than MAX_QUERY_BYTES ({cap} bytes)"]})

    def coding_of(environ: dict, answer: Answer) -> str:
        return _coding(answer, environ.get("HTTP_ACCEPT_ENCODING", ""), app)

    app.wsgi_app = Replay(app.wsgi_app, services, limiter_of, coding_of)
