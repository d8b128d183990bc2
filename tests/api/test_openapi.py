"""The OpenAPI document lets /docs authorise and try a write: bearer scheme, conditional and idempotency headers,
response headers, 401/412/428, a described field everywhere and an example for every operation that works today."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from urllib.parse import urlencode

import socket

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from roadworks import create_app
from roadworks.auth import create_token

SPEC = create_app({"DATABASE_URL": "sqlite://"}).test_client().get("/openapi.json").json
METHODS = ("get", "put", "post", "patch", "delete")
OPERATIONS = [(method, path) for path, item in SPEC["paths"].items() for method in METHODS if method in item]
WRITES = [(m, p) for m, p in OPERATIONS if m != "get" and p not in ("/api/v1/route-check", "/api/v1/schedule/preview")
          and (m, p) != ("post", "/api/v1/reports")]  # residents file reports without a token
# Partner push is for partner (and admin) tokens only, its reads included.
TOKENED = WRITES + [(m, p) for m, p in OPERATIONS if m == "get" and p.startswith("/api/v1/subscriptions")]


def resolve(node):
    """`node` with every local $ref replaced by what it points at."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = SPEC
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target)
        return {key: resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value) for value in node]
    return node


def operation(method: str, path: str) -> dict:
    return resolve(SPEC["paths"][path][method])


def parameters(method: str, path: str) -> list[dict]:
    return resolve(SPEC["paths"][path].get("parameters", [])) + operation(method, path).get("parameters", [])


def header_names(method: str, path: str) -> dict[str, bool]:
    return {p["name"]: p.get("required", False) for p in parameters(method, path) if p["in"] == "header"}


def test_the_document_is_valid_openapi():
    validate(copy.deepcopy(SPEC))


def test_writes_need_the_bearer_token_and_reads_take_it_if_given():
    assert SPEC["components"]["securitySchemes"]["bearer"] == {**SPEC["components"]["securitySchemes"]["bearer"],
                                                             "type": "http", "scheme": "bearer"}
    for method, path in OPERATIONS:
        expected = [{"bearer": []}] if (method, path) in TOKENED else [{}, {"bearer": []}]
        assert operation(method, path)["security"] == expected, (method, path)


@pytest.mark.parametrize("method, path", [(m, p) for m, p in WRITES if m in ("put", "patch", "delete")])
def test_replacing_changing_and_deleting_declare_if_match_and_its_answers(method, path):
    assert header_names(method, path)["If-Match"] is True
    responses = operation(method, path)["responses"]
    for status in ("401", "403", "412", "428", "422"):
        assert responses[status]["content"]["application/problem+json"], status
    assert "WWW-Authenticate" in responses["401"]["headers"]


def test_every_get_declares_if_none_match_and_its_validators():
    for method, path in OPERATIONS:
        if method == "get":
            assert header_names(method, path) == {**header_names(method, path), "If-None-Match": False}
            headers = operation(method, path)["responses"]["200"]["headers"]
            assert {"ETag", "Last-Modified", "Cache-Control", "RateLimit"} <= set(headers), path
            assert "304" in operation(method, path)["responses"]
    assert "Link" in operation("get", "/api/v1/closures")["responses"]["200"]["headers"]


def test_posts_that_create_declare_idempotency_key_and_answer_location_and_etag():
    for path in ("/api/v1/projects", "/api/v1/closures", "/api/v1/import", "/api/v1/closures/{id}/reopen"):
        assert header_names("post", path)["Idempotency-Key"] is False
    for path in ("/api/v1/projects", "/api/v1/closures"):
        assert {"Location", "ETag"} <= set(operation("post", path)["responses"]["201"]["headers"])
    assert header_names("post", "/api/v1/closures/{id}/reopen")["If-Match"] is False
    assert "412" in operation("post", "/api/v1/closures/{id}/reopen")["responses"]


def test_every_field_of_every_schema_is_described():
    undescribed = [f"{name}.{field}" for name, schema in SPEC["components"]["schemas"].items()
                   for field, spec in schema.get("properties", {}).items() if not spec.get("description")]
    assert undescribed == []


@pytest.mark.parametrize("method, path", OPERATIONS)
def test_every_operation_has_examples_that_fit_their_schemas(method, path):
    body = operation(method, path).get("requestBody")
    if body:
        for media, content in body["content"].items():
            assert "example" in content, f"{method} {path} {media} has no example"
            OAS30Validator(content["schema"]).validate(content["example"])
    query = [p for p in parameters(method, path) if p["in"] == "query"]
    for parameter in parameters(method, path):
        if parameter["in"] == "path":
            assert "example" in parameter, f"{method} {path}: {parameter['name']} has no example"
        if "example" in parameter:
            OAS30Validator(parameter["schema"]).validate(parameter["example"])
    if query and not body:
        assert any("example" in p or "example" in p["schema"] for p in query), f"{method} {path}"


def example_request(method: str, path: str) -> tuple[str, dict | None]:
    url = path
    query = {}
    for parameter in parameters(method, path):
        example = parameter.get("example", parameter.get("schema", {}).get("example"))
        if example is None:
            continue
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", str(example))
        elif parameter["in"] == "query":
            query[parameter["name"]] = example
    body = operation(method, path).get("requestBody", {}).get("content", {})
    example_body = next(iter(body.values()))["example"] if body else None
    return url + ("?" + urlencode(query) if query else ""), example_body


@pytest.fixture
def partner_token(services) -> str:
    plain, _ = create_token(services.store, role="partner", name="Taxi app", agency=None, now=services.clock())
    return plain


@pytest.fixture
def partner_host_resolves(monkeypatch):
    """The example's partner host resolves to a public address (offline here), as a partner's would."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "partner.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("93.184.216.34", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("method, path", OPERATIONS)
def test_every_example_works_against_the_demo_today(method, path, demo, clock, client, auth, editor_token,
                                                     partner_token, partner_host_resolves):
    clock.now = datetime.now(timezone.utc)
    url, body = example_request(method, path)
    headers = auth(editor_token) if (method, path) in WRITES else {}
    if path.startswith("/api/v1/subscriptions"):  # a partner's, on a subscription made now
        headers = auth(partner_token)
        if "{id}" in path:
            made = client.post("/api/v1/subscriptions", headers=auth(partner_token),
                               json=operation("post", "/api/v1/subscriptions")["requestBody"]["content"]
                               ["application/json"]["example"])
            assert made.status_code == 201, made.get_data(as_text=True)
            url = url.replace("s0123456789abcdef", made.json["id"])
    if path.startswith("/api/v1/reports") and method != "post":  # the bureau's queue, on a report filed now
        filed = client.post("/api/v1/reports", json=operation("post", "/api/v1/reports")["requestBody"]["content"]
                            ["application/json"]["example"]).json
        url, headers = url.replace("r0123456789abcdef", filed["id"]), auth(editor_token)
    if method in ("put", "patch", "delete"):
        if path == "/api/v1/projects/{id}" and method == "delete":  # only a project without closures goes
            for closure in ("dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"):
                tag = client.get(f"/api/v1/closures/{closure}").headers["ETag"]
                assert client.delete(f"/api/v1/closures/{closure}", headers=auth(editor_token, If_Match=tag)) \
                    .status_code == 204
        reader = headers if path.startswith(("/api/v1/reports", "/api/v1/subscriptions")) else {}  # a report is read with the bureau's token
        headers["If-Match"] = client.get(url.split("?")[0], headers=reader).headers["ETag"]  # an ETag comes from a GET
    response = client.open(url, method=method.upper(), json=body, headers=headers)
    assert 200 <= response.status_code < 300, (url, response.status_code, response.get_data(as_text=True)[:500])
    if (method, path) in (("post", "/api/v1/closures"), ("put", "/api/v1/closures/{id}"), ("post", "/api/v1/import")):
        features = response.json.get("features", [response.json])
        assert all(f["properties"]["status"] != "completed" for f in features)  # not over before it is posted
