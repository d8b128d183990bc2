"""The partners' change feed: every change anyone may see, in the order it became public, numbered without gaps.

Each entry's `seq` is its public number (store table `public_changes`): a change public when written is
numbered by its write; a draft is numbered when its publication comes due, after everything public before
it, so nothing here shows that a draft exists before it is published (contract, "Drafts").
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import request
from marshmallow import RAISE, ValidationError, fields, validate

from ..answers import Answer, lifetime, make_answer
from ..changes import Feed
from ..feeds import dumps
from ..index import Snapshot
from ..store.repository import Store
from .bodies import EARLIEST, LATEST
from .answering import respond
from .http import services
from .problems import Problem
from .queries import ApiBlueprint, QuerySchema
from .urls import public_url_for

blp = ApiBlueprint("changes", __name__, url_prefix="/api/v1",
                description="Incremental sync for partners: every change after a cursor, deletions included")
MAX_AGE = 5
_NOT_OURS = "not a cursor this API handed out"
# Public numbers and sequence numbers are BIGINT in the store: a larger one cannot be ours.
_LARGEST = 2 ** 63 - 1


@dataclass(frozen=True)
class Position:
    """Where a partner stands: the last public change number it was handed."""

    pseq: int

    def encode(self) -> str:
        return _b64({"p": self.pseq})


@dataclass(frozen=True)
class OldPosition:
    """A cursor of the feed before public numbers: the last history seq examined and that poll's instant."""

    seq: int
    at: datetime | None


class ChangeCursor(fields.String):
    """The opaque `next` of a previous answer."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value)
        if len(text) > 400:
            raise ValidationError(_NOT_OURS)
        try:
            return _position(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))
        except (binascii.Error, ValueError, TypeError, KeyError, IndexError, RecursionError, OverflowError):
            raise ValidationError(_NOT_OURS) from None


def _position(decoded: Any) -> Position | OldPosition:
    if "p" in decoded:
        if not _count(decoded["p"]) or len(decoded) != 1:
            raise ValueError("malformed cursor")
        return Position(decoded["p"])
    seq, at, tie = decoded["s"], decoded["t"], decoded.get("k")
    if not _count(seq) or not (tie is None or _count(tie)):
        raise ValueError("malformed cursor")
    if not (at is None or (isinstance(at, str) and len(at) <= 40)):
        raise ValueError("malformed cursor instant")
    instant = None if at is None else datetime.fromisoformat(at)
    if instant is not None and instant.tzinfo is None:
        raise ValueError("naive cursor instant")
    # A cursor carries the instant of a poll; one near the calendar's ends would overflow the feed's arithmetic.
    if instant is not None and not EARLIEST <= instant < LATEST:
        raise ValueError("cursor instant out of range")
    return OldPosition(seq, instant)


def _count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= _LARGEST


class ChangesQuerySchema(QuerySchema):
    since = ChangeCursor(metadata={"description": "the `next` of the previous answer; absent: from the beginning"})
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000))


@blp.route("/changes", methods=["GET"])
@blp.alt_response(200, success=True, schema={"type": "object", "required": ["changes", "next", "more"], "properties": {
    "changes": {"type": "array", "items": {"type": "object"}}, "next": {"type": "string"}, "more": {"type": "boolean"}}})
@blp.arguments(ChangesQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
def list_changes(limit, since=None):
    """Changes after the cursor `since`, oldest first, numbered 1, 2, 3... without gaps; a deletion is a
    tombstone (`data` null).

    Drafts are left out until published; a publication comes as an `update` numbered after every change
    made public before it. Everyone, editors included, reads the same public feed.
    """
    store = services().store
    next_url = _next_url

    def build(snapshot: Snapshot, who, at: datetime) -> Answer:
        store.publish_due(at)  # number the publications whose time has come (idempotent; writes only if some did)
        start = _start(store, since)
        rows = store.public_changes_since(start.pseq, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        # An empty answer keeps its cursor, so the body and its ETag stay the same and idle polls get 304.
        following = Position(rows[-1]["pseq"]) if rows else start
        headers = {"Link": f'<{next_url(following)}>; rel="next"'} if more else {}
        body = dumps({"changes": Feed(store).entries(rows), "next": following.encode(), "more": more})
        # It changes with the next write (a new sequence, so a new key) or the next draft's publication.
        upcoming = snapshot.published_between(at, LATEST)[:1]
        life = lifetime(snapshot, upcoming, who, at, at=at, also=(at + timedelta(seconds=MAX_AGE),))
        return make_answer(body, "application/json", life, headers=headers)
    return respond(build, {"limit": limit, "since": since})


def _start(store: Store, since: Position | OldPosition | None) -> Position:
    """The public number to continue after; a cursor of the old feed is mapped to one."""
    if since is None:
        return Position(0)
    if isinstance(since, OldPosition):
        if since.seq > store.sequence():
            raise Problem(400, "the cursor is ahead of this feed", {"since": [_NOT_OURS]})
        return Position(store.public_position(since.seq, since.at))
    if since.pseq > store.public_sequence():
        raise Problem(400, "the cursor is ahead of this feed", {"since": [_NOT_OURS]})
    return since


def _next_url(following: Position) -> str:
    args = dict(request.args.items(), since=following.encode())
    return public_url_for("changes.list_changes") + "?" + urlencode(args)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
