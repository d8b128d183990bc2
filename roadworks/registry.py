"""The registry's use cases: check, authorise and store projects and closures, given as parsed values."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from .auth import Actor
from .budget import ByteLru
from .domain import geometry
from .domain.errors import Conflict, NotFound, StaleVersion, ValidationFailed
from .domain.model import Closure, ClosureView, FeedCap, Project
from .domain.schedule import When, zone
from .documents import closure_doc, closure_from, closure_of, project_doc, project_from
from .store.repository import Store, Stored, Writer

AfterWrite = Callable[[Writer, Any], None]
# A new value made from the stored document, inside the write: JSON Merge Patch must see the document before
# the result is parsed. Values are dicts as the API's schemas load them (roadworks/api/bodies.py).
Edit = Callable[[dict], dict]


# Parsed documents kept, by an estimate of their memory: a parsed closure holds its line as Python
# lists and floats, several times its JSON text (PARSED_PER_JSON_BYTE), and a closure may be megabytes.
PARSED_BYTES = 64 * 1024 * 1024
PARSED_PER_JSON_BYTE = 6
PARSED_OVERHEAD = 2048


class Registry:
    """Projects and closures: every write is validated, authorised and stored with its history."""

    def __init__(self, store: Store, *, default_timezone: str, service_area, clock: Callable[[], datetime],
                 feed_cap: FeedCap | None = None):
        self.store = store
        # Every closure written must stay under it in every feed (None: unchecked).
        self.feed_cap = feed_cap
        self.default_timezone = default_timezone
        self.service_area = service_area
        self.clock = clock
        # Parsing a stored document costs far more than reading it, and a committed version never
        # changes; only committed rows (read outside write transactions) go in here.
        self._parsed = ByteLru(PARSED_BYTES)

    # ------------------------------------------------------------------ projects

    def project(self, id: str) -> Project:
        stored = self.store.get("project", id)
        if stored is None:
            raise NotFound(f"no project {id!r}")
        return self._value(stored)

    def projects(self) -> list[Project]:
        return [self._value(s) for s in self.store.projects()]

    def create_project(self, data: dict, actor: Actor, after: AfterWrite | None = None) -> Project:
        actor.require_editor()
        project = self._project_of(data, actor, id=None)
        actor.require_write(project.agency)
        with self.store.writing() as w:
            if w.get("project", project.id) is not None:
                raise Conflict(f"project {project.id!r} exists already; PUT to change it")
            return self._save_project(w, project, actor, "create", None, after)

    def replace_project(self, id: str, data: dict, actor: Actor, version: int | None,
                        after: AfterWrite | None = None) -> Project:
        return self.edit_project(id, lambda doc: data, actor, version, after)

    def edit_project(self, id: str, edit: Edit, actor: Actor, version: int | None,
                     after: AfterWrite | None = None) -> Project:
        """Replace a project by `edit` of its stored document, in one transaction (a merge patch, say)."""
        actor.require_editor()
        with self.store.writing() as w:
            current = self._current(w, "project", id, version)
            actor.require_write(current.owner)
            project = self._project_of(edit(current.doc), actor, id=id, agency=current.owner)
            actor.require_write(project.agency)
            return self._save_project(w, project, actor, "update", current, after)

    def delete_project(self, id: str, actor: Actor, version: int | None) -> None:
        actor.require_editor()
        with self.store.writing() as w:
            current = self._current(w, "project", id, version)
            actor.require_write(current.owner)
            if self.store.live_closure_count(id):
                raise Conflict(f"project {id!r} still has closures; delete or move them first")
            w.delete("project", id, now=self.clock(), actor=actor.name)

    def _project_of(self, data: dict, actor: Actor, *, id: str | None, agency: str | None = None) -> Project:
        if id is not None and data.get("id", id) != id:
            raise ValidationFailed.one("id", f"does not match the resource id {id!r}")
        owner = data.get("agency") or agency or actor.agency
        if not owner:
            raise ValidationFailed.one("agency", "required for an admin token without an agency")
        project = Project(id=id or data.get("id") or _new_id(), name=data["name"], agency=owner,
                          timezone=data.get("timezone") or self.default_timezone,
                          description=data.get("description"), contact=data.get("contact"),
                          reference=data.get("reference"), pauses=tuple(data["pauses"]))
        project.check()
        return project.in_zone(zone(project.timezone))

    def _save_project(self, w: Writer, project: Project, actor: Actor, action: str,
                      previous: Stored | None, after: AfterWrite | None) -> Project:
        doc = project_doc(project)
        stored = w.save("project", project.id, doc, columns={"agency": project.agency}, now=self.clock(),
                        actor=actor.name, action=action, changes=diff(previous.doc if previous else {}, doc))
        saved = replace(project, version=stored.version, created_at=stored.created_at,
                        updated_at=stored.updated_at)
        if after:
            after(w, saved)
        return saved

    # ------------------------------------------------------------------ closures

    def closure(self, id: str, actor: Actor) -> ClosureView:
        stored = self.store.get("closure", id)
        if stored is None:
            raise NotFound(f"no closure {id!r}")
        view = self._view(stored)
        if not self.visible(view, actor, self.clock()):
            raise NotFound(f"no closure {id!r}")
        return view

    def closures(self, actor: Actor, *, project: str | None = None, bbox=None) -> list[ClosureView]:
        now = self.clock()
        projects = {p.id: p for p in self.projects()}
        views = (ClosureView(self._value(s), projects[s.owner]) for s in
                 self.store.closures(project=project, bbox=bbox) if s.owner in projects)
        # Ordered by code point here, not by the database's collation, so paging cursors agree with it.
        return sorted((v for v in views if self.visible(v, actor, now)), key=lambda v: v.closure.id)

    def visible(self, view: ClosureView, actor: Actor, now: datetime) -> bool:
        """Drafts are shown only to those who may edit them."""
        return view.closure.is_published(view.project, now) or actor.may_write(view.project.agency)

    def create_closure(self, data: dict, actor: Actor, after: AfterWrite | None = None) -> ClosureView:
        actor.require_editor()
        with self.store.writing() as w:
            view = self._create_closure(w, data, actor, "")
            if after:
                after(w, view)
            return view

    def replace_closure(self, id: str, data: dict, actor: Actor, version: int | None,
                        after: AfterWrite | None = None) -> ClosureView:
        return self.edit_closure(id, lambda doc: data, actor, version, after)

    def edit_closure(self, id: str, edit: Edit, actor: Actor, version: int | None,
                     after: AfterWrite | None = None) -> ClosureView:
        """Replace a closure by `edit` of its stored document, in one transaction (a merge patch, say)."""
        def rewrite(w: Writer, current: Stored) -> ClosureView:
            return self._closure_of(w, edit(current.doc), actor, "", id=id)

        return self._rewrite_closure(id, rewrite, actor, version, "update", after)

    def reopen(self, id: str, at: When | None, actor: Actor, version: int | None,
               after: AfterWrite | None = None) -> ClosureView:
        """Mark the road open again: sets actual_end (default now)."""
        actor.require_editor()
        at = at or self.clock()

        def rewrite(w: Writer, current: Stored) -> ClosureView:
            closure = replace(closure_from(current), actual_end=at)
            project = self._writable_project(w, closure.project, actor, "")
            # A reopening only cuts periods off: it must never be refused, not even for a closure stored
            # before the feed cap existed.
            return self._checked(closure, project, "", None)

        return self._rewrite_closure(id, rewrite, actor, version, "reopen", after)

    def delete_closure(self, id: str, actor: Actor, version: int | None) -> None:
        actor.require_editor()
        with self.store.writing() as w:
            current = self._current(w, "closure", id, version)
            self._require_closure_write(w, current, actor)
            w.delete("closure", id, now=self.clock(), actor=actor.name)

    def _rewrite_closure(self, id: str, rewrite: Callable[[Writer, Stored], ClosureView], actor: Actor,
                         version: int | None, action: str, after: AfterWrite | None) -> ClosureView:
        """Replace a closure by a value made from its current version, inside one transaction."""
        actor.require_editor()
        with self.store.writing() as w:
            current = self._current(w, "closure", id, version)
            self._require_closure_write(w, current, actor)
            view = rewrite(w, current)
            saved = self._save_closure(w, view, actor, action, current)
            if after:
                after(w, saved)
            return saved

    def import_features(self, features: Sequence[dict | ValidationFailed], actor: Actor,
                        after: AfterWrite | None = None) -> list[ClosureView]:
        """All or nothing: every feature is checked, errors are reported by feature index.

        A feature the caller could not parse comes as the ValidationFailed it raised (its paths under
        `features[i]`), so that one answer names every feature's faults, the caller's and the domain's.
        """
        actor.require_editor()
        with self.store.writing() as w:
            saved, errors = [], {}
            for index, feature in enumerate(features):
                try:
                    if isinstance(feature, ValidationFailed):
                        raise feature
                    saved.append(self._upsert_closure(w, feature, actor, f"features[{index}]"))
                except ValidationFailed as failure:
                    errors.update(failure.errors)
            if errors:
                raise ValidationFailed(errors)
            if after:
                after(w, saved)
            return saved

    def history(self, kind: str, id: str, actor: Actor) -> tuple[list[dict], Project]:
        """Every version of a resource, deletions included, with the project whose zone dates it."""
        project = self._history_project(kind, id, actor)
        entries = [{"version": h["version"], "at": h["at"], "by": h["actor"], "action": h["action"],
                    "changes": h["changes"]} for h in self.store.history(kind, id)]
        return entries, project

    def _history_project(self, kind: str, id: str, actor: Actor) -> Project:
        stored = self.store.get(kind, id, include_deleted=True)
        if stored is None:
            raise NotFound(f"no {kind} {id!r}")
        if kind == "project":
            return self._value(stored)
        if stored.deleted_at is None:
            return self.closure(id, actor).project
        project = self._value(self.store.get("project", stored.owner, include_deleted=True))
        # A draft deleted before it was published was never public, and its history is not either.
        shown = closure_from(stored).is_published(project, min(self.clock(), stored.deleted_at))
        if not shown and not actor.may_write(project.agency):
            raise NotFound(f"no closure {id!r}")
        return project

    # -- closure helpers

    def _upsert_closure(self, w: Writer, data: dict, actor: Actor, path: str) -> ClosureView:
        id = data.get("id")
        current = w.get("closure", id) if id is not None else None
        if current is None:
            return self._create_closure(w, data, actor, path)
        self._require_closure_write(w, current, actor)
        view = self._closure_of(w, data, actor, path, id=id)
        return self._save_closure(w, view, actor, "update", current)

    def _create_closure(self, w: Writer, data: dict, actor: Actor, path: str) -> ClosureView:
        view = self._closure_of(w, data, actor, path, id=None)
        if w.get("closure", view.closure.id) is not None:
            raise Conflict(f"closure {view.closure.id!r} exists already; PUT to change it")
        return self._save_closure(w, view, actor, "create", None)

    def _closure_of(self, w: Writer, data: dict, actor: Actor, path: str, *, id: str | None) -> ClosureView:
        """The closure a parsed Feature describes, checked against its project and every domain rule."""
        if id is not None and data.get("id", id) != id:
            raise ValidationFailed.one(_at(path, "id"), f"does not match the resource id {id!r}")
        props = data["properties"]
        project = self._writable_project(w, props["project"], actor, path)
        try:
            geom = geometry.normalize_line_geometry(data["geometry"], service_area=self.service_area)
        except ValidationFailed as failure:
            raise failure.prefixed(path) from None
        closure = closure_of(id or data.get("id") or _new_id(), props, geom)
        return self._checked(closure, project, path, self.feed_cap)

    def _checked(self, closure: Closure, project: Project, path: str, cap: FeedCap | None) -> ClosureView:
        try:
            closure.check(project, cap)
        except ValidationFailed as failure:
            raise failure.prefixed(path) from None
        return ClosureView(closure.in_zone(zone(project.timezone)), project)

    def _writable_project(self, w: Writer, project_id: str, actor: Actor, path: str) -> Project:
        stored = w.get("project", project_id)
        if stored is None:
            raise ValidationFailed.one(_at(path, "properties.project"), f"no project {project_id!r}")
        actor.require_write(stored.owner)
        # Parsed without the cache: rows read inside a transaction may yet be rolled back.
        return project_from(stored)

    def _require_closure_write(self, w: Writer, current: Stored, actor: Actor) -> None:
        project = w.get("project", current.owner, include_deleted=True)
        actor.require_write(project.owner)

    def _save_closure(self, w: Writer, view: ClosureView, actor: Actor, action: str,
                      previous: Stored | None) -> ClosureView:
        closure = view.closure
        doc = closure_doc(closure)
        min_lon, min_lat, max_lon, max_lat = geometry.bounds(closure.geometry)
        columns = {"project_id": closure.project, "road": closure.road, "length_m": closure.length_m,
                   "min_lon": min_lon, "min_lat": min_lat, "max_lon": max_lon, "max_lat": max_lat}
        stored = w.save("closure", closure.id, doc, columns=columns, now=self.clock(), actor=actor.name,
                        action=action, changes=diff(previous.doc if previous else {}, doc))
        saved = replace(closure, version=stored.version, created_at=stored.created_at,
                        updated_at=stored.updated_at)
        return ClosureView(saved, view.project)

    # -- shared helpers

    def _view(self, stored: Stored) -> ClosureView:
        project = self.store.get("project", stored.owner, include_deleted=True)
        return ClosureView(self._value(stored), self._value(project))

    def _value(self, stored: Stored) -> Any:
        """The Project or Closure of a committed stored version, parsed once (while it fits PARSED_BYTES)."""
        key = (stored.kind, stored.id, stored.version, stored.seq)
        value = self._parsed.get(key)
        if value is None:
            parse = project_from if stored.kind == "project" else closure_from
            value = parse(stored)
            cost = PARSED_OVERHEAD + PARSED_PER_JSON_BYTE * len(json.dumps(stored.doc, default=str))
            self._parsed.put(key, value, cost)
        return value

    def _current(self, w: Writer, kind: str, id: str, version: int | None) -> Stored:
        stored = w.get(kind, id)
        if stored is None:
            raise NotFound(f"no {kind} {id!r}")
        if version is not None and stored.version != version:
            raise StaleVersion(f"{kind} {id!r} is at version {stored.version}, not {version}")
        return stored


# ---------------------------------------------------------------------- diffs and ids

def diff(old: dict, new: dict) -> dict:
    """What changed between two documents, by member path: {path: {"from": ..., "to": ...}}."""
    changes = {}
    for path, (before, after) in _pairs(old, new, ""):
        if before != after:
            changes[path] = {"from": before, "to": after}
    return changes


def _pairs(old: dict, new: dict, prefix: str) -> Iterable[tuple[str, tuple[Any, Any]]]:
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if key == "properties" and isinstance(before or {}, dict) and isinstance(after or {}, dict):
            yield from _pairs(before or {}, after or {}, "properties.")
        else:
            yield prefix + key, (before, after)


def _at(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _new_id() -> str:
    return uuid.uuid4().hex[:16]
