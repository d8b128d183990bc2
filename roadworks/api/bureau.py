"""The bureau's writes: projects, closures, reopening and bulk import, for editor and admin tokens."""

from __future__ import annotations

from flask import url_for
from flask_smorest import Blueprint

from .http import editor, idempotent, json_body, json_response, now, optional_version, required_version, services
from .render import closure_feature, project_json

blp = Blueprint("bureau", __name__, url_prefix="/api/v1",
                description="Writes: need `Authorization: Bearer <token>` of an editor or admin")
GEOJSON = "application/geo+json"


def _body_doc(schema: str) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{schema}"}}}}}


def _project_created(project, status=201):
    headers = {"Location": url_for("public.get_project", id=project.id)} if status == 201 else None
    return json_response(project_json(project), status=status, version=project.version, headers=headers)


def _closure_saved(view, status=200):
    headers = {"Location": url_for("public.get_closure", id=view.closure.id)} if status == 201 else None
    return json_response(closure_feature(view, now()), status=status, version=view.closure.version,
                         mimetype=GEOJSON, headers=headers)


@blp.route("/projects", methods=["POST"])
@blp.doc(**_body_doc("Project"))
def create_project():
    """Create a project (for the token's own agency)."""
    who, body = editor(), json_body()
    return idempotent(lambda after: services().registry.create_project(body, who, after),
                      lambda project: _project_created(project))


@blp.route("/projects/<id>", methods=["PUT"])
@blp.doc(**_body_doc("Project"))
def replace_project(id):
    """Replace a project; needs If-Match."""
    who, version, body = editor(), required_version(), json_body()
    return _project_created(services().registry.replace_project(id, body, who, version), status=200)


@blp.route("/projects/<id>", methods=["PATCH"])
@blp.doc(**_body_doc("Project"))
def patch_project(id):
    """Change a project with a JSON Merge Patch (RFC 7386); needs If-Match."""
    who, version, body = editor(), required_version(), json_body()
    return _project_created(services().registry.patch_project(id, body, who, version), status=200)


@blp.route("/projects/<id>", methods=["DELETE"])
def delete_project(id):
    """Delete a project that has no closures left; needs If-Match."""
    who = editor()
    services().registry.delete_project(id, who, required_version())
    return "", 204


@blp.route("/closures", methods=["POST"])
@blp.doc(**_body_doc("ClosureFeature"))
def create_closure():
    """Create a closure from one GeoJSON Feature; honours Idempotency-Key."""
    who, body = editor(), json_body()
    return idempotent(lambda after: services().registry.create_closure(body, who, after),
                      lambda view: _closure_saved(view, status=201))


@blp.route("/closures/<id>", methods=["PUT"])
@blp.doc(**_body_doc("ClosureFeature"))
def replace_closure(id):
    """Replace a closure; needs If-Match."""
    who, version, body = editor(), required_version(), json_body()
    return _closure_saved(services().registry.replace_closure(id, body, who, version))


@blp.route("/closures/<id>", methods=["PATCH"])
@blp.doc(**_body_doc("ClosureFeature"))
def patch_closure(id):
    """Change a closure with a JSON Merge Patch (RFC 7386); needs If-Match."""
    who, version, body = editor(), required_version(), json_body()
    return _closure_saved(services().registry.patch_closure(id, body, who, version))


@blp.route("/closures/<id>", methods=["DELETE"])
def delete_closure(id):
    """Delete a closure (a tombstone stays for partners' sync); needs If-Match."""
    who = editor()
    services().registry.delete_closure(id, who, required_version())
    return "", 204


@blp.route("/closures/<id>/reopen", methods=["POST"])
@blp.doc(**_body_doc("Reopen"))
def reopen_closure(id):
    """Record that the road reopened (default now): sets actual_end; If-Match optional."""
    who, version, body = editor(), optional_version(), json_body(optional=True)
    return idempotent(lambda after: services().registry.reopen(id, body, who, version, after),
                      lambda view: _closure_saved(view))


@blp.route("/import", methods=["POST"])
@blp.doc(**_body_doc("FeatureCollection"))
def import_closures():
    """Create or replace many closures at once: all or nothing, errors by feature index."""
    who, body = editor(), json_body()

    def render(views):
        at = now()
        return json_response({"type": "FeatureCollection", "features": [closure_feature(v, at) for v in views]},
                             mimetype=GEOJSON)

    return idempotent(lambda after: services().registry.import_features(body, who, after), render)
