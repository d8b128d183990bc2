"""JSON representations of projects and closures, with the status-dependent members at an instant."""

from __future__ import annotations

from datetime import datetime

from ..domain.model import Project
from ..domain.schedule import zone
from ..documents import closure_doc, project_doc
from ..index import Entry, first_event
from ..domain.model import ClosureView


def local_iso(instant: datetime | None, project: Project) -> str | None:
    """An instant as RFC 3339 with the project's offset."""
    return None if instant is None else instant.astimezone(zone(project.timezone)).isoformat()


def project_json(project: Project) -> dict:
    out = {"id": project.id, **project_doc(project)}
    out.update(version=project.version, created_at=local_iso(project.created_at, project),
               updated_at=local_iso(project.updated_at, project))
    return out


def closure_feature(view: ClosureView, at: datetime) -> dict:
    """One closure as a GeoJSON Feature, with `status` and `next_change` at instant `at`."""
    timeline = view.closure.timeline(view.project)
    return _feature(closure_doc(view.closure), view, timeline.status_at(at), timeline.next_change(at))


def entry_feature(entry: Entry, at: datetime) -> dict:
    """A read-model entry as a GeoJSON Feature, reusing its cached status."""
    return _feature(entry.doc, entry.view, *entry.status(at))


def _feature(doc: dict, view: ClosureView, status: str, change: datetime | None) -> dict:
    closure, project = view.closure, view.project
    doc["properties"] = dict(doc["properties"], status=status, next_change=local_iso(change, project),
                             length_m=closure.length_m, version=closure.version,
                             created_at=local_iso(closure.created_at, project),
                             updated_at=local_iso(closure.updated_at, project))
    return doc


def next_changes(view: ClosureView, at: datetime) -> datetime | None:
    """The earliest instant after `at` at which this closure's representation changes by itself."""
    closure, project = view.closure, view.project
    return first_event(closure.timeline(project).next_change(at), closure.published_at(project), at)
