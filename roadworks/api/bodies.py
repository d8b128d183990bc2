"""Marshmallow schemas for request and response bodies: JSON in, the registry's parsed values out, and back."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from typing import Any, Callable

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from ..domain.errors import ValidationFailed
from ..domain.model import DIRECTIONS, IMPACTS
from ..domain.schedule import DAY_NAMES, Hours, Schedule, Span

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_TEXT = validate.Length(max=5000)
_NAME = validate.Length(min=1, max=200)
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL_IN_LINE = re.compile("[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
READ_ONLY_PROPERTIES = ("status", "next_change", "length_m", "version", "created_at", "updated_at",
                        "planned_end", "periods", "reports")


class When(fields.String):
    """A local date (`2024-06-05`) or an RFC 3339 date-time with an offset."""

    default_error_messages = {
        "invalid": "must be a date (YYYY-MM-DD) or an RFC 3339 date-time with an offset",
        "naive": "date-time needs an offset such as +08:00 or Z",
        "no_date": "{value} is not a real calendar date",
    }

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.isoformat()

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        if _DATE.match(value):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise self.make_error("no_date", value=value) from None
            if not EARLIEST.date() <= day < LATEST.date():
                raise ValidationError("must lie between the years 1900 and 2199")
            return day
        return parse_instant(value, self)


_UNENCODED_PLUS = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt][\d:.]+) (\d{2}:?\d{2})$")
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc)


def parse_instant(value: str, field: fields.Field) -> datetime:
    """An aware datetime from RFC 3339 text, or the field's error."""
    # A '+' left unencoded in a query string arrives as a space: read it as the '+' it was.
    value = _UNENCODED_PLUS.sub(r"\1+\2", value)
    if "T" not in value.upper() and " " not in value:
        raise field.make_error("invalid")
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise field.make_error("invalid") from None
    if parsed.tzinfo is None:
        raise field.make_error("naive")
    if not EARLIEST <= parsed < LATEST:
        raise ValidationError("must lie between the years 1900 and 2199")
    return parsed


class Name(fields.String):
    """One line of text (a road, a label): no control characters, 1 to 200 characters."""

    control = _CONTROL_IN_LINE

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", _NAME)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if _SURROGATE.search(text):
            raise ValidationError("contains an unpaired UTF-16 surrogate, which is not text")
        if self.control.search(text):
            raise ValidationError("contains a control character")
        return text


class Text(Name):
    """Free text (a description, a detour): line breaks and tabs allowed, up to 5,000 characters."""

    control = _CONTROL_IN_TEXT

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", _TEXT)
        super().__init__(**kwargs)


class StrictBoolean(fields.Boolean):
    """JSON true or false only: "yes", 1 or "false" are mistakes, not booleans."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean: must be JSON true or false")
        return value


class Clock(fields.String):
    """A wall-clock time `HH:MM`; `24:00` is allowed as an end."""

    default_error_messages = {"invalid": "must be a time HH:MM between 00:00 and 24:00"}

    def _serialize(self, value, attr, obj, **kwargs):
        return value

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not (_CLOCK.match(value) or value == "24:00"):
            raise self.make_error("invalid")
        return value


class StrictSchema(Schema):
    """Unknown members are errors, never silently dropped."""

    class Meta:
        unknown = RAISE


class WindowSchema(StrictSchema):
    start = When(required=True)
    end = When(allow_none=True, load_default=None)
    label = Name(allow_none=True)

    @post_load
    def to_span(self, data, **kwargs):
        return Span(data["start"], data.get("end"), data.get("label"))


class PauseSchema(StrictSchema):
    start = When(required=True)
    end = When(allow_none=True, load_default=None)
    reason = Name(allow_none=True)

    @post_load
    def to_span(self, data, **kwargs):
        return Span(data["start"], data.get("end"), data.get("reason"))


class HoursSchema(StrictSchema):
    days = fields.List(fields.String(validate=validate.OneOf(DAY_NAMES)), required=True,
                       validate=validate.Length(min=1, max=7))
    start = Clock(required=True)
    end = Clock(required=True)

    @validates_schema
    def check(self, data, **kwargs):
        if len(set(data["days"])) != len(data["days"]):
            raise ValidationError("a day is listed twice", "days")
        if data["start"] == data["end"]:
            raise ValidationError("equals start; leave out hours for works around the clock", "end")
        if data["start"] == "24:00":
            raise ValidationError("a start must be before 24:00", "start")

    @post_load
    def to_hours(self, data, **kwargs):
        return Hours(frozenset(DAY_NAMES.index(d) for d in data["days"]), _clock(data["start"]),
                     _clock(data["end"]), data["end"] == "24:00")


def _clock(text: str) -> time:
    hour, minute = (int(x) for x in text.split(":"))
    return time(0) if hour == 24 else time(hour, minute)


class ScheduleSchema(StrictSchema):
    windows = fields.List(fields.Nested(WindowSchema), required=True, validate=validate.Length(min=1, max=200))
    pauses = fields.List(fields.Nested(PauseSchema), load_default=list, validate=validate.Length(max=200))
    hours = fields.List(fields.Nested(HoursSchema), load_default=list, validate=validate.Length(max=28))

    @post_load
    def to_schedule(self, data, **kwargs):
        return Schedule(tuple(data["windows"]), tuple(data["pauses"]), tuple(data["hours"]))


class ClosurePropertiesSchema(StrictSchema):
    project = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    road = Name(required=True)
    from_ = Name(data_key="from", allow_none=True)
    to = Name(allow_none=True)
    direction = fields.String(load_default="both", validate=validate.OneOf(DIRECTIONS))
    impact = fields.String(load_default="closed", validate=validate.OneOf(IMPACTS))
    description = Text(allow_none=True)
    detour = Text(allow_none=True)
    schedule = fields.Nested(ScheduleSchema, required=True)
    actual_start = When(allow_none=True)
    actual_end = When(allow_none=True)
    cancelled = StrictBoolean(load_default=False)
    publish_at = When(allow_none=True)

    @pre_load
    def drop_read_only(self, data, **kwargs):
        """Clients may send back what they read; computed members are ignored, not rejected."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in READ_ONLY_PROPERTIES}
        return data


class ClosureFeatureSchema(StrictSchema):
    """A closure as one GeoJSON Feature; geometry rules are the domain's (see domain.geometry)."""

    type = fields.String(required=True, validate=validate.Equal("Feature"))
    id = fields.String(validate=validate.Regexp(ID_PATTERN, error="must be 1-64 letters, digits, '.', '_' or '-'"))
    geometry = fields.Dict(required=True, metadata={"description": "GeoJSON LineString or MultiLineString"})
    properties = fields.Nested(ClosurePropertiesSchema, required=True)
    bbox = fields.List(fields.Float(), load_only=True)


class FeatureCollectionSchema(StrictSchema):
    """Only the envelope: each feature is checked on its own so errors carry its index."""

    type = fields.String(required=True, validate=validate.Equal("FeatureCollection"))
    features = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=10_000))
    bbox = fields.List(fields.Float(), load_only=True)


class ProjectSchema(StrictSchema):
    id = fields.String(validate=validate.Regexp(ID_PATTERN, error="must be 1-64 letters, digits, '.', '_' or '-'"))
    name = Name(required=True)
    description = Text(allow_none=True)
    agency = Name(metadata={"description": "defaults to the editor token's agency"})
    contact = Name(allow_none=True)
    reference = Name(allow_none=True)
    timezone = fields.String(validate=validate.Length(min=1, max=64))
    pauses = fields.List(fields.Nested(PauseSchema), load_default=list, validate=validate.Length(max=200))

    @pre_load
    def drop_read_only(self, data, **kwargs):
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in ("version", "created_at", "updated_at")}
        return data


class ReopenSchema(StrictSchema):
    at = When(metadata={"description": "when traffic flowed again; default now"})


# Bodies as the registry takes them: every load raises ValidationFailed with flat field paths.

def load_project(body: Any) -> dict:
    """A project body (POST or PUT) as ProjectSchema loads it."""
    return _load(ProjectSchema(), body, "")


def load_closure(body: Any, path: str = "") -> dict:
    """A closure Feature as ClosureFeatureSchema loads it; error paths placed under `path`."""
    return _load(ClosureFeatureSchema(), body, path)


def load_reopen(body: Any) -> date | datetime | None:
    """When the road reopened, if the body says (no body: the registry takes now)."""
    return _load(ReopenSchema(), {} if body is None else body, "").get("at")


def load_features(body: Any) -> list[dict | ValidationFailed]:
    """An import: each feature loaded, or the ValidationFailed naming it by index; a bad envelope raises."""
    envelope = _load(FeatureCollectionSchema(), body, "")
    return [_attempt(load_closure, feature, f"features[{index}]")
            for index, feature in enumerate(envelope["features"])]


def patched(load: Callable[[Any], dict], patch: Any) -> Callable[[dict], dict]:
    """A JSON Merge Patch as the registry's edit: the stored document merged with `patch`, then loaded whole."""
    return lambda doc: load(merge_patch(doc, patch))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {'properties.schedule.windows[0].end': [...]}."""
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "$": [_plain(m) for m in messages]}
    if isinstance(messages, list):
        messages = dict(enumerate(messages))
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        if key == "_schema":
            child = prefix or "$"
        elif isinstance(key, int):
            child = f"{prefix}[{key}]"
        else:
            child = f"{prefix}.{key}" if prefix else str(key)
        for path, msgs in flatten_errors(value, child).items():
            out.setdefault(path, []).extend(msgs)
    return out


def _load(schema: Schema, body: Any, path: str) -> dict:
    if not isinstance(body, dict):
        raise ValidationFailed.one(path or "$", "must be a JSON object")
    try:
        return schema.load(body)
    except ValidationError as error:
        raise ValidationFailed(flatten_errors(error.messages, path)) from None


def _attempt(load: Callable[[Any, str], dict], body: Any, path: str) -> dict | ValidationFailed:
    try:
        return load(body, path)
    except ValidationFailed as failure:
        return failure


def _plain(message: str) -> str:
    return "unknown field" if message == "Unknown field." else message


# Response shapes, for the OpenAPI document only: responses are rendered in api/render.py.

class Shape(Schema):
    """A response's members that clients rely on; more may be added without a new API version."""

    class Meta:
        unknown = INCLUDE


class ProblemSchema(Shape):
    """RFC 9457 problem details, as every error answers (application/problem+json)."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True, validate=validate.Range(min=400, max=599))
    detail = fields.String(required=True)
    instance = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "field path -> reasons, for validation failures"})


class HistoryEntrySchema(Shape):
    version = fields.Integer(required=True)
    at = fields.String(required=True)
    by = fields.String(required=True, allow_none=True)
    action = fields.String(required=True)
    changes = fields.Dict(allow_none=True)


class HistorySchema(Shape):
    history = fields.List(fields.Nested(HistoryEntrySchema), required=True)


class ProjectOutSchema(Shape):
    id = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    agency = fields.String(required=True)
    contact = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    timezone = fields.String(required=True)
    pauses = fields.List(fields.Dict(), required=True)
    version = fields.Integer(required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)


class ProjectListSchema(Shape):
    projects = fields.List(fields.Nested(ProjectOutSchema), required=True)


class FeatureOutSchema(Shape):
    """A closure as served: its ClosureFeature plus read-only status, next_change, length_m, version..."""

    type = fields.String(required=True, validate=validate.Equal("Feature"))
    id = fields.String(required=True)
    geometry = fields.Dict(required=True)
    properties = fields.Dict(required=True)


class FeatureListSchema(Shape):
    type = fields.String(required=True, validate=validate.Equal("FeatureCollection"))
    features = fields.List(fields.Nested(FeatureOutSchema), required=True)
    numberMatched = fields.Integer()
    numberReturned = fields.Integer()
