"""The bureau's writes: projects, closures, reopening and bulk import, for editor and admin tokens."""

from __future__ import annotations

import re

from flask import Response, request, url_for
from flask_smorest import Blueprint

from .. import observability
from .bodies import (FeatureListSchema, FeatureOutSchema, ProjectOutSchema, load_closure, load_features, load_project,
                     load_reopen, patched)
from .http import (actor, editor, idempotent, json_body, json_response, now, optional_version, required_version,
                   services)
from .render import closure_feature, project_json

blp = Blueprint("bureau", __name__, url_prefix="/api/v1",
                description="Writes: need `Authorization: Bearer <token>` of an editor or admin")
GEOJSON = "application/geo+json"
_ETAG_VERSION = re.compile(r'^(?:W/)?"(\d+)\.')
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# Shown in /docs and sent by the API fuzzer (tests/api/test_fuzz.py) besides what it makes up.
EXAMPLES = {
    "ClosureFeature": {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7860, 36.6118]]},
        "properties": {"project": "dongguan-gas-2024", "road": "东关大街", "from": "乐都路", "to": "南小街",
                       "impact": "alternating", "direction": "both",
                       # Open-ended: in force today, not completed the moment it is created.
                       "schedule": {"windows": [{"start": "2025-03-01", "end": None, "label": "phase 3"}],
                                    "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                                               "start": "22:00", "end": "06:00"}]}}},
    "Project": {"name": "东关大街燃气管网提升改造项目", "contact": "12345", "timezone": "Asia/Shanghai"},
    "Reopen": {},  # now: any fixed instant would one day lie before the closure it reopens, or after today
}


def _body_doc(schema: str, required: bool = True) -> dict:
    content = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
    if schema in EXAMPLES:
        content["example"] = EXAMPLES[schema]
    return {"requestBody": {"required": required, "content": {"application/json": content}}}


def _patch_doc(schema: str) -> dict:
    """A JSON Merge Patch of `schema`: any subset of its members, null removing one."""
    patch = {"schema": {"type": "object", "description": f"JSON Merge Patch (RFC 7386) of a {schema}"}}
    return {"requestBody": {"required": True, "content": {"application/merge-patch+json": patch,
                                                          "application/json": patch}}}


def _saved(status: int, schema, content_type: str = "application/json"):
    """Document a write's success answer."""
    return blp.alt_response(status, schema=schema, content_type=content_type, success=True)


def _deleted():
    return blp.alt_response(204, description="Deleted", success=True)


def _project_created(project, status=201):
    headers = {"Location": url_for("public.get_project", id=project.id)} if status == 201 else None
    return json_response(project_json(project), status=status, version=project.version, headers=headers)


def _closure_saved(view, status=200):
    headers = {"Location": url_for("public.get_closure", id=view.closure.id)} if status == 201 else None
    return json_response(closure_feature(view, now(), _report_counts()), status=status, version=view.closure.version,
                         mimetype=GEOJSON, headers=headers)


def _report_counts():
    # A write answers what the next read gives, report counts included (so its ETag is the read's).
    found = services()
    return found.report_counts.at(found.store.sequence()).of


@blp.route("/projects", methods=["POST"])
@blp.doc(**_body_doc("Project"))
@_saved(201, ProjectOutSchema)
def create_project():
    """Create a project (for the token's own agency)."""
    who, body = editor(), json_body()
    return idempotent(lambda after: services().registry.create_project(load_project(body), who, after),
                      lambda project: _project_created(project))


@blp.route("/projects/<id>", methods=["PUT"])
@blp.doc(**_body_doc("Project"))
@_saved(200, ProjectOutSchema)
def replace_project(id):
    """Replace a project; needs If-Match."""
    who, version, body = editor(), required_version(), json_body()
    # Loaded inside the write, like a patch: an unknown, stale or foreign project answers so before its body.
    return _project_created(services().registry.edit_project(id, lambda doc: load_project(body), who, version),
                            status=200)


@blp.route("/projects/<id>", methods=["PATCH"])
@blp.doc(**_patch_doc("Project"))
@_saved(200, ProjectOutSchema)
def patch_project(id):
    """Change a project with a JSON Merge Patch (RFC 7386); needs If-Match."""
    who, version, body = editor(), required_version(), json_body()
    return _project_created(services().registry.edit_project(id, patched(load_project, body), who, version),
                            status=200)


@blp.route("/projects/<id>", methods=["DELETE"])
@_deleted()
def delete_project(id):
    """Delete a project that has no closures left; needs If-Match."""
    who = editor()
    services().registry.delete_project(id, who, required_version())
    return "", 204


@blp.route("/closures", methods=["POST"])
@blp.doc(**_body_doc("ClosureFeature"))
@_saved(201, FeatureOutSchema, GEOJSON)
def create_closure():
    """Create a closure from one GeoJSON Feature; honours Idempotency-Key."""
    who, body = editor(), json_body()
    return idempotent(lambda after: services().registry.create_closure(load_closure(body), who, after),
                      lambda view: _closure_saved(view, status=201))


@blp.route("/closures/<id>", methods=["PUT"])
@blp.doc(**_body_doc("ClosureFeature"))
@_saved(200, FeatureOutSchema, GEOJSON)
def replace_closure(id):
    """Replace a closure; needs If-Match."""
    who, version, body = editor(), required_version(), json_body()
    # Loaded inside the write, like a patch: an unknown, stale or foreign closure answers so before its body.
    return _closure_saved(services().registry.edit_closure(id, lambda doc: load_closure(body), who, version))


@blp.route("/closures/<id>", methods=["PATCH"])
@blp.doc(**_patch_doc("ClosureFeature"))
@_saved(200, FeatureOutSchema, GEOJSON)
def patch_closure(id):
    """Change a closure with a JSON Merge Patch (RFC 7386); needs If-Match."""
    who, version, body = editor(), required_version(), json_body()
    return _closure_saved(services().registry.edit_closure(id, patched(load_closure, body), who, version))


@blp.route("/closures/<id>", methods=["DELETE"])
@_deleted()
def delete_closure(id):
    """Delete a closure (a tombstone stays for partners' sync); needs If-Match."""
    who = editor()
    services().registry.delete_closure(id, who, required_version())
    return "", 204


@blp.route("/closures/<id>/reopen", methods=["POST"])
@blp.doc(**_body_doc("Reopen", required=False))
@_saved(200, FeatureOutSchema, GEOJSON)
def reopen_closure(id):
    """Record that the road reopened (default now): sets actual_end; If-Match optional."""
    who, version, body = editor(), optional_version(), json_body(optional=True)
    return idempotent(lambda after: services().registry.reopen(id, load_reopen(body), who, version, after),
                      lambda view: _closure_saved(view))


@blp.route("/import", methods=["POST"])
@blp.doc(**_body_doc("FeatureCollection"))
@_saved(200, FeatureListSchema, GEOJSON)
def import_closures():
    """Create or replace many closures at once: all or nothing, errors by feature index."""
    who, body = editor(), json_body()

    def render(views):
        at, counts = now(), _report_counts()
        return json_response({"type": "FeatureCollection", "features": [closure_feature(v, at, counts) for v in views]},
                             mimetype=GEOJSON)

    return idempotent(lambda after: services().registry.import_features(load_features(body), who, after), render)


@blp.after_request
def audit_accepted_write(response: Response) -> Response:
    """One audit line per accepted write, replays included: who, the ids written and the version made."""
    if 200 <= response.status_code < 300 and request.method in WRITES:
        observability.audit(actor(), response, *_written(response))
    return response


def _written(response: Response) -> tuple[list, int | None]:
    if request.endpoint == f"{blp.name}.{import_closures.__name__}":
        features = (response.get_json(silent=True) or {}).get("features") or []
        return [[f.get("id"), (f.get("properties") or {}).get("version")] for f in features], None
    id = (request.view_args or {}).get("id")
    if id is None and response.location:
        id = response.location.rstrip("/").rsplit("/", 1)[-1]
    match = _ETAG_VERSION.match(response.headers.get("ETag", ""))
    return [id], int(match.group(1)) if match else None
