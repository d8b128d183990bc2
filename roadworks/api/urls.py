"""Absolute URLs: always on the configured public base (ROADWORKS_PUBLIC_URL), never on the request's Host.

Answers are cached (here and by proxies) by path and query alone, so a URL built from the Host header
would let one client plant its host name in what everyone else is served.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from flask import Flask, Response, request, url_for
from werkzeug.utils import redirect

from ..domain.errors import ValidationFailed
from .http import services

# Characters RFC 3986 allows unescaped in a path (besides letters, digits and -._~, which quote keeps).
PATH_SAFE = "/:@!$&'()*+,;="


def check_public_url(settings: dict[str, Any]) -> str:
    """The PUBLIC_URL setting if it is an http(s) URL ending in '/', else a ValidationFailed naming it."""
    value = settings["PUBLIC_URL"]
    problem = public_url_problem(value)
    if problem:
        raise ValidationFailed.one("ROADWORKS_PUBLIC_URL", f"{problem}: {value!r}")
    return value


def public_url_problem(value: str) -> str | None:
    """Why `value` cannot be the public base URL, or None."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL such as https://roadworks.example.org/"
    if parts.query or parts.fragment:
        return "must have no query or fragment"
    if not parts.path.endswith("/"):
        return "must end with '/'"
    return None


def absolute(path: str) -> str:
    """`path` (relative to the app's root, e.g. 'map/' or '/open511/events') on the public base URL."""
    return services().settings["PUBLIC_URL"] + path.lstrip("/")


def public_url_for(endpoint: str, **values: Any) -> str:
    """url_for(..., _external=True), but on the public base URL."""
    return absolute(url_for(endpoint, **values).removeprefix(request.script_root))


def public_request_url(*, query: bool = True) -> str:
    """This request's URL (with its query string unless `query` is false) on the public base URL."""
    url = absolute(quote(request.path, safe=PATH_SAFE))
    text = request.query_string.decode("latin-1")
    return f"{url}?{text}" if query and text else url


def install(app: Flask, settings: dict[str, Any]) -> None:
    """Refuse a bad PUBLIC_URL at start; move the routing's own redirects (e.g. /ogc -> /ogc/) onto it."""
    check_public_url(settings)
    app.after_request(_public_redirect)


def _public_redirect(response: Response) -> Response:
    location = response.headers.get("Location", "")
    origin = request.url_root  # scheme://host/ of this request, with the script root
    if 300 <= response.status_code < 400 and location.startswith(origin):
        moved = redirect(absolute(location[len(origin):]), response.status_code)
        response.headers["Location"] = moved.headers["Location"]
        response.set_data(moved.get_data())
    return response
