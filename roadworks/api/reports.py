"""Residents' reports: anyone files one, its key follows it, the responsible bureau answers it in a queue."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Response, request, url_for
from flask_smorest import Blueprint
from marshmallow import RAISE, fields, validate

from .. import reports as service
from ..domain import reports as rules
from ..domain.schedule import zone
from ..store.reports import QueueFilter
from .bodies import ID_PATTERN
from .http import actor, json_body, json_response, now, required_version, services
from .limits import ANONYMOUS, RateLimiter, _check_limit, address_key
from .problems import Problem
from .queries import BBox, QuerySchema

blp = Blueprint("reports", __name__, url_prefix="/api/v1",
                description="Residents' reports: anyone files one; the responsible bureau's editors answer")
# A report is a few sentences: its whole body, honeypot and contact included, fits in this.
MAX_BODY_BYTES = 8 * 1024
QUEUE_LIMIT = 200
NO_STORE = {"Cache-Control": "no-store"}
_NOT_OURS = "not a cursor this API handed out"


@blp.record_once
def _check_settings(state) -> None:
    # A bad budget stops the app as it starts, naming the variable, as the other rate limits do.
    _check_limit("REPORT_RATE_LIMIT", state.app.extensions["roadworks"].settings.get("REPORT_RATE_LIMIT") or "")

EXAMPLE = {"closure": "dongguan-ledu-gonghe", "kind": "open-but-shown-closed",
           "text": "路已经通车了，地图还显示封闭。", "contact": "13912345678"}


# ---------------------------------------------------------------------- filing and following

@blp.route("/reports", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object", "properties": {
    "closure": {"type": "string"}, "point": {"type": "object"}, "kind": {"type": "string", "enum": list(rules.KINDS)},
    "text": {"type": "string", "maxLength": rules.TEXT_MAX}, "contact": {"type": "string"},
    "website": {"type": "string", "description": "leave empty (a trap for scripts)"}},
    "required": ["kind", "text"]}, "example": EXAMPLE}}})
@blp.alt_response(201, success=True, description="Filed: `id` and the `key` that follows it (shown once)")
def file_report():
    """File a report on a closure or a point; no account. The answer's key is shown once: keep it."""
    _count_report()
    body = _bounded_body()
    found = services()
    row, key = service.file_report(found.reports, found.index.snapshot(), body, now(),
                                   found.registry.service_area)
    follow = url_for("reports.get_report", id=row["id"], key=key)
    out = dict(_public(row), key=key, follow=follow)
    return json_response(out, status=201, headers={"Location": url_for("reports.get_report", id=row["id"]),
                                                   **NO_STORE})


@blp.route("/reports/<id>", methods=["GET"])
@blp.alt_response(200, success=True, description="The report: its state and the bureau's public reply")
def get_report(id):
    """With `?key=`: the reporter's view (state, public reply; no contact). With an editor's or admin's token
    and no key: the whole report, contact and history included, for the agency responsible."""
    key = request.args.get("key")
    unknown = sorted(set(request.args) - {"key"})
    if unknown:
        raise Problem(400, "invalid query parameters; see errors", {u: ["Unknown field."] for u in unknown})
    store = services().reports
    if key is not None:
        if not key or len(key) > 100:
            raise Problem(400, "invalid query parameters; see errors", {"key": ["not a key this API handed out"]})
        response = json_response(_public(service.keyed_report(store, id, key)))
        response.headers["Cache-Control"] = "no-store"  # the URL holds a secret: no shared cache keeps it
        return response
    who = actor()
    row = service.staff_report(store, _staff(who), id)
    return _staff_response(row, history=store.history(id))


# ---------------------------------------------------------------------- the bureau's queue

class QueueQuerySchema(QuerySchema):
    state = fields.String(metadata={"description": f"comma list of {', '.join(rules.STATES)}"})
    closure = fields.String(validate=validate.Regexp(ID_PATTERN))
    project = fields.String(validate=validate.Regexp(ID_PATTERN))
    group = fields.String(validate=validate.Regexp(r"^r[0-9a-f]{16}$"))
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat"})
    grouped = fields.Boolean(load_default=False,
                             metadata={"description": "one row per group of reports on one closure (its newest)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=QUEUE_LIMIT))
    cursor = fields.String(validate=validate.Length(max=200))


@blp.route("/reports", methods=["GET"])
@blp.arguments(QueueQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.alt_response(200, success=True, description="The queue, newest first; `next` pages on")
def list_reports(limit, grouped, **query):
    """The queue of the token's agency (admins: every report), newest first, with each group's size."""
    who = _staff(actor())
    wanted = QueueFilter(states=_states(query.get("state")), closure=query.get("closure"),
                         project=query.get("project"), group=query.get("group"), bbox=query.get("bbox"),
                         after=_after(query.get("cursor")), grouped=grouped)
    store = services().reports
    scope = service.scope_of(who)
    rows = store.queue(scope, wanted, limit + 1)
    page = rows[:limit]
    sizes = store.group_sizes(r["group_id"] for r in page)
    total = store.count(scope, replace(wanted, after=None))
    out: dict[str, Any] = {"reports": [_staff_json(r, sizes) for r in page], "total": total, "next": None}
    if len(rows) > limit:
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        args["cursor"] = _cursor(page[-1])
        out["next"] = url_for("reports.list_reports", **args)
    response = json_response(out)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/reports/<id>", methods=["PATCH"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object", "properties": {
    "state": {"type": "string", "enum": list(rules.STATES)}, "reply": {"type": "string", "maxLength": rules.REPLY_MAX}}},
    "example": {"state": "resolved", "reply": "已核实，路段已于5月31日开放，地图已更新。"}}}})
@blp.alt_response(200, success=True, description="The report as changed")
def answer_report(id):
    """Acknowledge, resolve or reject a report, with a public reply; needs If-Match. Each change is kept in
    the report's history (who, when, what)."""
    who = _staff(actor())
    version, body = required_version(), json_body()
    store = services().reports
    row = service.answer(store, who, id, version, body, now())
    return _staff_response(row, history=store.history(id))


# ---------------------------------------------------------------------- helpers

def _staff(who):
    service.scope_of(who)  # 401 without a token, 403 for a partner
    return who


def _count_report() -> None:
    """Count a filing against the address's report budget (REPORT_RATE_LIMIT), on top of the general one."""
    found = services()
    limiter = getattr(found, "report_limiter", None)
    if limiter is None:
        setting = found.settings.get("REPORT_RATE_LIMIT") or ""
        prefix = f"{found.settings.get('RATE_LIMIT_PREFIX') or 'roadworks'}-reports"
        limiter = found.report_limiter = RateLimiter({**found.settings, "RATE_LIMIT": setting,
                                                      "PARTNER_RATE_LIMIT": "", "RATE_LIMIT_PREFIX": prefix})
    counted = limiter.count(ANONYMOUS, address_key(request.remote_addr))
    if counted is not None and counted.breached:
        headers = dict(limiter.headers(counted, 429))
        raise Problem(429, "too many reports from this address; wait the seconds in Retry-After "
                           f"(REPORT_RATE_LIMIT is {found.settings.get('REPORT_RATE_LIMIT')})", headers=headers)


def _bounded_body() -> Any:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise Problem(413, f"a report's body is at most {MAX_BODY_BYTES} bytes (got {length})",
                      {"body": [f"larger than {MAX_BODY_BYTES} bytes"]})
    body = json_body()
    if len(request.get_data(cache=True)) > MAX_BODY_BYTES:  # sent without a length (chunked)
        raise Problem(413, f"a report's body is at most {MAX_BODY_BYTES} bytes",
                      {"body": [f"larger than {MAX_BODY_BYTES} bytes"]})
    return body


def _states(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in rules.STATES]
    if unknown or not names:
        raise Problem(400, "invalid query parameters; see errors",
                      {"state": [f"use a comma list of {', '.join(rules.STATES)}"]})
    return names


def _cursor(row: dict) -> str:
    raw = json.dumps({"t": row["created_at"].isoformat(), "i": row["id"]}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(text: str | None) -> tuple[datetime, str] | None:
    if text is None:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        at, id = datetime.fromisoformat(decoded["t"]), decoded["i"]
        if at.tzinfo is None or not isinstance(id, str) or len(id) > 32:
            raise ValueError("not ours")
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
        raise Problem(400, "invalid query parameters; see errors", {"cursor": [_NOT_OURS]}) from None
    return at, id


def _local(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(zone(services().settings["TIMEZONE"])).isoformat()


def _point(row: dict) -> dict | None:
    return {"type": "Point", "coordinates": [row["lon"], row["lat"]]} if row["point_given"] else None


def _public(row: dict) -> dict:
    """What the reporter (holding the key) sees: never the contact, never who in the bureau answered."""
    return {"id": row["id"], "closure": row["closure_id"], "point": _point(row), "kind": row["kind"],
            "text": row["text"], "state": row["state"], "reply": row["reply"],
            "created_at": _local(row["created_at"]), "updated_at": _local(row["updated_at"])}


def _staff_json(row: dict, sizes: dict[str, tuple[int, int]]) -> dict:
    size, open_ = sizes.get(row["group_id"], (1, 1))
    out = _public(row)
    out.update(project=row["project_id"], agency=row["agency"],
               position={"type": "Point", "coordinates": [row["lon"], row["lat"]]},
               contact=row["contact"], contact_erased=row["contact_erased_at"] is not None,
               version=row["version"], closed_at=_local(row["closed_at"]),
               group={"id": row["group_id"], "size": size, "open": open_})
    return out


def _staff_response(row: dict, history: list[dict]) -> Response:
    out = _staff_json(row, services().reports.group_sizes([row["group_id"]]))
    out["history"] = [{"version": h["version"], "at": _local(h["at"]), "by": h["actor"], "action": h["action"],
                       "changes": h["changes"]} for h in history]
    response = json_response(out, version=row["version"])
    response.headers["Cache-Control"] = "private, no-store"
    return response
