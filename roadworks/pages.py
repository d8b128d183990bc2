"""Pages of closures as byte joins: each closure's GeoJSON Feature is serialised once per version and status.

A 1,000-feature page is then a join of kept fragments, not a serialisation. A fragment depends on the
closure's version (its change sequence and view: a project edit gives a new view), the coordinate system,
and its status and next change at the page's instant; the `FragmentMemo` keeps one per closure and crs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable

from shapely.geometry import box

from .auth import ANONYMOUS
from .documents import closure_doc, project_doc
from .domain.crs import LABELS, URIS, WGS84, bbox_from
from .domain.model import ClosureView, Project
from .domain.schedule import zone
from .feeds import FragmentMemo, Raw, dumps, in_crs
from .index import Entry, Snapshot, visible


def select(snapshot: Snapshot, query: dict) -> list[Entry]:
    """Entries matching `bbox` (read in `crs`), `project`, `road` and `updated_since`, in id order, drafts included."""
    area = box(*bbox_from(query["bbox"], query.get("crs", WGS84))) if "bbox" in query else None
    entries = snapshot.select(area=area, project=query.get("project"), road=query.get("road"))
    since = query.get("updated_since")
    return [e for e in entries if since is None or e.view.closure.updated_at > since]


def public(entries: Iterable[Entry], at: datetime) -> list[Entry]:
    """What anyone may see at `at`: drafts stay out until their publication."""
    return visible(entries, ANONYMOUS, at)


def local_iso(instant: datetime | None, project: Project) -> str | None:
    """An instant as RFC 3339 with the project's offset."""
    return None if instant is None else instant.astimezone(zone(project.timezone)).isoformat()


def feature(entry: Entry, at: datetime, reports: dict | None = None) -> dict:
    """One closure as a GeoJSON Feature, with `status` and `next_change` at `at` (its line as the entry holds it),
    and its residents' report counts by state when given."""
    status, change = entry.status(at)
    found = feature_of(closure_doc(entry.closure), entry.view, status, change)
    if reports is not None:
        found["properties"]["reports"] = reports
    return found


def feature_of(doc: dict, view: ClosureView, status: str, change: datetime | None) -> dict:
    """The stored document with the members a reader sees: status, next change, length, version and dates."""
    closure, project = view.closure, view.project
    doc["properties"] = dict(doc["properties"], status=status, next_change=local_iso(change, project),
                             length_m=closure.length_m, version=closure.version,
                             created_at=local_iso(closure.created_at, project),
                             updated_at=local_iso(closure.updated_at, project))
    return doc


def features(entries: list[Entry], at: datetime, crs: str, memo: FragmentMemo,
             reports: Callable[[str], dict] | None = None) -> Raw:
    """The entries' Features at `at` in `crs`, as one serialised JSON array of kept fragments; with `reports`
    (counts by closure id) each carries its report counts, a fragment kept per counts."""
    moved = in_crs(entries, crs, memo)
    if reports is None:
        parts = [memo.get("feature", e, crs, e.status(at), lambda e=e: dumps(feature(e, at))) for e in moved]
    else:
        parts = []
        for e in moved:
            counts = reports(e.id)
            parts.append(memo.get("feature+reports", e, crs, (e.status(at), tuple(counts.values())),
                                  lambda e=e, c=counts: dumps(feature(e, at, c))))
    return Raw(b"[" + b",".join(parts) + b"]")


def feature_bytes(entry: Entry, at: datetime, crs: str, memo: FragmentMemo,
                  reports: Callable[[str], dict] | None = None) -> bytes:
    """One entry's Feature at `at` in `crs`, serialised (the fragment pages are joined from)."""
    return features([entry], at, crs, memo, reports)[1:-1]


def crs_note(crs: str) -> tuple[dict, dict]:
    """An answer not in WGS 84 says so: a member for JSON bodies and a Content-Crs header (none in WGS 84)."""
    if crs == WGS84:
        return {}, {}
    return {"coordinate_system": {"name": LABELS[crs], "uri": URIS[crs]}}, {"Content-Crs": f"<{URIS[crs]}>"}


def project_json(project: Project) -> dict:
    """A project as GET /projects/{id} serves it."""
    out = {"id": project.id, **project_doc(project)}
    out.update(version=project.version, created_at=local_iso(project.created_at, project),
               updated_at=local_iso(project.updated_at, project))
    return out
