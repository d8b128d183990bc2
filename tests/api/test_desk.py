"""The desk's pages at /desk/: served from the package, Leaflet from its package, a CSP without inline code."""

from __future__ import annotations

import re
from pathlib import Path

from roadworks.api.desk import DESK_DIR


def test_the_desk_page_forbids_inline_script_and_style(client):
    answer = client.get("/desk/")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    page = answer.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # every script is a file
    assert "<style" not in page and " style=" not in page


def test_no_module_writes_markup_from_strings(client):
    for path in Path(DESK_DIR).glob("*.js"):
        text = path.read_text()
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, path.name
        assert "http://" not in text and "https://" not in text, path.name  # no CDN


def test_leaflet_comes_from_its_package_and_only_its_files(client):
    assert client.get("/desk/vendor/leaflet/leaflet.js").status_code == 200
    assert client.get("/desk/vendor/leaflet/leaflet.css").status_code == 200
    assert client.get("/desk/vendor/leaflet/../../../setup.cfg").status_code == 404


def test_the_config_shares_the_maps_tile_setting(client, services):
    body = client.get("/desk/config.json").get_json()
    assert body["tile_url"] == services.settings["TILE_URL"]
    assert body["timezone"] == "Asia/Shanghai"


def test_every_module_the_page_loads_is_served(client):
    page = client.get("/desk/").get_data(as_text=True)
    for name in re.findall(r'(?:src|href)="/desk/([^"]+)"', page):
        assert client.get(f"/desk/{name}").status_code == 200, name
    for path in Path(DESK_DIR).glob("*.js"):
        for imported in re.findall(r'from "\./([^"]+)"', path.read_text()):
            assert (Path(DESK_DIR) / imported).exists(), f"{path.name} imports {imported}"
        for shared in re.findall(r'from "(/[^"]+)"', path.read_text()):  # the map's modules, by their path
            assert client.get(shared).status_code == 200, f"{path.name} imports {shared}"
