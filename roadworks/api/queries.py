"""Query-argument schemas, apart from body schemas: parsed and checked before any handler runs."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta


from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from webargs.flaskparser import FlaskParser

from ..budget import ByteLru
from ..domain import crs as crs_names
from ..domain.geometry import parse_bbox
from ..domain.errors import ValidationFailed
from ..domain.schedule import STATUSES
from .bodies import ID_PATTERN, parse_instant

DEFAULT_STATUSES = ("active", "paused", "upcoming")


def check_interval_length(length: timedelta, settings: dict, hint: str = "") -> None:
    """Refuse a closed interval longer than MAX_INTERVAL_DAYS, naming the setting and its value."""
    cap = int(settings["MAX_INTERVAL_DAYS"])
    if length > timedelta(days=cap):
        raise ValidationError(f"the interval spans more than {cap} days (MAX_INTERVAL_DAYS={cap}); "
                              f"ask for a shorter one{hint}")


class Instant(fields.DateTime):
    """An RFC 3339 date-time with an offset."""

    default_error_messages = {"invalid": "must be an RFC 3339 date-time with an offset, e.g. 2024-05-20T12:00:00+08:00",
                              "naive": "needs an offset such as +08:00 or Z"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        return parse_instant(value, self)


class BBox(fields.String):
    """minLon,minLat,maxLon,maxLat in WGS 84."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_bbox(value if isinstance(value, str) else "", path="bbox")
        except ValidationFailed as failure:
            raise ValidationError(failure.errors["bbox"]) from None


class StatusList(fields.String):
    """A comma list of statuses, or `all`."""

    def _deserialize(self, value, attr, data, **kwargs):
        names = [s.strip() for s in str(value).split(",") if s.strip()]
        if names == ["all"]:
            return set(STATUSES)
        unknown = [n for n in names if n not in STATUSES]
        if unknown or not names:
            raise ValidationError(f"unknown status {', '.join(unknown) or '(empty)'}; "
                                  f"use a comma list of {', '.join(STATUSES)} or all")
        return set(names)


class Cursor(fields.String):
    """An opaque paging cursor handed out in Link: rel=next."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value)
        if len(text) > 400:
            raise ValidationError("not a cursor this API handed out")
        try:
            decoded = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            raise ValidationError("not a cursor this API handed out") from None
        if not isinstance(decoded, dict) or not isinstance(decoded.get("after"), str):
            raise ValidationError("not a cursor this API handed out")
        return decoded["after"]


def make_cursor(after_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_id}).encode()).decode().rstrip("=")


def crs_field() -> fields.String:
    """`crs=gcj02` answers in China's GCJ-02 (what Amap and Tencent maps draw in; Baidu's SDK converts from it) instead of WGS 84."""
    return fields.String(load_default=crs_names.WGS84, validate=validate.OneOf(crs_names.NAMES),
                         metadata={"description": "coordinate system of the answer (and of `bbox`): "
                                                  "wgs84 (default) or gcj02"})


class QuerySchema(Schema):
    class Meta:
        unknown = RAISE


class ClosureQuerySchema(QuerySchema):
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat", "example": "101.78,36.60,101.81,36.62"})
    at = Instant(metadata={"description": "instant for status (default now)"})
    status = StatusList(metadata={"description": "comma list of statuses or all (default active,paused,upcoming)"})
    road = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "substring of the road name"})
    project = fields.String(validate=validate.Regexp(ID_PATTERN))
    updated_since = Instant()
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000))
    cursor = Cursor()
    crs = crs_field()


class AtQuerySchema(QuerySchema):
    at = Instant(metadata={"description": "instant for status (default now)"})
    crs = crs_field()


class MemoQueryParser(FlaskParser):
    """Parses each distinct query string once: partners repeat the same poll all day.

    Bounded by bytes: an entry costs its query string and its parsed arguments, estimated at
    BYTES_PER_QUERY_BYTE times the query string (no argument parses into much more than its text;
    query strings are at most MAX_QUERY_BYTES, refused before parsing) plus a fixed overhead.
    """

    BUDGET = 8 * 1024 * 1024
    BYTES_PER_QUERY_BYTE = 4
    OVERHEAD = 1024

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._memo = ByteLru(self.BUDGET)

    def parse(self, argmap, req=None, *, location=None, **kwargs):
        if location != "query":
            return super().parse(argmap, req, location=location, **kwargs)
        req = req if req is not None else self.get_default_request()
        key = (id(argmap), req.query_string, kwargs.get("unknown"))
        parsed = self._memo.get(key)
        if parsed is None:
            parsed = super().parse(argmap, req, location=location, **kwargs)
            self._memo.put(key, parsed, self.OVERHEAD + self.BYTES_PER_QUERY_BYTE * len(req.query_string))
        return dict(parsed)

    @property
    def used(self) -> int:
        return self._memo.used


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint with memoised query parsing."""

    ARGUMENTS_PARSER = MemoQueryParser()
