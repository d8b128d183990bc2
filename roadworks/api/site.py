"""The residents' map at /map/ (with / leading there) and the offline assets behind /docs."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, abort, jsonify, redirect, send_from_directory

from .problems import PROBLEMS

MAP_DIR = Path(__file__).resolve().parents[2] / "static" / "map"
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)

blp = Blueprint("site", __name__)


@blp.get("/")
def home():
    return redirect("/map/", code=302)


@blp.get("/map/")
@blp.get("/map/<path:name>")
def map_page(name: str = "index.html"):
    return send_from_directory(MAP_DIR, name, max_age=300)


@blp.get("/docs/assets/<path:name>")
def docs_asset(name: str):
    """Swagger UI's files come from the swagger-ui-bundle package, so /docs works offline."""
    if name.endswith(".map"):
        abort(404)
    return send_from_directory(SWAGGER_DIR, name, max_age=86400)


@blp.get("/problems/<slug>")
def problem_type(slug: str):
    """What a problem `type` URI in an error answer stands for."""
    for status, (known, title) in PROBLEMS.items():
        if known == slug:
            return jsonify({"type": f"/problems/{slug}", "title": title, "status": status})
    abort(404)
