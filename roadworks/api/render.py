"""JSON representations of projects and closures for the bureau's write answers (reads go through pages.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from ..documents import closure_doc
from ..domain.model import ClosureView
from ..pages import feature_of, local_iso, project_json  # noqa: F401 - local_iso, project_json: the api's names


def closure_feature(view: ClosureView, at: datetime, reports: Callable[[str], dict] | None = None) -> dict:
    """One closure as a GeoJSON Feature, with `status` and `next_change` at instant `at` (and its residents'
    report counts, as reads give them, when `reports` is given)."""
    timeline = view.closure.timeline(view.project)
    found = feature_of(closure_doc(view.closure), view, timeline.status_at(at), timeline.next_change(at))
    if reports is not None:
        found["properties"]["reports"] = reports(view.closure.id)
    return found
