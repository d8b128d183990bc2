"""Partner push subscriptions: a URL, event types and filters; the secret shown once; state and deliveries."""

from __future__ import annotations

import math
import secrets
from datetime import timedelta
from typing import Any

from flask import Response, url_for
from werkzeug.wsgi import ClosingIterator
from flask_smorest import Blueprint

from ..auth import Actor, Forbidden, Unauthenticated
from ..domain.errors import NotFound, StaleVersion, ValidationFailed
from ..push import addresses, signing
from ..push.events import TYPES
from .http import actor, json_body, json_response, now, required_version, services
from .problems import Problem

blp = Blueprint("subscriptions", __name__, url_prefix="/api/v1",
                description="Partner push: signed webhooks at every change and status change (partner or admin token)")
MAX_PER_TOKEN = 100  # subscriptions one token may hold
SHOWN = 20  # deliveries and failures shown with a subscription
MAX_OVERLAP = timedelta(days=7)
FIELDS = {"url", "events", "bbox", "project", "road"}


def _partner() -> Actor:
    who = actor()
    if who.role is None:
        raise Unauthenticated("a partner or admin bearer token is required")
    if who.role not in ("partner", "admin"):
        raise Forbidden("subscriptions belong to partner and admin tokens")
    return who


def _owned(id: str, who: Actor) -> dict:
    found = services().push.get(id) if len(id) <= 40 else None
    if found is None or (who.role != "admin" and found["token_id"] != who.token_id):
        raise NotFound(f"no subscription {id!r} of this token")
    return found


def _allow_private() -> bool:
    return addresses.private_allowed(services().settings)


def _object(body: Any, allowed: set[str]) -> dict:
    if not isinstance(body, dict):
        raise ValidationFailed.one("body", "must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationFailed({name: ["unknown field"] for name in unknown})
    return body


def _settings(body: dict, partial: bool) -> dict[str, Any]:
    """The stored columns a POST or PATCH body sets; every fault named by its field."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    if "url" in body or not partial:
        try:
            addresses.check(body.get("url"), _allow_private())
            out["url"] = body["url"]
        except addresses.Refused as refused:
            errors["url"] = [str(refused)]
    if "events" in body or not partial:
        events = body.get("events", list(TYPES))
        if (not isinstance(events, list) or not events or len(events) > len(TYPES)
                or not all(isinstance(e, str) and e in TYPES for e in events) or len(set(events)) != len(events)):
            errors["events"] = [f"a non-empty list of distinct event types among {', '.join(TYPES)}"]
        else:
            out["events"] = events
    filters = {}
    for name, check in (("bbox", _bbox), ("project", _text(64)), ("road", _text(200))):
        if name in body:
            value = body[name]
            problem = None if value is None else check(value)
            if problem:
                errors[name] = [problem]
            filters[name] = value
    if errors:
        raise ValidationFailed(errors)
    if filters or not partial:
        out["filters"] = {k: v for k, v in filters.items() if v is not None}
    return out


def _bbox(value: Any) -> str | None:
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        return "minLon,minLat,maxLon,maxLat: a list of four numbers"
    if not (-180 <= value[0] <= value[2] <= 180 and -90 <= value[1] <= value[3] <= 90):
        return "out of range or min above max (WGS 84 longitude, latitude)"
    return None


def _text(longest: int):
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not 0 < len(value) <= longest:
            return f"a string of 1 to {longest} characters"
        return None
    return check


def _iso(instant) -> str | None:
    return None if instant is None else instant.isoformat()


def _shown(row: dict, *, detail: bool, secret: str | None = None) -> dict:
    out = {"id": row["id"], "url": row["url"], "events": row["events"], **row["filters"], "state": row["state"],
           "owner": row["owner"], "delivered_seq": row["cursor"], "attempts": row["attempts"],
           "retry_at": _iso(row["retry_at"]), "failing_since": _iso(row["failing_since"]),
           "last_error": row["last_error"], "secret_rotated_until": _iso(row["old_secret_until"]),
           "version": row["version"], "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"])}
    if secret is not None:
        out["secret"] = secret
    if detail:
        push = services().push
        out["last_seq"] = push.last_event()
        out["deliveries"] = [_delivery(d) for d in push.deliveries(row["id"], SHOWN)]
        out["failures"] = [_delivery(d) for d in push.deliveries(row["id"], SHOWN, failed_only=True)]
    return out


def _delivery(row: dict) -> dict:
    return {"seq": row["event_id"], "webhook_id": row["webhook_id"], "attempt": row["attempt"], "at": _iso(row["at"]),
            "outcome": row["outcome"], "status_code": row["status_code"], "error": row["error"],
            "duration_ms": row["duration_ms"]}


def _answer(row: dict, status: int = 200, secret: str | None = None, headers: dict | None = None) -> Response:
    return json_response(_shown(row, detail=True, secret=secret), status=status, version=row["version"],
                         headers=headers)


def _body_doc(example: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object"}, "example": example}}}}


@blp.route("/subscriptions", methods=["POST"])
@blp.doc(**_body_doc({"url": "https://partner.example/hooks/roadworks", "events": ["closure.status_changed"],
                      "bbox": [101.7, 36.5, 101.9, 36.7]}))
@blp.alt_response(201, success=True, description="Created; `secret` is shown this once")
def create_subscription():
    """Subscribe a URL to events; answers the signing secret (`whsec_...`) once."""
    who = _partner()
    values = _settings(_object(json_body(), FIELDS), partial=False)
    push = services().push
    if len(push.subscriptions(who.token_id, MAX_PER_TOKEN + 1)) >= MAX_PER_TOKEN:
        raise Problem(400, f"a token holds at most {MAX_PER_TOKEN} subscriptions (MAX_PER_TOKEN)",
                      {"url": [f"over the cap of {MAX_PER_TOKEN} subscriptions"]})
    secret, at = signing.new_secret(), now()
    row = push.add(dict(values, id="sub_" + secrets.token_urlsafe(15), token_id=who.token_id, owner=who.name,
                        secret=secret, state="active", created_at=at, updated_at=at))
    location = url_for("subscriptions.get_subscription", id=row["id"])
    return _answer(row, 201, secret=secret, headers={"Location": location})


@blp.route("/subscriptions", methods=["GET"])
@blp.alt_response(200, success=True, description="The token's subscriptions (an admin's: all)")
def list_subscriptions():
    """The token's subscriptions with their state; an admin sees everyone's."""
    who = _partner()
    rows = services().push.subscriptions(None if who.role == "admin" else who.token_id, 1000)
    return json_response({"subscriptions": [_shown(r, detail=False) for r in rows]})


@blp.route("/subscriptions/<id>", methods=["GET"])
@blp.alt_response(200, success=True, description="State, the last deliveries and failures")
def get_subscription(id: str):
    """One subscription: its state, the last deliveries and the last failures."""
    return _answer(_owned(id, _partner()))


@blp.route("/subscriptions/<id>", methods=["PATCH"])
@blp.doc(**_body_doc({"state": "paused"}))
@blp.alt_response(200, success=True, description="Changed")
def patch_subscription(id: str):
    """Change the URL, events or filters; `state` `paused` or `active` (which also resumes a failing one)."""
    who = _partner()
    body = _object(json_body(), FIELDS | {"state"})
    version = required_version()
    found = _owned(id, who)
    values = _settings(body, partial=True)
    if "filters" in values:
        values["filters"] = {k: v for k, v in {**found["filters"], **values["filters"]}.items()
                             if body.get(k, v) is not None}
    if "state" in body:
        if body["state"] not in ("active", "paused"):
            raise ValidationFailed.one("state", "active or paused")
        values["state"] = body["state"]
        if body["state"] == "active":  # resuming, a failing one too: retry its next event at once
            values.update(attempts=0, retry_at=None, failing_since=None)
    return _answer(_changed(id, version, dict(values, updated_at=now())))


def _changed(id: str, version: int | None, values: dict) -> dict:
    row = services().push.update(id, version, values)
    if row is None:
        raise StaleVersion(f"subscription {id!r} has changed; read it again")
    return row


@blp.route("/subscriptions/<id>", methods=["DELETE"])
@blp.alt_response(204, success=True, description="Deleted")
def delete_subscription(id: str):
    """Stop and forget a subscription."""
    who = _partner()
    version = required_version()
    _owned(id, who)
    if not services().push.remove(id, version):
        raise StaleVersion(f"subscription {id!r} has changed; read it again")
    return Response(status=204)


@blp.route("/subscriptions/<id>/secret", methods=["POST"])
@blp.doc(**_body_doc({"overlap_seconds": 86400}))
@blp.alt_response(200, success=True, description="The new secret, shown once")
def rotate_secret(id: str):
    """A new signing secret; the old one keeps signing too (two signatures) for `overlap_seconds` (default a day)."""
    who = _partner()
    body = _object(json_body(optional=True) or {}, {"overlap_seconds"})
    overlap = body.get("overlap_seconds", 86400)
    if not isinstance(overlap, int) or isinstance(overlap, bool) or not 0 <= overlap <= MAX_OVERLAP.total_seconds():
        raise ValidationFailed.one("overlap_seconds", f"whole seconds from 0 to {int(MAX_OVERLAP.total_seconds())}")
    found = _owned(id, who)
    secret, at = signing.new_secret(), now()
    row = _changed(id, found["version"], dict(secret=secret, old_secret=found["secret"],
                                               old_secret_until=at + timedelta(seconds=overlap), updated_at=at))
    return _answer(row, secret=secret)


@blp.route("/subscriptions/<id>/redeliver", methods=["POST"])
@blp.doc(**_body_doc({"from_seq": 1}))
@blp.alt_response(200, success=True, description="Events from that seq are sent again, in order")
def redeliver(id: str):
    """Send again every matching event from `from_seq` on (events are kept 7 days)."""
    who = _partner()
    body = _object(json_body(), {"from_seq"})
    found = _owned(id, who)
    last = services().push.last_event()
    start = body.get("from_seq")
    if not isinstance(start, int) or isinstance(start, bool) or not 1 <= start <= last + 1:
        raise ValidationFailed.one("from_seq", f"an event seq from 1 to {last + 1}")
    # The lease is taken back: a worker midway through older events must not move the cursor past `start`.
    values = dict(cursor=start - 1, attempts=0, retry_at=None, failing_since=None, lease_owner=None,
                  lease_until=None, updated_at=now())
    if found["state"] == "failing":
        values["state"] = "active"
    return _answer(_changed(id, found["version"], values))


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class HeldWake:
    """WSGI layer: a write wakes this process's delivery worker once its answer is sent (the server closes the
    answer), not at its commit: the deliveries it starts never compete with the write's own work."""

    def __init__(self, wsgi_app, found):
        self.wsgi_app, self.found = wsgi_app, found

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") not in WRITES:
            return self.wsgi_app(environ, start_response)
        store = self.found.store
        store.hold_announcements()
        try:
            answer = self.wsgi_app(environ, start_response)
        finally:
            held = store.unhold_announcements()
        return ClosingIterator(answer, store.wake_workers) if held else answer


def install(app, found) -> None:
    app.wsgi_app = HeldWake(app.wsgi_app, found)
