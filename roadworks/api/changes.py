"""The partners' change feed: every committed change in sequence order, deletions and late publications included."""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import request, url_for
from marshmallow import RAISE, ValidationError, fields, validate

from ..documents import closure_doc, closure_from, project_from
from ..domain.model import Closure, Project
from ..store.repository import Store, Stored
from .http import actor, json_response, now, services
from .problems import Problem
from .queries import ApiBlueprint, QuerySchema
from .render import local_iso, project_json

blp = ApiBlueprint("changes", __name__, url_prefix="/api/v1",
                description="Incremental sync for partners: every change after a cursor, deletions included")
MAX_AGE = 5
# History rows examined per poll at most: a long run of hidden drafts cannot make one request unbounded.
SCAN_CAP = 10_000
_NOT_OURS = "not a cursor this API handed out"


@dataclass(frozen=True)
class Position:
    """Where a partner stands: the last change sequence examined, and the instant of that poll.

    `tie` is set only when a page was cut among publications: those up to (at, tie) were handed out.
    """

    seq: int
    at: datetime | None
    tie: int | None = None

    def encode(self) -> str:
        data = {"s": self.seq, "t": None if self.at is None else self.at.isoformat()}
        if self.tie is not None:
            data["k"] = self.tie
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


class ChangeCursor(fields.String):
    """The opaque `next` of a previous answer."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value)
        if len(text) > 400:
            raise ValidationError(_NOT_OURS)
        try:
            return _position(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))
        except (binascii.Error, ValueError, TypeError, KeyError, IndexError, RecursionError):
            raise ValidationError(_NOT_OURS) from None


def _position(decoded: Any) -> Position:
    seq, at, tie = decoded["s"], decoded["t"], decoded.get("k")
    if not _count(seq) or not (tie is None or _count(tie)):
        raise ValueError("malformed cursor")
    if not (at is None or (isinstance(at, str) and len(at) <= 40)):
        raise ValueError("malformed cursor instant")
    instant = None if at is None else datetime.fromisoformat(at)
    if instant is not None and instant.tzinfo is None:
        raise ValueError("naive cursor instant")
    return Position(seq, instant, tie)


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


class ChangesQuerySchema(QuerySchema):
    since = ChangeCursor(metadata={"description": "the `next` of the previous answer; absent: from the beginning"})
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000))


@blp.route("/changes", methods=["GET"])
@blp.alt_response(200, success=True, schema={"type": "object", "required": ["changes", "next", "more"], "properties": {
    "changes": {"type": "array", "items": {"type": "object"}}, "next": {"type": "string"}, "more": {"type": "boolean"}}})
@blp.arguments(ChangesQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
def list_changes(limit, since=None):
    """Changes after the cursor `since`, oldest first; a deletion is a tombstone (`data` null).

    Drafts are left out until published; one published since the last poll comes first, as an `update`.
    """
    actor()  # everyone gets the same public feed, but a bad token is refused as on every read
    store, at = services().store, now()
    start = since or Position(0, None)
    if start.seq > store.sequence():
        raise Problem(400, "the cursor is ahead of this feed", {"since": [_NOT_OURS]})
    feed = Feed(store, at)
    entries, resume = feed.published_since(start, limit)
    if resume is not None:
        following, more = resume, True
    else:
        scanned, last, more = feed.scan(start.seq, limit - len(entries))
        entries += scanned
        # An empty answer keeps its cursor, so the body and its ETag stay the same and idle polls get 304.
        following = start if not entries and last == start.seq else Position(last, at)
    headers = {"Link": f'<{_next_url(following)}>; rel="next"'} if more else {}
    return json_response({"changes": entries, "next": following.encode(), "more": more},
                         headers=headers, max_age=MAX_AGE)


def _next_url(following: Position) -> str:
    args = dict(request.args.items(), since=following.encode())
    return url_for("changes.list_changes", _external=True) + "?" + urlencode(args)


class Feed:
    """One poll: history rows turned into entries, showing the public only what it could see."""

    def __init__(self, store: Store, at: datetime):
        self.store, self.at = store, at
        self._projects: dict[str, Project] = {}

    def project(self, id: str) -> Project:
        """The current project (deleted or not): its zone dates entries and its drafts, as GET /closures does."""
        if id not in self._projects:
            self._projects[id] = project_from(self.store.get("project", id, include_deleted=True))
        return self._projects[id]

    def published_since(self, start: Position, room: int) -> tuple[list[dict], Position | None]:
        """Live closures examined in earlier polls while drafts, whose publication time has come since.

        In publication order, at most `room`; when cut, also the cursor that resumes after the last one.
        """
        found = sorted(self._publications(start), key=lambda f: (f[0], f[1].seq))
        entries = [_entry(s.seq, "closure", s.id, "update", s.version, s.updated_at, p, _closure_data(c, p))
                   for _, s, c, p in found[:room]]
        if len(found) <= room:
            return entries, None
        shown, stored = found[room - 1][:2]
        return entries, Position(start.seq, shown, stored.seq)

    def _publications(self, start: Position):
        after = None if start.at is None else (start.at, math.inf if start.tie is None else start.tie)
        for entry in services().index.snapshot().published_between(None if start.at is None else start.at - _TICK,
                                                                     self.at):
            if entry.seq > start.seq:
                continue  # newer versions come in sequence order
            shown, closure, project = entry.published_at, entry.closure, entry.view.project
            if after is None or (shown, entry.seq) > after:
                yield shown, _Version(entry.seq, closure.id, closure.version, closure.updated_at), closure, project

    def scan(self, after: int, room: int) -> tuple[list[dict], int, bool]:
        """Entries for history rows after `after`, at most `room`; returns them, the last seq examined, more."""
        entries, last, examined = [], after, 0
        while True:
            rows = self.store.changes_since(last, room + 1)
            for row, entry in zip(rows, self._entries(rows)):
                if len(entries) == room or examined == SCAN_CAP:
                    return entries, last, True
                last, examined = row["seq"], examined + 1
                if entry is not None:
                    entries.append(entry)
            if len(rows) <= room:
                return entries, last, False

    def _entries(self, rows: list[dict]) -> list[dict | None]:
        lives = Lives(self.store.outline({(r["kind"], r["resource_id"]) for r in rows}))
        # A hidden closure version needs its predecessor, to know whether the partner may hold that one.
        wanted = (lives.near(r, -1) for r in rows if r["kind"] == "closure" and _maybe_hidden(r["snapshot"]))
        previous = self.store.snapshots(p["seq"] for p in wanted if p is not None)
        return [self._project_entry(r, lives) if r["kind"] == "project" else self._closure_entry(r, lives, previous)
                for r in rows]

    def _project_entry(self, row: dict, lives: Lives) -> dict:
        if row["snapshot"] is None:
            return _entry(row["seq"], "project", row["resource_id"], "delete", row["version"], row["at"],
                          self.project(row["resource_id"]), None)
        project = project_from(_stored(row, lives))
        return _entry(row["seq"], "project", project.id, row["action"], row["version"], row["at"], project,
                      project_json(project))

    def _closure_entry(self, row: dict, lives: Lives, previous: dict[int, dict | None]) -> dict | None:
        """The version if the public could see it; else a tombstone if the partner may hold the one before."""
        if row["snapshot"] is not None:
            closure = closure_from(_stored(row, lives))
            project = self.project(closure.project)
            if self._public(closure, project, lives.replaced_at(row)):
                return _entry(row["seq"], "closure", closure.id, row["action"], row["version"], row["at"],
                              project, _closure_data(closure, project))
        before = lives.near(row, -1)
        if before is None or previous.get(before["seq"]) is None:
            return None  # a first version never seen, or a deletion's successor: nothing to take back
        earlier = closure_from(_stored(dict(before, snapshot=previous[before["seq"]]), lives))
        project = self.project(earlier.project)
        if not self._public(earlier, project, row["at"]):
            return None  # the version before was a draft all its life too: no partner ever held it
        return _entry(row["seq"], "closure", row["resource_id"], "delete", row["version"], row["at"], project, None)

    def _public(self, closure: Closure, project: Project, replaced_at: datetime | None) -> bool:
        """Whether a version was published while it was current: by its replacement, and by now."""
        shown = closure.published_at(project)
        return shown is None or shown <= min(self.at, replaced_at or self.at)


@dataclass(frozen=True)
class _Version:
    """What an entry needs of the stored version it shows."""

    seq: int
    id: str
    version: int
    updated_at: datetime


# Publication instants are compared with ties broken by seq, so the range starts just before the cursor's.
_TICK = timedelta(microseconds=1)


class Lives:
    """The version timelines (seq, action, at) of the resources named in one batch of history rows."""

    def __init__(self, outline: list[dict]):
        self.rows = {(r["kind"], r["resource_id"], r["version"]): r for r in outline}
        self.born: dict[tuple, datetime] = {}
        began: dict[tuple, datetime] = {}
        for r in outline:  # in sequence order, so each version sees the latest (re)creation before it
            if r["action"] == "create":
                began[(r["kind"], r["resource_id"])] = r["at"]
            self.born[(r["kind"], r["resource_id"], r["version"])] = began.get((r["kind"], r["resource_id"]), r["at"])

    def near(self, row: dict, step: int) -> dict | None:
        return self.rows.get((row["kind"], row["resource_id"], row["version"] + step))

    def replaced_at(self, row: dict) -> datetime | None:
        following = self.near(row, +1)
        return None if following is None else following["at"]

    def created_at(self, row: dict) -> datetime:
        return self.born.get((row["kind"], row["resource_id"], row["version"]), row["at"])


def _maybe_hidden(snapshot: dict | None) -> bool:
    """Only a deletion or a version with publish_at can be hidden from the public."""
    return snapshot is None or bool(snapshot["properties"].get("publish_at"))


def _stored(row: dict, lives: Lives) -> Stored:
    """A history row as the Stored version it recorded."""
    snapshot = row["snapshot"]
    owner = snapshot["agency"] if row["kind"] == "project" else snapshot["properties"]["project"]
    return Stored(row["kind"], row["resource_id"], snapshot, row["version"], row["seq"], lives.created_at(row),
                  row["at"], None, owner)


def _closure_data(closure: Closure, project: Project) -> dict:
    """A closure version as GET serves it, less the members that move with time (status, next_change)."""
    feature = closure_doc(closure)
    feature["properties"].update(length_m=closure.length_m, version=closure.version,
                                 created_at=local_iso(closure.created_at, project),
                                 updated_at=local_iso(closure.updated_at, project))
    return feature


def _entry(seq: int, kind: str, id: str, action: str, version: int, at: datetime, project: Project,
           data: dict | None) -> dict:
    return {"seq": seq, "kind": kind, "id": id, "action": action, "version": version,
            "at": local_iso(at, project), "data": data}
