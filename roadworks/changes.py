"""Entries of the public change feed (GET /changes, partner push): history rows shaped as partners read them."""

from __future__ import annotations

from datetime import datetime

from .documents import closure_doc, closure_from, project_from
from .domain.model import Closure, Project
from .pages import local_iso, project_json
from .store.repository import Store, Stored


class Feed:
    """One page of public changes turned into entries."""

    def __init__(self, store: Store):
        self.store = store
        self._projects: dict[str, Project] = {}

    def project(self, id: str) -> Project:
        """The current project (deleted or not): its zone dates entries, as GET /closures does."""
        if id not in self._projects:
            self._projects[id] = project_from(self.store.get("project", id, include_deleted=True))
        return self._projects[id]

    def _owner_of(self, row: dict) -> str | None:
        """The project of a closure tombstone: that of the version it hides, or of the deleted closure."""
        if row["snapshot"] is not None:
            return row["snapshot"]["properties"]["project"]
        stored = self.store.get("closure", row["resource_id"], include_deleted=True)
        return None if stored is None else stored.owner

    def entries(self, rows: list[dict]) -> list[dict]:
        lives = Lives(self.store.outline({(r["kind"], r["resource_id"]) for r in rows}))
        return [self._entry(row, lives) for row in rows]

    def _entry(self, row: dict, lives: "Lives") -> dict:
        shown = None if row["action"] == "delete" else _stored(row, lives)
        if row["kind"] == "project":
            project = project_from(shown) if shown is not None else self.project(row["resource_id"])
            data = None if shown is None else project_json(project)
        else:
            closure = None if shown is None else closure_from(shown)
            owner = closure.project if closure is not None else self._owner_of(row)
            project = None if owner is None else self.project(owner)
            data = None if closure is None else _closure_data(closure, project)
        return {"seq": row["pseq"], "kind": row["kind"], "id": row["resource_id"], "action": row["action"],
                "version": row["version"], "at": _local(row["at"], project), "data": data}


class Lives:
    """When each resource named in one page was (re)created, from its version timeline."""

    def __init__(self, outline: list[dict]):
        self.born: dict[tuple, datetime] = {}
        began: dict[tuple, datetime] = {}
        for r in outline:  # in sequence order, so each version sees the latest (re)creation before it
            if r["action"] == "create":
                began[(r["kind"], r["resource_id"])] = r["at"]
            self.born[(r["kind"], r["resource_id"], r["version"])] = began.get((r["kind"], r["resource_id"]), r["at"])

    def created_at(self, row: dict) -> datetime:
        return self.born.get((row["kind"], row["resource_id"], row["version"]), row["written_at"])


def _stored(row: dict, lives: Lives) -> Stored:
    """A history row as the Stored version it recorded."""
    snapshot = row["snapshot"]
    owner = snapshot["agency"] if row["kind"] == "project" else snapshot["properties"]["project"]
    return Stored(row["kind"], row["resource_id"], snapshot, row["version"], row["seq"], lives.created_at(row),
                  row["written_at"], None, owner)


def _closure_data(closure: Closure, project: Project) -> dict:
    """A closure version as GET serves it, less the members that move with time (status, next_change)."""
    feature = closure_doc(closure)
    feature["properties"].update(length_m=closure.length_m, version=closure.version,
                                 created_at=local_iso(closure.created_at, project),
                                 updated_at=local_iso(closure.updated_at, project))
    return feature


def _local(instant: datetime, project: Project | None) -> str:
    return instant.isoformat() if project is None else local_iso(instant, project)
