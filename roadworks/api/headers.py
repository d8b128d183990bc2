"""Security headers on every answer (CSP, Referrer-Policy, nosniff, HSTS) and CORS that opens reads, never writes."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Callable, Iterable

from flask import Flask, Response

from .problems import PROBLEMS

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)

READ_METHODS = frozenset({"GET", "HEAD"})
# POSTs that only read: a route is too long for a query string, but checking it changes nothing.
READ_POSTS = frozenset({"/api/v1/route-check", "/api/v1/schedule/preview"})
CORS_ALLOWED_HEADERS = "Accept, Accept-Language, Authorization, If-None-Match, If-Modified-Since, X-Request-Id"
# Every header of a read: reads are anonymous CORS (no cookies; Allow-Origin is "*"), where Fetch reads "*" as
# every header the answer has. One byte on every answer, where the list it replaces was 190.
CORS_EXPOSED_HEADERS = "*"


def page_policy(*, scripts: Iterable[bytes] = (), images: Iterable[str] = ()) -> str:
    """The CSP of an HTML page (the map, Swagger UI): its own files only, plus the inline `scripts` it carries,
    allowed by hash, and images from the `images` sources (the map's tile server)."""
    hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts)
    hosts = "".join(f" {source}" for source in images)
    return (f"default-src 'none'; script-src 'self'{hashes}; style-src 'self'; img-src 'self' data:{hosts}; "
            "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _headers(*pairs: tuple[str, str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((name.lower(), name, value) for name, value in pairs)


_COMMON = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"))
_API_HEADERS = _headers(*_COMMON, ("Content-Security-Policy", API_POLICY), ("Referrer-Policy", "no-referrer"))
# Tile servers (OpenStreetMap's among them) ask browsers for the page's origin as Referer.
_PAGE_HEADERS = _headers(*_COMMON, ("Content-Security-Policy", page_policy()),
                         ("Referrer-Policy", "strict-origin-when-cross-origin"))
_READ_HEADERS = _headers(("Access-Control-Allow-Origin", "*"),
                         ("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS))
_HTTPS_HEADERS = _headers(("Strict-Transport-Security", "max-age=31536000"))


def install(app: Flask, clock_label: str | None = None) -> None:
    """Wrap the app's WSGI callable (before observability.install, which wraps this) and add the page hook.

    `clock_label` (a replayed clock's, "replay 2024-05-20T12:00:00+08:00") goes on every answer as
    Roadworks-Clock, so no one mistakes a replay for the present."""
    # A WSGI layer, so replays of the cached-read path, 304s, errors and preflights get the same headers as
    # any other answer; the Flask hook gives HTML pages their policy, built by page_policy() like the map's.
    app.after_request(_page_policy)
    app.wsgi_app = Secured(app.wsgi_app, _headers(("Roadworks-Clock", clock_label)) if clock_label else ())


def _page_policy(response: Response) -> Response:
    """An HTML page without a policy of its own (Swagger UI at /docs) may run exactly the inline scripts it
    carries, by hash."""
    if response.mimetype != "text/html" or "Content-Security-Policy" in response.headers:
        return response
    scripts = []
    if not response.direct_passthrough and "Content-Encoding" not in response.headers:
        scripts = INLINE_SCRIPT.findall(response.get_data())
    response.headers["Content-Security-Policy"] = page_policy(scripts=scripts)
    return response


class Secured:
    """WSGI layer: the security headers an answer lacks, CORS on reads, and CORS preflights answered here."""

    def __init__(self, wsgi_app: Callable, always: tuple[tuple[str, str, str], ...] = ()):
        self.wsgi_app, self.always = wsgi_app, always

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        def start(status: str, headers: list, exc_info=None):
            _decorate(environ, headers, self.always, revalidated=status.startswith("304"))
            return start_response(status, headers, exc_info)

        if _preflight(environ):
            return _answer_preflight(environ, start)  # through `start`: a preflight too says the clock is replayed
        return self.wsgi_app(environ, start)


def _decorate(environ, headers: list, always=(), revalidated: bool = False) -> None:
    present, html = set(), False
    for name, value in headers:
        lower = name.lower()
        present.add(lower)
        html = html or (lower == "content-type" and value.startswith("text/html"))
    # A 304 has no body for these to govern: the client keeps its stored 200's, and RFC 9110 (15.4.5) asks a
    # 304 to carry little beyond its validators and caching fields. CORS stays, or a browser refuses the 304.
    security = () if revalidated else _PAGE_HEADERS if html else _API_HEADERS
    extra = [*security,
             *(_READ_HEADERS if _reads(environ, environ.get("REQUEST_METHOD", "")) else ()),
             *(_HTTPS_HEADERS if environ.get("wsgi.url_scheme") == "https" else ()), *always]
    headers.extend((name, value) for lower, name, value in extra if lower not in present)


def _preflight(environ) -> bool:
    return environ.get("REQUEST_METHOD") == "OPTIONS" and "HTTP_ORIGIN" in environ \
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ


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
