"""The site around the API: / leads to the residents' map, /openapi.json and /docs work offline."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from openapi_spec_validator import validate

from roadworks.api.headers import page_policy

CONTRACT_PATHS = ("/api/v1/closures", "/api/v1/closures/{id}", "/api/v1/projects", "/api/v1/import",
                  "/api/v1/closures/{id}/reopen", "/api/v1/closures/{id}/history")


class Assets(HTMLParser):
    """Every script src and stylesheet/link href of a page."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def assets_of(html: str) -> list[str]:
    parser = Assets()
    parser.feed(html)
    return parser.urls


def test_root_redirects_to_the_map(client):
    response = client.get("/")
    assert response.status_code in (301, 302, 303, 307, 308)
    assert urlsplit(response.headers["Location"]).path == "/map/"


def test_map_is_html(client):
    response = client.get("/map/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "<html" in response.get_data(as_text=True).lower()


def test_following_root_ends_on_the_map(client):
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200 and response.mimetype == "text/html"


def test_map_reads_the_public_api_from_script_files(client):
    page = client.get("/map/").get_data(as_text=True)
    assert '<script type="module" src="map.js">' in page and "<script>" not in page
    assert "/api/v1/closures" in client.get("/map/map.js").get_data(as_text=True)


@pytest.fixture
def map_page(client) -> str:
    return client.get("/map/").get_data(as_text=True)


def test_map_assets_are_local_and_answer(client, map_page):
    for url in assets_of(map_page):
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
        response = client.get(f"/map/{url}")
        assert response.status_code == 200 and response.headers["ETag"], url


def test_map_names_no_other_host_and_has_no_inline_style_or_script(map_page):
    assert re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}", map_page) == []
    assert " style=" not in map_page and "<style" not in map_page and " on" not in map_page.replace(" only", "")


def test_leaflet_comes_from_the_xstatic_package(client):
    import xstatic.pkg.leaflet

    base = Path(xstatic.pkg.leaflet.BASE_DIR)
    for name in ("leaflet.js", "leaflet.css", "images/layers.png"):
        response = client.get(f"/map/vendor/leaflet/{name}")
        assert response.status_code == 200, name
        assert response.data == (base / name).read_bytes(), name
    assert client.get("/map/vendor/leaflet/leaflet-src.js.map").status_code == 404
    assert client.get("/map/vendor/leaflet/../../../../setup.cfg").status_code == 404
    repository = Path(__file__).resolve().parents[2]
    assert not list((repository / "roadworks" / "static").rglob("leaflet*.js"))  # never a copy in the repository


@pytest.mark.parametrize("path", ["/map/", "/map/map.js", "/map/config.json", "/map/vendor/leaflet/leaflet.js"])
def test_map_responses_carry_a_policy_forbidding_inline_script(client, path):
    policy = client.get(path).headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert directives["img-src"] == "'self' data: https://tile.openstreetmap.org"


def test_the_map_sends_its_origin_to_the_tile_server(client):
    assert client.get("/map/").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_map_config_comes_from_the_settings(make_app):
    app = make_app(TILE_URL="https://{s}.tiles.example.org/{z}/{x}/{y}.png", TILE_ATTRIBUTION="© Example")
    response = app.test_client().get("/map/config.json")
    assert response.json["tile_url"] == "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    assert response.json["tile_attribution"] == "© Example"
    assert response.json["timezone"] == "Asia/Shanghai" and response.json["poll_seconds"] == 60
    assert response.json["home"] == [73.4, 18.1, 135.1, 53.6]
    assert "img-src 'self' data: https://*.tiles.example.org;" in response.headers["Content-Security-Policy"]
    assert app.test_client().get("/map/config.json", headers={"If-None-Match": response.headers["ETag"]}) \
        .status_code == 304


@pytest.mark.parametrize("config", ["/map/config.json", "/desk/config.json"])
def test_a_pages_config_gives_the_services_now_in_the_project_zone(client, clock, config):
    clock.advance(days=3, minutes=7, seconds=9, microseconds=5)  # a replay's instant, not the machine's
    response = client.get(config)
    now = datetime.fromisoformat(response.json["now"])
    assert response.json["now"] == "2024-05-23T12:07:09+08:00"  # the zone's offset, whole seconds
    assert now.utcoffset() == timedelta(hours=8) and now == clock.now.replace(microsecond=0)
    assert response.headers["Cache-Control"] == "public, max-age=0"  # no cache hands on an old now
    clock.advance(seconds=1)
    again = client.get(config, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 200 and again.json["now"] == "2024-05-23T12:07:10+08:00"


def test_default_tiles_are_openstreetmaps(client):
    config = client.get("/map/config.json").json
    assert config["tile_url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert "OpenStreetMap" in config["tile_attribution"]
    assert config["tile_crs"] == "wgs84"


def test_the_tile_crs_setting_reaches_the_map(make_app):
    app = make_app(TILE_URL="https://tiles.example.cn/{z}/{x}/{y}.png", TILE_CRS="gcj02")
    assert app.test_client().get("/map/config.json").json["tile_crs"] == "gcj02"


def test_a_relative_tile_url_needs_no_other_image_host(make_app):
    policy = make_app(TILE_URL="/tiles/{z}/{x}/{y}.png").test_client().get("/map/").headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in policy


# ---------------------------------------------------------------- OpenAPI

@pytest.fixture
def spec(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def test_openapi_is_a_valid_openapi_3_document(spec):
    assert spec["openapi"].startswith("3.")
    validate(spec)


@pytest.mark.parametrize("path", CONTRACT_PATHS)
def test_openapi_lists_the_contract_paths(spec, path):
    assert path in spec["paths"]


def test_openapi_lists_the_methods_of_the_contract(spec):
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/closures"])
    assert {"get", "put", "patch", "delete"} <= set(paths["/api/v1/closures/{id}"])
    assert {"get", "post"} <= set(paths["/api/v1/projects"])
    assert "post" in paths["/api/v1/import"] and "post" in paths["/api/v1/closures/{id}/reopen"]
    assert "get" in paths["/api/v1/closures/{id}/history"]


def test_openapi_documents_the_closure_filters(spec):
    names = {p["name"] for p in spec["paths"]["/api/v1/closures"]["get"].get("parameters", [])}
    assert {"bbox", "at", "status", "road", "project", "updated_since", "limit", "cursor"} <= names


# ---------------------------------------------------------------- /docs

@pytest.fixture
def docs(client) -> str:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_docs_load_script_and_css(docs):
    urls = assets_of(docs)
    assert any(u.endswith(".js") for u in urls) and any(u.endswith(".css") for u in urls)


def test_docs_assets_are_local(docs):
    for url in assets_of(docs):
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url


def test_docs_name_no_other_host(docs):
    assert re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}", docs) == []


def test_docs_assets_answer(client, docs):
    for url in assets_of(docs):
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.data) > 1000, url


def test_docs_point_at_the_local_spec(client, docs):
    assert '"/openapi.json"' in docs or "'/openapi.json'" in docs


def test_unknown_docs_asset_is_404(client):
    assert client.get("/docs/assets/nope.js").status_code == 404


def test_the_docs_and_the_map_share_one_policy_differing_only_in_what_each_page_needs(client, docs):
    (script,) = re.findall(r"<script>(.*?)</script>", docs, re.S)  # Swagger UI's start-up configuration
    docs_policy = client.get("/docs").headers["Content-Security-Policy"]
    map_policy = client.get("/map/").headers["Content-Security-Policy"]
    assert docs_policy == page_policy(scripts=[script.encode()])
    assert map_policy == page_policy(images=["https://tile.openstreetmap.org"])
    docs_rules = dict(d.strip().split(" ", 1) for d in docs_policy.split(";"))
    map_rules = dict(d.strip().split(" ", 1) for d in map_policy.split(";"))
    assert {k for k in docs_rules if docs_rules[k] != map_rules[k]} == {"script-src", "img-src"}
    assert docs_rules["default-src"] == map_rules["default-src"] == "'none'"


def test_docs_do_not_call_the_online_validator(docs):
    config = json.loads(re.search(r"var override_config = (\{.*?\});", docs, re.DOTALL).group(1))
    assert "validatorUrl" in config
    assert config["validatorUrl"] in (None, "none", "localhost", "127.0.0.1")


def test_problem_types_resolve_to_their_meaning(client):
    problem = client.get("/api/v1/closures/nope").json
    meaning = client.get(problem["type"])
    assert meaning.status_code == 200
    assert meaning.json == {"type": "/problems/not-found", "title": "Not found", "status": 404}
    assert client.get("/problems/no-such-problem").status_code == 404


def test_the_api_description_is_served_from_the_package(client):
    response = client.get("/docs/api.md")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.get_data(as_text=True)
    assert text.startswith("# The Roadworks API, version 1")
    for section in ("## Time", "## Resources", "## Feeds", "### Replaying a date", "### Partner push"):
        assert f"\n{section}" in text
    assert "../shared" not in text


def test_the_readme_points_at_the_api_description_inside_the_repository():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "../shared/CONTRACT.md" not in readme
    assert "roadworks/docs/API.md" in readme and (root / "roadworks" / "docs" / "API.md").is_file()
