"""POST /api/v1/schedule/preview: the periods and status timeline a schedule would give, before it is saved.

Anyone may ask and nothing is written. The answer comes from the very Timeline a stored closure gets
(Closure.timeline, with its project's pauses and zone), so the desk shows what residents will be told.
The interval [from, to) is capped by MAX_INTERVAL_DAYS and the answer by MAX_PREVIEW_ITEMS entries.
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import islice

from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate

from ..domain.errors import NotFound, ValidationFailed
from ..domain.model import Closure, Project
from ..domain.schedule import end_instant, start_instant, zone
from .bodies import ID_PATTERN, ScheduleSchema, StrictBoolean, StrictSchema, When, flatten_errors
from .http import json_body, json_response, services
from .queries import check_interval_length

blp = Blueprint("preview", __name__, url_prefix="/api/v1",
                description="Schedule preview: the periods and statuses a schedule would give; anyone, reads only")

# Periods plus status changes in one answer: a night-works year is 365 of each; five years of it fit.
MAX_PREVIEW_ITEMS = 5000


class PreviewSchema(StrictSchema):
    """A schedule as a closure would hold it, its project (for pauses and zone) and the interval to show."""

    schedule = fields.Nested(ScheduleSchema, required=True)
    project = fields.String(validate=validate.Regexp(ID_PATTERN),
                            metadata={"description": "id of the project whose pauses and time zone apply"})
    actual_start = When(allow_none=True)
    actual_end = When(allow_none=True)
    cancelled = StrictBoolean(load_default=False)
    from_ = When(data_key="from", required=True, metadata={"description": "date or RFC 3339 date-time"})
    to = When(required=True, metadata={"description": "date (inclusive) or RFC 3339 date-time (exclusive); "
                                                      "at most MAX_INTERVAL_DAYS (default 1830) days after from"})


def _bounds(data: dict, tz) -> tuple[datetime, datetime]:
    return start_instant(data["from_"], tz), end_instant(data["to"], tz)


def load_preview(body) -> dict:
    if not isinstance(body, dict):
        raise ValidationFailed.one("$", "must be a JSON object")
    try:
        return PreviewSchema().load(body)
    except ValidationError as error:
        raise ValidationFailed(flatten_errors(error.messages)) from None


def _project(data: dict) -> Project:
    registry = services().registry
    if not data.get("project"):
        return Project(id="", name="", agency="", timezone=registry.default_timezone)
    try:
        return registry.project(data["project"])
    except NotFound:
        raise ValidationFailed.one("project", f"no project {data['project']!r}") from None


def _checked_interval(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValidationFailed.one("to", f"must be after from ({start.isoformat()})")
    try:
        check_interval_length(end - start, services().settings)
    except ValidationError as error:
        raise ValidationFailed.one("to", str(error.messages[0])) from None


@blp.route("/schedule/preview", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": PreviewSchema}}},
         responses={"200": {"description": "`from`, `to`, `timezone`, `periods` ({start, end, state, window, "
                                           "label}; state `active` or `paused`) overlapping [from, to), `statuses` "
                                           "({at, status}: the status at `from` and each change before `to`) and "
                                           "`truncated` (true when MAX_PREVIEW_ITEMS cut the answer)",
                            "content": {"application/json": {"schema": {"type": "object", "required": [
                                "from", "to", "periods", "statuses"]}}}}})
def preview_schedule():
    """The periods in effect (active or paused) and the status timeline a schedule gives between from and to."""
    data = load_preview(json_body())
    project = _project(data)
    tz = zone(project.timezone)
    closure = Closure(id="preview", project=project.id, geometry={}, schedule=data["schedule"], road="preview",
                      actual_start=data.get("actual_start"), actual_end=data.get("actual_end"),
                      cancelled=data["cancelled"])
    try:
        closure.check(project)
    except ValidationFailed as failure:  # named as in this body, not as in a closure Feature
        raise ValidationFailed({k.removeprefix("properties."): v for k, v in failure.errors.items()}) from None
    start, end = _bounds(data, tz)
    _checked_interval(start, end)
    timeline = closure.timeline(project)
    periods = list(islice(timeline.iter_periods(start, end, include_paused=True), MAX_PREVIEW_ITEMS + 1))
    statuses = _statuses(timeline, start, end, MAX_PREVIEW_ITEMS + 1 - len(periods))
    truncated = len(periods) + len(statuses) > MAX_PREVIEW_ITEMS
    return json_response({
        "from": _iso(start, tz), "to": _iso(end, tz), "timezone": project.timezone,
        "periods": [{"start": _iso(p.start, tz), "end": _iso(p.end, tz), "state": p.state, "window": p.window,
                     "label": p.label} for p in periods[:MAX_PREVIEW_ITEMS]],
        "statuses": statuses[:max(0, MAX_PREVIEW_ITEMS - len(periods))],
        "truncated": truncated})


def _statuses(timeline, start: datetime, end: datetime, room: int) -> list[dict]:
    """The status at `start`, then each change before `end`, at most `room` entries."""
    tz = timeline.tz
    out = [{"at": _iso(start, tz), "status": timeline.status_at(start)}]
    at = start
    while len(out) < room:
        at = timeline.next_change(at)
        if at is None or at >= end:
            break
        out.append({"at": _iso(at, tz), "status": timeline.status_at(at)})
    return out


def _iso(instant: datetime | date | None, tz) -> str | None:
    return None if instant is None else instant.astimezone(tz).isoformat()
