"""Public reads: projects, closures at an instant, single resources and their history."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request, url_for
from marshmallow import RAISE

from ..domain.crs import geometry_to
from .bodies import FeatureListSchema, FeatureOutSchema, HistorySchema, ProjectListSchema, ProjectOutSchema
from .fastpath import mark_cacheable
from .http import actor, bytes_response, crs_mark, json_response, now, seconds_until, services, settled
from .queries import ApiBlueprint, AtQuerySchema, ClosureQuerySchema, make_cursor
from .render import closure_feature, local_iso, next_changes, project_json

blp = ApiBlueprint("public", __name__, url_prefix="/api/v1", description="Public reads: anyone, no token needed")
GEOJSON = "application/geo+json"


@blp.route("/projects", methods=["GET"])
@blp.alt_response(200, schema=ProjectListSchema, success=True)
def list_projects():
    """All projects."""
    actor()  # a bad token is refused on every read, not ignored
    projects = services().registry.projects()
    return json_response({"projects": [project_json(p) for p in projects]})


@blp.route("/projects/<id>", methods=["GET"])
@blp.alt_response(200, schema=ProjectOutSchema, success=True)
def get_project(id):
    """One project."""
    actor()
    project = services().registry.project(id)
    return json_response(project_json(project), version=project.version)


@blp.route("/projects/<id>/history", methods=["GET"])
@blp.alt_response(200, schema=HistorySchema, success=True)
def project_history(id):
    """Every version of a project: when, by whom, what changed."""
    return json_response({"history": _history("project", id)})


@blp.route("/closures", methods=["GET"])
@blp.alt_response(200, schema=FeatureListSchema, content_type=GEOJSON, success=True)
@blp.arguments(ClosureQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def list_closures(**query):
    """Closures as a GeoJSON FeatureCollection, with each status at `at` (default now)."""
    clock, who, snapshot = now(), actor(), services().index.snapshot()
    listing = services().listings.get(snapshot, query, who, clock)
    mark_cacheable(snapshot.seq, listing, query)
    headers = crs_mark(query["crs"], None) or {}
    if listing.last_cursor:
        headers["Link"] = f'<{_next_url(listing.last_cursor)}>; rel="next"'
    return bytes_response(listing.body, listing.etag, mimetype=GEOJSON, headers=headers,
                          max_age=seconds_until(listing.max_age_until, clock),
                          last_modified=settled(listing.changed_at, clock))


@blp.route("/closures/<id>", methods=["GET"])
@blp.alt_response(200, schema=FeatureOutSchema, content_type=GEOJSON, success=True)
@blp.arguments(AtQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def get_closure(id, **query):
    """One closure as a GeoJSON Feature."""
    at = query.get("at") or now()
    view = services().registry.closure(id, actor())
    max_age = None if "at" in query else seconds_until(next_changes(view, at), at)
    feature = closure_feature(view, at)
    feature["geometry"] = geometry_to(feature["geometry"], query["crs"])
    return json_response(feature, version=view.closure.version, mimetype=GEOJSON, max_age=max_age,
                         headers=crs_mark(query["crs"], feature))


@blp.route("/closures/<id>/history", methods=["GET"])
@blp.alt_response(200, schema=HistorySchema, success=True)
def closure_history(id):
    """Every version of a closure: when, by whom (token name), what changed."""
    return json_response({"history": _history("closure", id)})


def _history(kind: str, id: str) -> list[dict]:
    entries, project = services().registry.history(kind, id, actor())
    return [dict(e, at=local_iso(e["at"], project)) for e in entries]


def _next_url(after_id: str) -> str:
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    args["cursor"] = make_cursor(after_id)
    # Relative, so one cached answer serves every host name and scheme the service is reached by.
    return url_for("public.list_closures") + "?" + urlencode(args)
