"""The site around the API: / leads to the residents' map, /openapi.json and /docs work offline."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from openapi_spec_validator import validate

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


def test_map_reads_the_public_api_from_a_script_file(client):
    page = client.get("/map/").get_data(as_text=True)
    assert '<script src="list.js">' in page and "<script>" not in page
    assert "/api/v1/closures" in client.get("/map/list.js").get_data(as_text=True)


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
