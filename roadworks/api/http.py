"""HTTP plumbing shared by the blueprints: JSON bodies, ETags and If-Match, caching, idempotent POSTs."""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import Response, current_app, g, request
from werkzeug.http import parse_date

from ..answers import etag_for
from ..auth import Actor, resolve
from ..store.errors import AlreadyRemembered
from ..store.repository import Remembered
from .problems import Problem
from .session import desk_actor

JSON_TYPES = ("application/json", "application/geo+json", "application/merge-patch+json")
MAX_NESTING = 64
MAX_AGE_CAP = 60
_SURROGATE = re.compile("[\ud800-\udfff]")
_ETAG_VERSION = re.compile(r'^(?:W/)?"(\d+)(?:\.[0-9a-f]*)?"$')
# RFC 9110 section 8.8.3: entity-tag = [ W/ ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text.
_ENTITY_TAG = re.compile(r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"')


def services():
    """The app's Services (store, registry, settings, clock)."""
    return current_app.extensions["roadworks"]


def actor() -> Actor:
    """Who sent this request (looked up once per request); a bad token is refused even on public reads."""
    found = g.get("_roadworks_actor")
    if found is None:
        # The desk's session cookie (api/session.py) stands for a token; otherwise the bearer header decides.
        found = g._roadworks_actor = desk_actor() or resolve(services().store, request.headers.get("Authorization"))
    return found


def editor() -> Actor:
    """The sender of a write, which must hold an editor or admin token (401 first, before any body check)."""
    return actor().require_editor()


def now() -> datetime:
    return services().clock()


# ---------------------------------------------------------------------- bodies

def json_body(*, optional: bool = False) -> Any:
    """The request's JSON, or a problem naming what is wrong with it."""
    raw = request.get_data(cache=True)
    if optional and not raw:
        return None
    if request.mimetype not in JSON_TYPES:
        raise Problem(415, f"send the body as application/json (got {request.mimetype or 'no Content-Type'})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Problem(400, f"the body is not valid UTF-8 (byte {error.start})") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise Problem(400, f"the JSON is nested too deeply (at most {MAX_NESTING} levels)") from None
    except ValueError as error:
        raise Problem(400, f"the body is not valid JSON: {error}") from None
    _check_structure(data)
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _check_structure(value: Any) -> None:
    """Refuse nesting deeper than MAX_NESTING and strings that are not text (lone surrogates)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > MAX_NESTING:
            raise Problem(400, f"the JSON is nested too deeply (at most {MAX_NESTING} levels)")
        if isinstance(item, dict):
            stack.extend((k, level) for k in item)
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
        elif isinstance(item, str) and _SURROGATE.search(item):
            raise Problem(400, "the JSON holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not text")


# ---------------------------------------------------------------------- ETags and preconditions

def required_version() -> int:
    """The version an If-Match names; PUT/PATCH/DELETE must send one.

    A header that is not a list of entity-tags is a 400; well-formed tags that name no version of this API
    (another server's, a hand-made one) can never match, so they are a 412, as RFC 9110 says.
    """
    header = request.headers.get("If-Match")
    if not header:
        raise Problem(428, "send If-Match with the ETag you last read, so no one's change is lost")
    if header.strip() == "*":
        return None
    versions = set()
    for tag in entity_tags(header):
        match = _ETAG_VERSION.match(tag)
        if match:
            versions.add(int(match.group(1)))
    if not versions:
        raise Problem(412, "If-Match names no current version of this resource; read it again for its ETag")
    if len(versions) > 1:
        raise Problem(412, "If-Match names several versions; send the one you last read")
    return versions.pop()


def entity_tags(header: str) -> list[str]:
    """The entity-tags of an If-Match list (empty elements allowed), or a 400 naming the first bad element."""
    tags, at = [], 0
    while at <= len(header):
        start = _skip_space(header, at)
        match = _ENTITY_TAG.match(header, start)
        end = start if match is None else _skip_space(header, match.end())
        if end < len(header) and header[end] != ",":
            bad = header[start:].split(",")[0].strip()
            raise Problem(400, "If-Match must be * or a list of entity-tags (RFC 9110), such as the ETag you read",
                          {"If-Match": [f"not an entity-tag: {bad[:80]}"]})
        if match is not None:
            tags.append(match.group(0))
        at = end + 1
    if not tags:
        raise Problem(400, "If-Match holds no entity-tag; send the ETag you last read",
                      {"If-Match": ["an empty list of entity-tags"]})
    return tags


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t":
        at += 1
    return at


def optional_version() -> int | None:
    return required_version() if request.headers.get("If-Match") else None


def json_response(data: Any, *, status: int = 200, version: int | None = None,
                  mimetype: str = "application/json", max_age: int | None = None,
                  headers: dict | None = None) -> Response:
    """Serialise, tag and, for GET, answer If-None-Match with 304."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return bytes_response(body, etag_for(body, version), status=status, mimetype=mimetype, max_age=max_age,
                          headers=headers)


def bytes_response(body: bytes, etag: str, *, status: int = 200, mimetype: str = "application/json",
                   max_age: int | None = None, last_modified: datetime | None = None,
                   headers: dict | None = None) -> Response:
    """A tagged response; a GET whose validators match gets 304 instead."""
    reading = request.method in ("GET", "HEAD")
    unchanged = reading and _not_changed(etag, last_modified)
    response = Response(None if unchanged else body, status=304 if unchanged else status,
                        mimetype=None if unchanged else mimetype)
    response.headers["ETag"] = etag
    if last_modified is not None:
        response.last_modified = last_modified
    if reading:
        _set_cache_control(response, max_age)
    if not unchanged:
        response.headers.update(headers or {})
    return response


def settled(changed_at: datetime | None, at: datetime) -> datetime | None:
    """A Last-Modified only once its second is over: HTTP dates cannot tell two changes in one second apart."""
    if changed_at is None or changed_at.replace(microsecond=0) >= at.replace(microsecond=0):
        return None
    return changed_at


def _not_changed(etag: str, last_modified: datetime | None) -> bool:
    return not_modified(request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since"),
                        etag, last_modified)


def not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str,
                 last_modified: datetime | None) -> bool:
    """RFC 9110: If-None-Match decides when present; otherwise If-Modified-Since."""
    if if_none_match:
        return _matches(if_none_match, etag)
    since = parse_date(if_modified_since) if if_modified_since else None
    return since is not None and last_modified is not None and last_modified.replace(microsecond=0) <= since


def _set_cache_control(response: Response, max_age: int | None) -> None:
    response.headers["Cache-Control"] = cache_control(bool(request.headers.get("Authorization")), max_age, now())
    response.headers["Vary"] = "Authorization, Accept-Encoding"


def cache_control(authenticated: bool, max_age: int | None, clock: datetime) -> str:
    """Shared caches may keep public answers, never those that depend on a token (drafts).

    No answer outlives the clock's next whole minute (see `next_turnover`).
    """
    age = MAX_AGE_CAP if max_age is None else max(0, min(MAX_AGE_CAP, max_age))
    age = min(age, seconds_until(next_turnover(clock), clock))
    return f"{'private' if authenticated else 'public'}, max-age={age}"


def next_turnover(clock: datetime) -> datetime:
    """The clock's next whole minute: every HTTP cache drops what it holds by then.

    max-age may count only what the asker can see: counting a hidden draft's publication would tell that
    the draft exists (and, with `road=`, its name letter by letter). Yet the draft must appear everywhere
    at once when published. So no answer is cached past the next whole minute (MAX_AGE_CAP is a minute
    anyway): all caches turn over together, a draft published on a whole minute (as bureaus schedule)
    shows everywhere at that instant, any other within the minute, and max-age depends on the clock alone.
    """
    return clock.replace(second=0, microsecond=0) + timedelta(minutes=1)


def seconds_until(instant: datetime | None, at: datetime) -> int | None:
    """Whole seconds from `at` until `instant`, rounded down so a cache never outlives it."""
    if instant is None:
        return None
    return max(0, math.floor((instant - at).total_seconds()))


def _matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = tag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == bare for t in header.split(","))


# ---------------------------------------------------------------------- Idempotency-Key

def idempotent(operation: Callable[[Callable | None], Any], render: Callable[[Any], Response]) -> Response:
    """Run a POST once per Idempotency-Key: a retry gets the first answer back, byte for byte."""
    key = request.headers.get("Idempotency-Key")
    who = actor()
    if not key or who.token_id is None:
        return render(operation(None))
    if len(key) > 200:
        raise Problem(400, "Idempotency-Key is too long", {"Idempotency-Key": ["at most 200 characters"]})
    fingerprint = hashlib.sha256(request.method.encode() + request.path.encode() + b"\0"
                                 + request.get_data(cache=True)).hexdigest()
    replay = _replay(who, key, fingerprint)
    if replay is not None:
        return replay
    produced: dict[str, Response] = {}

    def remember(writer, result) -> None:
        response = produced["response"] = render(result)
        kept = {k: v for k, v in response.headers.items() if k in ("Location", "ETag", "Content-Type")}
        writer.remember(who.token_id, key, Remembered(fingerprint, response.status_code,
                                                      response.get_data(), kept), now())

    try:
        operation(remember)
    except AlreadyRemembered:
        # Another request with the same key committed first; answer as it did.
        replay = _replay(who, key, fingerprint)
        if replay is None:
            raise
        return replay
    return produced["response"]


def _replay(who: Actor, key: str, fingerprint: str) -> Response | None:
    kept = services().store.remembered(who.token_id, key)
    if kept is None:
        return None
    if kept.fingerprint != fingerprint:
        raise Problem(422, "this Idempotency-Key was used for a different request",
                      {"Idempotency-Key": ["already used with another body or path"]})
    response = Response(kept.body, status=kept.status)
    response.headers.update(kept.headers)
    response.headers["Idempotent-Replayed"] = "true"
    return response
