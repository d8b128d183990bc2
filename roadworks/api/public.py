"""Public reads: projects, closures at an instant, single resources and their history."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, request, url_for
from marshmallow import RAISE

from ..answers import lifetime, make_answer
from ..domain.errors import NotFound
from ..feeds import dumps, encode
from ..pages import crs_note, feature_bytes
from ..reports import with_reports
from .answering import respond
from .bodies import FeatureListSchema, FeatureOutSchema, HistorySchema, ProjectListSchema, ProjectOutSchema
from .listing import GEOJSON, closures_page
from .queries import ApiBlueprint, AtQuerySchema, ClosureQuerySchema, make_cursor
from .render import local_iso, project_json

blp = ApiBlueprint("public", __name__, url_prefix="/api/v1", description="Public reads: anyone, no token needed")
JSON = "application/json"


@blp.route("/projects", methods=["GET"])
@blp.alt_response(200, schema=ProjectListSchema, success=True)
def list_projects():
    """All projects."""
    def build(snapshot, who, now):
        projects = current_app.extensions["roadworks"].registry.projects()
        body = dumps({"projects": [project_json(p) for p in projects]})
        return make_answer(body, JSON, lifetime(snapshot, (), who, now))
    return respond(build, {})


@blp.route("/projects/<id>", methods=["GET"])
@blp.alt_response(200, schema=ProjectOutSchema, success=True)
def get_project(id):
    """One project."""
    def build(snapshot, who, now):
        project = current_app.extensions["roadworks"].registry.project(id)
        return make_answer(dumps(project_json(project)), JSON, lifetime(snapshot, (), who, now),
                           version=project.version)
    return respond(build, {}, extra=(id,))


@blp.route("/projects/<id>/history", methods=["GET"])
@blp.alt_response(200, schema=HistorySchema, success=True)
def project_history(id):
    """Every version of a project: when, by whom, what changed."""
    return _history("project", id)


@blp.route("/closures", methods=["GET"])
@blp.alt_response(200, schema=FeatureListSchema, content_type=GEOJSON, success=True)
@blp.arguments(ClosureQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def list_closures(**query):
    """Closures as a GeoJSON FeatureCollection, with each status at `at` (default now)."""
    memo = current_app.extensions["roadworks"].fragments
    return respond(lambda snapshot, who, now: closures_page(snapshot, query, who, now, memo, _next_url,
                                                            _report_counts(snapshot)), query)


@blp.route("/closures/<id>", methods=["GET"])
@blp.alt_response(200, schema=FeatureOutSchema, content_type=GEOJSON, success=True)
@blp.arguments(AtQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def get_closure(id, **query):
    """One closure as a GeoJSON Feature, from the same snapshot as the list (so it answers in an outage too)."""
    memo = current_app.extensions["roadworks"].fragments

    def build(snapshot, who, now):
        entry = snapshot.get(id)
        if entry is None or not entry.visible(who, now):
            raise NotFound(f"no closure {id!r}")
        counted = _report_counts(snapshot)
        body = feature_bytes(entry, query.get("at") or now, query["crs"], memo, counted.of)
        note, headers = crs_note(query["crs"])
        if note:  # one more member at the Feature's end
            body = body[:-1] + b"," + encode(note)[1:]
        life = with_reports(lifetime(snapshot, [entry], who, now, at=query.get("at")), counted, [id])
        return make_answer(body, GEOJSON, life,
                           version=entry.view.closure.version, headers=headers)
    return respond(build, query, extra=(id,))


@blp.route("/closures/<id>/history", methods=["GET"])
@blp.alt_response(200, schema=HistorySchema, success=True)
def closure_history(id):
    """Every version of a closure: when, by whom (token name), what changed."""
    return _history("closure", id)


def _history(kind: str, id: str):
    def build(snapshot, who, now):
        entries, project = current_app.extensions["roadworks"].registry.history(kind, id, who)
        body = dumps({"history": [dict(e, at=local_iso(e["at"], project)) for e in entries]})
        return make_answer(body, JSON, lifetime(snapshot, (), who, now))
    return respond(build, {}, extra=(id,))


def _report_counts(snapshot):
    # Residents' reports move the change sequence, so answers kept per sequence carry fresh counts.
    return current_app.extensions["roadworks"].report_counts.at(snapshot.seq)


def _next_url(after_id: str) -> str:
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    args["cursor"] = make_cursor(after_id)
    # Relative, so one cached answer serves every host name and scheme the service is reached by.
    return url_for("public.list_closures") + "?" + urlencode(args)
