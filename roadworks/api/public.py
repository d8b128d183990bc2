"""Public reads: projects, closures at an instant, single resources and their history."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request, url_for
from flask_smorest import Blueprint
from marshmallow import RAISE

from ..domain.geometry import to_shape
from .http import actor, json_response, now, seconds_until, services
from .queries import DEFAULT_STATUSES, AtQuerySchema, ClosureQuerySchema, make_cursor
from .render import closure_feature, local_iso, next_changes, project_json

blp = Blueprint("public", __name__, url_prefix="/api/v1", description="Public reads: anyone, no token needed")
GEOJSON = "application/geo+json"


@blp.route("/projects", methods=["GET"])
def list_projects():
    """All projects."""
    projects = services().registry.projects()
    return json_response({"projects": [project_json(p) for p in projects]})


@blp.route("/projects/<id>", methods=["GET"])
def get_project(id):
    """One project."""
    project = services().registry.project(id)
    return json_response(project_json(project), version=project.version)


@blp.route("/projects/<id>/history", methods=["GET"])
def project_history(id):
    """Every version of a project: when, by whom, what changed."""
    return json_response({"history": _history("project", id)})


@blp.route("/closures", methods=["GET"])
@blp.arguments(ClosureQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
def list_closures(**query):
    """Closures as a GeoJSON FeatureCollection, with each status at `at` (default now)."""
    at = query.get("at") or now()
    views = services().registry.closures(actor(), project=query.get("project"), bbox=query.get("bbox"))
    views = [v for v in views if _keeps(v, query)]
    wanted = query.get("status") or set(DEFAULT_STATUSES)
    features = [f for f in (closure_feature(v, at) for v in views) if f["properties"]["status"] in wanted]
    matched = len(features)
    if "cursor" in query:
        features = [f for f in features if f["id"] > query["cursor"]]
    page = features[:query["limit"]]
    headers = {}
    if len(features) > len(page):
        headers["Link"] = f'<{_next_url(query, page[-1]["id"])}>; rel="next"'
    expiry = min((c for c in (next_changes(v, at) for v in views) if c is not None), default=None)
    publication = services().registry.next_publication(at, project=query.get("project"), bbox=query.get("bbox"))
    expiry = min((c for c in (expiry, publication) if c is not None), default=None)
    body = {"type": "FeatureCollection", "features": page, "numberMatched": matched, "numberReturned": len(page)}
    if "at" in query:
        # Echoed only when asked for: "now" in the body would defeat every conditional poll.
        body["at"] = at.isoformat()
    return json_response(body, mimetype=GEOJSON, headers=headers,
                         max_age=None if "at" in query else seconds_until(expiry, at))


@blp.route("/closures/<id>", methods=["GET"])
@blp.arguments(AtQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
def get_closure(id, **query):
    """One closure as a GeoJSON Feature."""
    at = query.get("at") or now()
    view = services().registry.closure(id, actor())
    max_age = None if "at" in query else seconds_until(next_changes(view, at), at)
    return json_response(closure_feature(view, at), version=view.closure.version, mimetype=GEOJSON,
                         max_age=max_age)


@blp.route("/closures/<id>/history", methods=["GET"])
def closure_history(id):
    """Every version of a closure: when, by whom (token name), what changed."""
    return json_response({"history": _history("closure", id)})


def _history(kind: str, id: str) -> list[dict]:
    entries, project = services().registry.history(kind, id, actor())
    return [dict(e, at=local_iso(e["at"], project)) for e in entries]


def _keeps(view, query) -> bool:
    closure = view.closure
    if "road" in query and query["road"].casefold() not in closure.road.casefold():
        return False
    if "updated_since" in query and closure.updated_at <= query["updated_since"]:
        return False
    if "bbox" in query:
        min_lon, min_lat, max_lon, max_lat = query["bbox"]
        from shapely.geometry import box

        return to_shape(closure.geometry).intersects(box(min_lon, min_lat, max_lon, max_lat))
    return True


def _next_url(query, after_id: str) -> str:
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    args["cursor"] = make_cursor(after_id)
    return url_for("public.list_closures", _external=True) + "?" + urlencode(args)
