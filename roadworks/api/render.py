"""JSON representations of projects and closures, with the status-dependent members at an instant."""

from __future__ import annotations

from datetime import datetime

from ..domain.model import Project
from ..domain.schedule import zone
from ..documents import closure_doc, project_doc
from ..index import Entry
from ..registry import ClosureView


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
    closure, project = view.closure, view.project
    timeline = closure.timeline(project)
    feature = closure_doc(closure)
    feature["properties"].update(
        status=timeline.status_at(at), next_change=local_iso(timeline.next_change(at), project),
        length_m=closure.length_m, version=closure.version,
        created_at=local_iso(closure.created_at, project), updated_at=local_iso(closure.updated_at, project))
    return feature


def entry_feature(entry: Entry, at: datetime) -> dict:
    """A read-model entry as a GeoJSON Feature, reusing its cached document and status."""
    closure, project = entry.view.closure, entry.view.project
    status, change = entry.status(at)
    feature = dict(entry.doc)
    feature["properties"] = dict(feature["properties"], status=status, next_change=local_iso(change, project),
                                 length_m=closure.length_m, version=closure.version,
                                 created_at=local_iso(closure.created_at, project),
                                 updated_at=local_iso(closure.updated_at, project))
    return feature


def next_changes(view: ClosureView, at: datetime) -> datetime | None:
    """The earliest instant after `at` at which this closure's representation changes by itself."""
    candidates = [view.closure.timeline(view.project).next_change(at)]
    shown = view.closure.published_at(view.project)
    if shown is not None and shown > at:
        candidates.append(shown)
    return min((c for c in candidates if c is not None), default=None)
