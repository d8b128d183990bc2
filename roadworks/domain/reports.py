"""Residents' reports: kinds, states and their transitions, plain text, contacts, and distances to closures."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import email_validator
import phonenumbers
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from .errors import ValidationFailed

KINDS = ("closed-but-no-works", "open-but-shown-closed", "detour-problem", "unsafe-site", "noise-or-hours", "other")
STATES = ("new", "acknowledged", "resolved", "rejected")
OPEN_STATES = ("new", "acknowledged")
CLOSED_STATES = ("resolved", "rejected")
# Where a report may go from each state. Going back (resolved -> acknowledged, say) would reopen a question
# the resident was told is settled; a new report is the way to raise it again.
TRANSITIONS = {"new": ("acknowledged", "resolved", "rejected"), "acknowledged": ("resolved", "rejected"),
               "resolved": (), "rejected": ()}
# A contact is erased this long after its report was resolved or rejected (contract, "Residents' reports").
CONTACT_KEPT = timedelta(days=180)
TEXT_MAX = 2000
REPLY_MAX = 2000
CONTACT_MAX = 254  # the longest e-mail address SMTP carries
# A point within this many metres of a closure's line is a report about that closure.
ON_CLOSURE_M = 30.0
# A point on no closure goes to the agency of the nearest closure within this many metres, else to admins.
NEAREST_M = 2000.0
# Reports on one closure whose times lie within this span of the previous one form a group: one problem
# many people saw, shown once with its size in the bureau's queue.
GROUP_SPAN = timedelta(hours=6)
DEFAULT_REGION = "CN"  # a phone number without +country is read as a Chinese one
# Control characters other than line breaks and tabs, and the bidirectional overrides that can make a text
# read differently from what it holds (Trojan Source): none of them belongs in a note about a street.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Contact:
    """A validated way to reach the reporter, in a normal form."""

    value: str
    medium: str  # "phone" or "email"


def check_kind(value: Any) -> str:
    if not isinstance(value, str) or value not in KINDS:
        raise ValidationFailed.one("kind", f"must be one of {', '.join(KINDS)}")
    return value


def plain_text(value: Any, field: str, cap: int, *, required: bool = True) -> str | None:
    """Text as plain text: NFC, line breaks as \\n, no control characters, trimmed, at most `cap` characters."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ValidationFailed.one(field, "must be a string")
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if required and not text:
        raise ValidationFailed.one(field, "must not be empty")
    if len(text) > cap:
        raise ValidationFailed.one(field, f"at most {cap} characters (got {len(text)})")
    bad = _BAD_CHARS.search(text)
    if bad:
        raise ValidationFailed.one(field, f"holds the control character U+{ord(bad.group()):04X}; send plain text")
    return text or None


def check_contact(value: Any) -> Contact | None:
    """An e-mail address (syntax only: no lookup leaves the server) or a phone number, normalised; None if absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > CONTACT_MAX:
        raise ValidationFailed.one("contact", f"must be a phone number or an e-mail address of at most "
                                              f"{CONTACT_MAX} characters")
    text = value.strip()
    if "@" in text:
        try:
            found = email_validator.validate_email(text, check_deliverability=False)
        except email_validator.EmailNotValidError as error:
            raise ValidationFailed.one("contact", f"not an e-mail address: {error}") from None
        return Contact(found.normalized, "email")
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationFailed.one("contact", "not a phone number (e.g. 13912345678 or +86 971 1234567) "
                                              "nor an e-mail address")
    return Contact(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), "phone")


def check_point(value: Any, service_area=None) -> tuple[float, float]:
    """A GeoJSON Point in WGS 84 (lon, lat), inside the service area when one is set."""
    if not isinstance(value, dict) or value.get("type") != "Point":
        raise ValidationFailed.one("point", 'must be a GeoJSON Point: {"type": "Point", "coordinates": [lon, lat]}')
    coords = value.get("coordinates")
    if not (isinstance(coords, list) and len(coords) in (2, 3)
            and all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in coords)):
        raise ValidationFailed.one("point.coordinates", "must be [lon, lat] in degrees")
    lon, lat = float(coords[0]), float(coords[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationFailed.one("point.coordinates", "lon must lie in -180..180 and lat in -90..90")
    if service_area is not None:
        min_lon, min_lat, max_lon, max_lat = service_area
        if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
            raise ValidationFailed.one("point.coordinates", "lies outside the service area (lon,lat order?)")
    return round(lon, 7), round(lat, 7)


def check_transition(current: str, wanted: Any) -> str:
    if not isinstance(wanted, str) or wanted not in STATES:
        raise ValidationFailed.one("state", f"must be one of {', '.join(STATES)}")
    if wanted != current and wanted not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current]) or "none: the report is closed"
        raise ValidationFailed.one("state", f"a {current} report cannot become {wanted} (allowed: {allowed})")
    return wanted


def metres_between(lon: float, lat: float, shape: BaseGeometry) -> float:
    """Distance in metres from a point to a line, on a local flat projection (good to a few km)."""
    kx = 111_320.0 * math.cos(math.radians(lat))
    ky = 110_540.0
    scaled = shapely.transform(shape, lambda xy: (xy - [lon, lat]) * [kx, ky])
    return float(scaled.distance(Point(0.0, 0.0)))


def degrees_around(lat: float, metres: float) -> tuple[float, float]:
    """Half-widths (lon, lat) in degrees of a box reaching `metres` from a point at latitude `lat`."""
    return metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.01)), metres / 110_540.0
