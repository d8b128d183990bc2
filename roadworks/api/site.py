"""The residents' map at /map/ (with / leading there) and the offline assets behind /docs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import swagger_ui_bundle
import xstatic.pkg.leaflet
from flask import Blueprint, abort, jsonify, redirect, request, send_from_directory

from ..domain.schedule import zone
from .headers import page_policy
from .http import json_response, now, services
from .problems import PROBLEMS

MAP_DIR = Path(__file__).resolve().parents[1] / "static" / "map"
LEAFLET_DIR = Path(xstatic.pkg.leaflet.BASE_DIR)
LEAFLET_FILES = ("leaflet.js", "leaflet.css")
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"
POLL_SECONDS = 60

blp = Blueprint("site", __name__)


@blp.get("/")
def home():
    return redirect("/map/", code=302)


@blp.get("/map/")
@blp.get("/map/<path:name>")
def map_page(name: str = "index.html"):
    return send_from_directory(MAP_DIR, name, max_age=300)


@blp.get("/map/vendor/leaflet/<path:name>")
def leaflet_asset(name: str):
    """Leaflet comes from the xstatic-leaflet package, never from a CDN or a copy in the repository."""
    return leaflet_file(name)


def leaflet_file(name: str):
    """One of Leaflet's files from the xstatic-leaflet package (the map's and the desk's), else 404."""
    if name not in LEAFLET_FILES and not name.startswith("images/"):
        abort(404)
    return send_from_directory(LEAFLET_DIR, name, max_age=86400)


@blp.get("/map/config.json")
def map_config():
    """What the page needs from the settings, and the service's now; a file, as the page's CSP forbids inline script.

    max-age 0: the page reckons "now" from `now` (a replay's clock, not the phone's), so no cache may hand on an
    old one.
    """
    settings = services().settings
    return json_response({**base_map(settings), "poll_seconds": POLL_SECONDS, "now": service_now(settings)},
                         max_age=0)


def service_now(settings) -> str:
    """The service's clock (a replay's when replaying) in the project's zone, to the second, for a page's config."""
    return now().astimezone(zone(settings["TIMEZONE"])).isoformat(timespec="seconds")


def base_map(settings) -> dict:
    """The base-map settings every page with a map reads: tiles, their CRS, the zone and the home area."""
    home = [float(v) for v in settings["SERVICE_AREA"].split(",")] if settings["SERVICE_AREA"] else None
    return {"tile_url": settings["TILE_URL"], "tile_attribution": settings["TILE_ATTRIBUTION"],
            "tile_crs": settings["TILE_CRS"], "timezone": settings["TIMEZONE"], "home": home}


@blp.after_app_request
def map_security_headers(response):
    """No inline script or style on the map; images only from here and the tile server.

    The headers every answer carries (nosniff, a page's Referrer-Policy) come from roadworks/api/headers.py.
    """
    if request.path.startswith("/map/"):
        tiles = tile_source(services().settings["TILE_URL"])
        response.headers["Content-Security-Policy"] = page_policy(images=[tiles] if tiles else [])
    return response


def tile_source(tile_url: str) -> str | None:
    """The CSP source of a tile URL template; a {s} subdomain becomes a wildcard."""
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return None  # relative: served from here, covered by 'self'
    host = parts.netloc.replace("{s}", "*")
    return f"{parts.scheme}://{host}"


@blp.get("/docs/assets/<path:name>")
def docs_asset(name: str):
    """Swagger UI's files come from the swagger-ui-bundle package, so /docs works offline."""
    if name.endswith(".map"):
        abort(404)
    return send_from_directory(SWAGGER_DIR, name, max_age=86400)


@blp.get("/docs/api.md")
def api_description():
    """The API described in prose, shipped inside the package, so a clone or an installed wheel has it."""
    response = send_from_directory(DOCS_DIR, "API.md", mimetype="text/markdown", max_age=300)
    response.headers["Content-Type"] = "text/markdown; charset=utf-8"
    return response


@blp.get("/problems/<slug>")
def problem_type(slug: str):
    """What a problem `type` URI in an error answer stands for."""
    for status, (known, title) in PROBLEMS.items():
        if known == slug:
            return jsonify({"type": f"/problems/{slug}", "title": title, "status": status})
    abort(404)
