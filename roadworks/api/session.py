"""The bureau desk's sign-in: a bearer token exchanged for a server-side session cookie, with CSRF on writes.

The desk calls the same API as curl does. A request to /api/ that carries the `rw_desk` cookie and no
Authorization header (a write, or a read sending the X-CSRFToken header as the desk does) is marked (CookieBridge) so that every layer treats it as authenticated (no replay of
public answers, private caching, the token's rate limit); `desk_actor` then resolves the session, and every
write made with the cookie must carry the Flask-WTF CSRF token (header X-CSRFToken) and an Origin of this
service. Sessions expire after DESK_SESSION_MINUTES, end at sign-out and end at once when the token is revoked.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, jsonify, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.http import parse_cookie
from wtforms.validators import ValidationError

from ..auth import Actor, Unauthenticated, resolve
from ..store.sessions import Sessions
from .problems import Problem

COOKIE = "rw_desk"
CSRF_COOKIE = "rw_desk_csrf"  # Flask's signed session cookie, holding only Flask-WTF's CSRF secret
CSRF_HEADER = "X-CSRFToken"
MARKER = "Desk-Session"  # the Authorization value CookieBridge puts in; bearer tokens never look like it
FLAG = "roadworks.desk_session"  # environ key with the cookie's value: no client header can set it
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

blp = Blueprint("session", __name__)


class CookieBridge:
    """WSGI layer: an /api/ request with the desk cookie and no Authorization header counts as authenticated."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        # Reads count only when the desk asks (it sends its CSRF header on every call): the residents' map in a
        # clerk's browser carries the cookie too, and must keep reading what the public reads.
        desk_call = environ.get("REQUEST_METHOD") not in SAFE_METHODS or "HTTP_X_CSRFTOKEN" in environ
        if desk_call and "HTTP_AUTHORIZATION" not in environ and environ.get("PATH_INFO", "").startswith("/api/") \
                and COOKIE in environ.get("HTTP_COOKIE", ""):
            value = parse_cookie(environ).get(COOKIE)
            if value:
                environ[FLAG] = value
                environ["HTTP_AUTHORIZATION"] = MARKER
        return self.wsgi_app(environ, start_response)


class DeskCookieSession(SecureCookieSessionInterface):
    """Flask's signed cookie, Secure whenever the request came over HTTPS (ProxyFix tells behind a proxy)."""

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure


def install(app: Flask, settings: dict) -> None:
    """Secret key, CSRF settings, the cookie bridge and the CSRF and Origin check of cookie writes."""
    app.config.update(
        SECRET_KEY=settings.get("SECRET_KEY") or kept_secret(Path(app.instance_path)),
        SESSION_COOKIE_NAME=CSRF_COOKIE, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
        # The desk session's expiry is the server's; the CSRF token lives as long as the cookie that holds it.
        WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_HEADERS=[CSRF_HEADER])
    app.session_interface = DeskCookieSession()
    app.before_request(_check_cookie_write)
    app.wsgi_app = CookieBridge(app.wsgi_app)


def kept_secret(folder: Path) -> str:
    """A SECRET_KEY generated once and kept in `folder`/secret_key (readable by the owner only)."""
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process wrote it first: read theirs
        else:
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _services():
    return current_app.extensions["roadworks"]


def _sessions() -> Sessions:
    return Sessions(_services().store.engine)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def desk_actor() -> Actor | None:
    """The actor of a request CookieBridge marked (None if it did not); an ended session is refused."""
    value = request.environ.get(FLAG)
    if value is None or request.headers.get("Authorization") != MARKER:
        return None
    found = _sessions().find(_hash(value), _services().clock())
    if found is None:
        raise Unauthenticated("the desk session has expired or ended; sign in again")
    token = found.token
    return Actor(name=token.name, role=token.role, agency=token.agency, token_id=token.id)


def _check_cookie_write() -> None:
    """A write made with the desk cookie needs this service's Origin and the CSRF token."""
    if FLAG in request.environ and request.method not in SAFE_METHODS:
        check_origin()
        try:
            validate_csrf(request.headers.get(CSRF_HEADER))
        except ValidationError as error:
            raise Problem(403, f"a write made with the desk session needs its CSRF token: {error}",
                          {CSRF_HEADER: [str(error)]}) from None


def check_origin() -> None:
    """The browser's Origin (and Sec-Fetch-Site, when sent) must say the request came from the desk itself."""
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site")
    allowed = {_origin(request.host_url), _origin(_services().settings.get("PUBLIC_URL", ""))}
    if origin is None or origin not in allowed or (site is not None and site not in ("same-origin", "none")):
        raise Problem(403, "writes made with the desk session must come from the desk's own origin",
                      {"Origin": [f"{origin or 'missing'} is not this service's origin"]})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# ---------------------------------------------------------------------------- sign in, who, sign out

@blp.post("/desk/session")
def sign_in():
    """Exchange an editor's or admin's token for a session cookie; answers who signed in and the CSRF token."""
    check_origin()
    body = request.get_json(silent=True)
    plain = body.get("token") if isinstance(body, dict) else None
    if not isinstance(plain, str) or not plain.strip() or len(plain) > 200:
        raise Problem(400, "send the token you were given as {\"token\": \"rw_...\"}",
                      {"token": ["required: the token the administrator gave you"]})
    who = resolve(_services().store, f"Bearer {plain.strip()}").require_editor()
    now = _services().clock()
    minutes = int(_services().settings.get("DESK_SESSION_MINUTES", 480))
    expires = now + timedelta(minutes=minutes)
    value = secrets.token_urlsafe(32)
    _sessions().open(_hash(value), who.token_id, now, expires)
    session.pop("csrf_token", None)  # a new sign-in gets a new CSRF secret
    response = jsonify(_described(who, expires))
    response.set_cookie(COOKIE, value, max_age=minutes * 60, path="/", httponly=True, samesite="Strict",
                        secure=request.is_secure)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.get("/desk/session")
def who_signed_in():
    """Who the desk cookie stands for (signed_in false without a live session), with the CSRF token."""
    value = request.cookies.get(COOKIE)
    found = _sessions().find(_hash(value), _services().clock()) if value else None
    if found is None:
        body = {"signed_in": False}
    else:
        token = found.token
        body = _described(Actor(token.name, token.role, token.agency, token.id), found.expires_at)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.delete("/desk/session")
def sign_out():
    """End the session on the server and drop both cookies."""
    value = request.cookies.get(COOKIE)
    if value:
        check_origin()
        try:
            validate_csrf(request.headers.get(CSRF_HEADER))
        except ValidationError as error:
            raise Problem(403, f"signing out needs the CSRF token: {error}", {CSRF_HEADER: [str(error)]}) from None
        _sessions().close(_hash(value))
    session.clear()
    response = current_app.response_class(status=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=request.is_secure)
    return response


def _described(who: Actor, expires) -> dict:
    return {"signed_in": True, "name": who.name, "role": who.role, "agency": who.agency,
            "expires_at": expires.isoformat(), "csrf_token": generate_csrf()}
