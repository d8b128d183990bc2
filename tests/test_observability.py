"""Security headers, read-only CORS, request ids and JSON request/audit logs (observability.py) on every answer."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re

import pytest

from roadworks import create_app, observability
from roadworks.domain.errors import ValidationFailed
from tests.conftest import TEST_PUBLIC_URL

CLOSURES = "/api/v1/closures"
GONGHE = "dongguan-ledu-gonghe"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def logs(app):
    """The JSON lines the `roadworks` loggers write during the test, parsed."""
    stream = io.StringIO()
    handler = observability.json_handler(stream)
    logger = logging.getLogger("roadworks")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def of(lines: list[dict], logger: str) -> list[dict]:
    return [line for line in lines if line["logger"] == logger]


def assert_secured(response) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"]
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])


# ---------------------------------------------------------------------------- security headers

def test_every_kind_of_answer_carries_the_security_headers(client, demo, auth, editor_token):
    first = client.get(CLOSURES)
    answers = {
        "app 200": first,
        "replay 200": client.get(CLOSURES),
        "replay 304": client.get(CLOSURES, headers={"If-None-Match": first.headers["ETag"]}),
        "app 304": client.get(f"{CLOSURES}/{GONGHE}", headers={"If-None-Match": client.get(
            f"{CLOSURES}/{GONGHE}").headers["ETag"]}),
        "404": client.get(f"{CLOSURES}/nothing-here"),
        "405": client.delete(CLOSURES),
        "401": client.post(CLOSURES, json={}),
        "422": client.post(CLOSURES, json={"type": "Feature"}, headers=auth(editor_token)),
        "feed": client.get("/feeds/closures.ics"),
        "spec": client.get("/openapi.json"),
        "health": client.get("/healthz"),
        "metrics": client.get("/metrics"),
        "docs": client.get("/docs"),
        "map": client.get("/map/"),
    }
    revalidated = {name: answers.pop(name) for name in ("replay 304", "app 304")}
    assert [r.status_code for r in revalidated.values()] == [304, 304]
    for name, response in answers.items():
        assert_secured(response), name
    for name, response in revalidated.items():
        assert_revalidation(response), name


def assert_revalidation(response) -> None:
    """A 304 repeats the validators, caching fields and CORS (RFC 9110, 15.4.5), not the body's policies: the
    client keeps those of its stored 200."""
    headers = response.headers
    assert headers["ETag"] and "max-age=" in headers["Cache-Control"] and "Accept-Encoding" in headers["Vary"]
    assert headers["Access-Control-Allow-Origin"] == "*" and headers["Access-Control-Expose-Headers"] == "*"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])
    assert re.fullmatch(r'"[a-z-]+";r=\d+;t=\d+', headers["RateLimit"])  # what is left; the policy came with the 200
    assert not {"RateLimit-Policy", "Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} \
        & set(headers.keys())


def test_api_answers_get_the_strict_policy_and_no_referrer(client, demo):
    for response in (client.get(CLOSURES), client.get(f"{CLOSURES}/nothing-here"), client.get("/openapi.json")):
        assert response.headers["Content-Security-Policy"] == API_POLICY
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_docs_page_may_run_exactly_its_own_inline_script(client):
    response = client.get("/docs", headers={"Accept-Encoding": "gzip"})
    body = client.get("/docs").get_data()
    inline = re.findall(rb"<script>(.*?)</script>", body, re.S)
    assert len(inline) == 1  # Swagger UI's start-up configuration
    digest = base64.b64encode(hashlib.sha256(inline[0]).digest()).decode()
    policy = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert "'unsafe-eval'" not in policy


def test_a_policy_set_by_the_route_itself_is_kept(empty_database_url, clock):
    # An app of its own, made here: a route is added to it.
    app = create_app({"DATABASE_URL": empty_database_url, "MIGRATE": False, "CLOCK": clock, "PUBLIC_URL": TEST_PUBLIC_URL})
    app.add_url_rule("/own-policy", "own_policy",
                     lambda: ("<p>x</p>", 200, {"Content-Security-Policy": "default-src 'self'",
                                                "Content-Type": "text/html"}))
    response = app.test_client().get("/own-policy")
    app.extensions["roadworks"].store.engine.dispose()
    assert response.headers.getlist("Content-Security-Policy") == ["default-src 'self'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_map_page_forbids_inline_script(client):
    policy = client.get("/map/").headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1)
    assert "'unsafe-inline'" not in script_src and "sha256-" not in script_src


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    secure = client.get("/healthz", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


# ---------------------------------------------------------------------------- CORS

def test_reads_are_open_to_any_origin_and_expose_every_header(client, demo):
    first = client.get(CLOSURES, headers={"Origin": "https://taxi.example"})
    for response in (first, client.get(CLOSURES, headers={"Origin": "https://taxi.example"}),  # replayed
                     client.get(CLOSURES, headers={"If-None-Match": first.headers["ETag"]}),  # replayed 304
                     client.head(f"{CLOSURES}/{GONGHE}"), client.get(f"{CLOSURES}/nothing-here")):
        # "*" exposes every header to a request without credentials, which is every request "*" allows at all.
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Access-Control-Expose-Headers"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_a_preflight_for_a_read_is_allowed(client):
    response = client.options(CLOSURES, headers={"Origin": "https://taxi.example",
                                                 "Access-Control-Request-Method": "GET",
                                                 "Access-Control-Request-Headers": "if-none-match"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]
    assert_secured(response)


@pytest.mark.parametrize("method", WRITES)
def test_a_preflight_for_a_write_is_refused_without_any_allowance(client, method):
    response = client.options(f"{CLOSURES}/{GONGHE}", headers={"Origin": "https://evil.example",
                                                              "Access-Control-Request-Method": method})
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    assert not [h for h in response.headers if h[0].lower().startswith("access-control-allow")]


def test_writes_never_carry_a_cors_allowance(client, auth, editor_token, project, closure_body):
    origin = {"Origin": "https://evil.example"}
    created = client.post(CLOSURES, json=closure_body(), headers={**auth(editor_token), **origin})
    refused = client.post(CLOSURES, json=closure_body(), headers=origin)
    assert (created.status_code, refused.status_code) == (201, 401)
    for response in (created, refused):
        assert "Access-Control-Allow-Origin" not in response.headers
        assert_secured(response)


def test_a_route_check_is_a_read_that_browsers_may_post_from_anywhere(client, demo):
    preflight = client.options("/api/v1/route-check", headers={"Origin": "https://taxi.example",
                                                               "Access-Control-Request-Method": "POST",
                                                               "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204 and "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    route = {"type": "LineString", "coordinates": [[101.785, 36.6115], [101.81, 36.6115]]}
    checked = client.post("/api/v1/route-check", json={"route": route}, headers={"Origin": "https://taxi.example"})
    assert checked.status_code == 200 and checked.headers["Access-Control-Allow-Origin"] == "*"
    refused = client.options(CLOSURES, headers={"Origin": "https://taxi.example", "Access-Control-Request-Method": "POST"})
    assert refused.status_code == 403  # creating a closure is still a write


def test_a_preflight_is_logged_under_the_route_it_asks_about_and_not_as_a_replay(client, logs):
    client.options(f"{CLOSURES}/{GONGHE}", headers={"Origin": "https://taxi.example",
                                                   "Access-Control-Request-Method": "GET"})
    (line,) = of(logs(), "roadworks.request")
    assert (line["method"], line["route"], line["status"], line["replayed"]) == \
        ("OPTIONS", "/api/v1/closures/<id>", 204, False)


def test_a_plain_options_request_still_reaches_the_app(client):
    response = client.options(CLOSURES)
    assert response.status_code == 200 and "POST" in response.headers["Allow"]
    assert "Access-Control-Allow-Origin" not in response.headers


# ---------------------------------------------------------------------------- request ids and logs

def test_a_well_formed_request_id_is_echoed_and_logged(client, logs):
    response = client.get("/healthz", headers={"X-Request-Id": "lb-7f3c:42"})
    assert response.headers["X-Request-Id"] == "lb-7f3c:42"
    assert of(logs(), "roadworks.request")[-1]["request_id"] == "lb-7f3c:42"


def test_a_request_line_skips_logging_only_where_our_handler_alone_listens_and_reads_the_same(
        demo, client, monkeypatch):
    stream = io.StringIO()
    ours = observability.json_handler(stream)
    ours.roadworks_json = True
    monkeypatch.setattr(logging.getLogger("roadworks"), "handlers", [ours])
    monkeypatch.setattr(logging.root, "handlers", [])  # pytest's own capture, put back afterwards
    made = []
    real = observability.log.makeRecord
    monkeypatch.setattr(observability.log, "makeRecord", lambda *a, **k: made.append(a) or real(*a, **k))
    client.get(CLOSURES, headers={"X-Request-Id": "straight-1", "User-Agent": "poller/1"})
    assert made == [], "written straight: no LogRecord"
    monkeypatch.setattr(logging.root, "handlers", [logging.NullHandler()])  # someone else listens too
    client.get(CLOSURES, headers={"X-Request-Id": "through-2", "User-Agent": "poller/1"})
    assert len(made) == 1, "through logging, for the other listener"
    straight, through = of([json.loads(line) for line in stream.getvalue().splitlines()], "roadworks.request")[-2:]
    assert (straight["request_id"], through["request_id"]) == ("straight-1", "through-2")
    volatile = {"request_id", "timestamp", "duration_ms", "replayed"}
    assert list(straight) == list(through)
    assert {k: v for k, v in straight.items() if k not in volatile} == \
        {k: v for k, v in through.items() if k not in volatile}
    assert straight["timestamp"].endswith("+00:00") and straight["user_agent"] == "poller/1"


@pytest.mark.parametrize("incoming", ["has space", "x" * 129, "<script>", "é", ""])
def test_a_malformed_request_id_is_replaced_by_a_fresh_one(client, incoming):
    response = client.get("/healthz", headers={"X-Request-Id": incoming})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])


def test_each_request_gets_its_own_id(client):
    assert len({client.get("/healthz").headers["X-Request-Id"] for _ in range(5)}) == 5


def test_one_json_request_line_per_request_with_what_operators_need(client, demo, logs, auth, editor_token):
    client.get(f"{CLOSURES}/{GONGHE}", headers={**auth(editor_token), "User-Agent": "probe/1"},
               environ_base={"REMOTE_ADDR": "203.0.113.9"})
    client.get(CLOSURES)
    replayed = client.get(CLOSURES)
    lines = of(logs(), "roadworks.request")
    assert len(lines) == 3
    first = lines[0]
    assert first["method"] == "GET" and first["path"] == f"{CLOSURES}/{GONGHE}"
    assert first["route"] == "/api/v1/closures/<id>" and first["status"] == 200
    assert first["actor"] == "Construction bureau desk" and isinstance(first["token_id"], int)
    assert first["remote_addr"] == "203.0.113.9" and first["user_agent"] == "probe/1"
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert first["level"] == "INFO" and first["timestamp"].endswith("+00:00")
    assert [line["replayed"] for line in lines] == [False, False, True]
    assert lines[2]["actor"] == "anonymous" and lines[2]["request_id"] == replayed.headers["X-Request-Id"]


def test_a_log_line_written_during_a_request_carries_its_id(client, logs, monkeypatch, services):
    monkeypatch.setattr(services.registry, "create_closure", lambda *a: 1 / 0)
    response = client.post(CLOSURES, json={}, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    lines = logs()
    assert {line["request_id"] for line in lines} == {response.headers["X-Request-Id"]}
    assert of(lines, "roadworks.request")[0]["actor"] == "unverified"


def test_an_unexpected_error_is_logged_as_error_with_the_request_id(client, logs, monkeypatch, auth, editor_token,
                                                                      services, closure_body, project):
    def broken(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services.registry, "create_closure", broken)
    response = client.post(CLOSURES, json=closure_body(), headers=auth(editor_token))
    assert response.status_code == 500
    lines = [line for line in logs() if line["request_id"] == response.headers["X-Request-Id"]]
    assert {line["level"] for line in lines} == {"ERROR"}
    assert any("disk on fire" in line.get("exc_info", "") for line in lines)
    assert_secured(response)


# ---------------------------------------------------------------------------- audit

def test_each_accepted_write_is_audited_with_who_what_and_version(client, auth, editor_token, project,
                                                                   closure_body, logs):
    created = client.post(CLOSURES, json=closure_body(), headers={**auth(editor_token), "Idempotency-Key": "k1"})
    id = created.json["id"]
    patched = client.patch(f"{CLOSURES}/{id}", json={"properties": {"detour": "经南小街绕行"}},
                           headers=auth(editor_token, If_Match=created.headers["ETag"]))
    replayed = client.post(CLOSURES, json=closure_body(), headers={**auth(editor_token), "Idempotency-Key": "k1"})
    assert (created.status_code, patched.status_code, replayed.status_code) == (201, 200, 201)
    audit = of(logs(), "roadworks.audit")
    assert [(a["method"], a["ids"], a["version"], a["replayed"]) for a in audit] == [
        ("POST", [id], 1, False), ("PATCH", [id], 2, False), ("POST", [id], 1, True)]
    assert {a["actor"] for a in audit} == {"Construction bureau desk"}
    assert audit[1]["route"] == "/api/v1/closures/<id>"
    assert audit[1]["request_id"] == patched.headers["X-Request-Id"]


def test_an_import_is_audited_with_every_id_and_version(client, auth, editor_token, project, closure_body, logs):
    body = {"type": "FeatureCollection", "features": [closure_body("import-a"), closure_body("import-b")]}
    assert client.post("/api/v1/import", json=body, headers=auth(editor_token)).status_code == 200
    (audit,) = of(logs(), "roadworks.audit")
    assert audit["ids"] == [["import-a", 1], ["import-b", 1]]


def test_refused_writes_and_reads_are_not_audited(client, demo, auth, editor_token, closure_body, logs):
    client.post(CLOSURES, json=closure_body())  # 401
    client.post(CLOSURES, json={"type": "Feature"}, headers=auth(editor_token))  # 422
    client.patch(f"{CLOSURES}/{GONGHE}", json={}, headers=auth(editor_token, If_Match='"999.0"'))  # 412
    client.get(CLOSURES)
    client.post("/api/v1/route-check", json={})  # a read, even though it is a POST
    assert of(logs(), "roadworks.audit") == []


def test_an_unknown_log_level_is_refused_by_name():
    with pytest.raises(ValidationFailed) as refused:
        create_app({"LOG_LEVEL": "LOUD", "DATABASE_URL": "sqlite://"})
    assert "ROADWORKS_LOG_LEVEL" in refused.value.errors


def test_at_level_warning_request_lines_stop_but_audit_lines_stay(make_app, auth, editor_token, project_body, logs):
    quiet = make_app(LOG_LEVEL="WARNING").test_client()
    try:
        assert quiet.post("/api/v1/projects", json=project_body, headers=auth(editor_token)).status_code == 201
        quiet.get("/healthz")
        lines = logs()
    finally:
        logging.getLogger("roadworks").setLevel(logging.INFO)
    assert [line["logger"] for line in lines] == ["roadworks.audit"]
    assert lines[0]["ids"] == [project_body["id"]]
