"""The bureau desk's pages at /desk/: files from roadworks/static/desk, Leaflet from its package, its own CSP."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, request, send_from_directory

from .headers import page_policy
from .http import json_response, services
from .site import base_map, leaflet_file, service_now, tile_source

DESK_DIR = Path(__file__).resolve().parents[1] / "static" / "desk"

blp = Blueprint("desk", __name__)


@blp.get("/desk")
def desk_root():
    return send_from_directory(DESK_DIR, "index.html", max_age=0)


@blp.get("/desk/")
@blp.get("/desk/<path:name>")
def desk_page(name: str = "index.html"):
    if name in ("session", "config.json"):
        abort(404)
    return send_from_directory(DESK_DIR, name, max_age=60)


@blp.get("/desk/vendor/leaflet/<path:name>")
def desk_leaflet(name: str):
    """The same Leaflet as the residents' map, from the xstatic-leaflet package."""
    return leaflet_file(name)


@blp.get("/desk/config.json")
def desk_config():
    """The map settings the desk shares with the residents' map, and the service's now (the CSP forbids inline script).

    max-age 0: the desk reckons "now" (drafts, the next 7 days, today's defaults) from `now`, a replay's clock and
    not the desk PC's, so no cache may hand on an old one.
    """
    settings = services().settings
    return json_response({**base_map(settings), "now": service_now(settings)}, max_age=0)


@blp.after_app_request
def desk_security_headers(response):
    """No inline script or style; images only from here and the tile server; nothing cached by others."""
    if request.path.startswith("/desk"):
        tiles = tile_source(services().settings["TILE_URL"])
        response.headers["Content-Security-Policy"] = page_policy(images=[tiles] if tiles else [])
        response.headers.setdefault("Cache-Control", "no-cache")
    return response
