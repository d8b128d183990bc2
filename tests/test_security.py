"""Tokens end to end: looked up by digest, refused on any difference, revoked everywhere at once, never logged."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tests import live
from roadworks import create_app, observability
from roadworks.auth import hash_token, resolve
from roadworks.domain.errors import ValidationFailed

CLOSURES = "/api/v1/closures"
GONGHE = "dongguan-ledu-gonghe"


@pytest.fixture
def log_text(app):
    """Everything the `roadworks` loggers and werkzeug write during the test, as one string."""
    stream = io.StringIO()
    handler = observability.json_handler(stream)
    loggers = [logging.getLogger("roadworks"), logging.getLogger("werkzeug")]
    for logger in loggers:
        logger.addHandler(handler)
    yield stream.getvalue
    for logger in loggers:
        logger.removeHandler(handler)


def token_id(services, plain: str) -> int:
    return services.store.token_by_hash(hash_token(plain)).id


def test_the_database_is_asked_for_the_digest_never_the_token(services, editor_token, monkeypatch):
    asked = []
    real = services.store.token_by_hash
    monkeypatch.setattr(services.store, "token_by_hash", lambda digest: asked.append(digest) or real(digest))
    assert resolve(services.store, f"Bearer {editor_token}").name == "Construction bureau desk"
    assert asked == [hash_token(editor_token)] and editor_token not in asked[0]


@pytest.mark.parametrize("change", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # last character
    lambda t: t.upper(),
    lambda t: t[:-1],
    lambda t: t + "x",
    lambda t: hash_token(t),  # the stored digest itself is no token
])
def test_a_token_that_differs_in_any_way_is_refused(client, editor_token, auth, change, demo):
    assert client.get(CLOSURES, headers=auth(editor_token)).status_code == 200
    response = client.get(CLOSURES, headers=auth(change(editor_token)))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoking_through_one_app_locks_the_token_out_of_another_at_once(app, make_app, demo, auth, editor_token):
    """Two app instances (as two workers) on one database: no worker may keep honouring a revoked token."""
    worker = app.test_client()
    admin_side = make_app()
    closure = worker.get(f"{CLOSURES}/{GONGHE}")
    for _ in range(3):  # warm whatever a worker might keep between requests
        assert worker.get(f"{CLOSURES}/{GONGHE}", headers=auth(editor_token)).status_code == 200
    other = admin_side.extensions["roadworks"]
    assert other.store.revoke_token(token_id(other, editor_token), other.clock())
    read = worker.get(f"{CLOSURES}/{GONGHE}", headers=auth(editor_token))
    write = worker.patch(f"{CLOSURES}/{GONGHE}", json={"properties": {"detour": "x"}},
                         headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert (read.status_code, write.status_code) == (401, 401)
    assert "revoked" in write.json["detail"]
    assert worker.get(f"{CLOSURES}/{GONGHE}").headers["ETag"] == closure.headers["ETag"]  # nothing written


def test_no_token_or_digest_ever_reaches_the_logs(client, auth, editor_token, services, project, closure_body,
                                                  monkeypatch, log_text):
    created = client.post(CLOSURES, json=closure_body(), headers={**auth(editor_token), "Idempotency-Key": "s1"})
    assert created.status_code == 201
    client.post(CLOSURES, json=closure_body(), headers={**auth(editor_token), "Idempotency-Key": "s1"})  # replay
    client.get(CLOSURES, headers=auth(editor_token))
    client.get(CLOSURES, headers=auth("rw_not-a-real-token"))
    client.get(CLOSURES, headers={"Authorization": f"Basic {editor_token}"})
    client.get("/healthz", headers=auth(editor_token))
    monkeypatch.setattr(services.registry, "create_closure", lambda *a, **k: 1 / 0)
    assert client.post(CLOSURES, json=closure_body(), headers=auth(editor_token)).status_code == 500
    monkeypatch.undo()
    services.store.revoke_token(token_id(services, editor_token), services.clock())
    client.get(CLOSURES, headers=auth(editor_token))
    text = log_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert sum(line["logger"] == "roadworks.request" for line in lines) == 8
    assert "Construction bureau desk" in text  # the token's name is logged, as the actor
    for secret in (editor_token, "rw_not-a-real-token"):
        assert secret not in text
        assert secret.removeprefix("rw_") not in text
        assert hash_token(secret) not in text
    assert "Authorization" not in text and "Bearer" not in text


# ---------------------------------------------------------------------------- the Host header and the Server header

EVIL = "evil.example"
PUBLIC = "https://roads.example.org/xining/"
JURISDICTION = "roadworks.invalid"
ROUTE = {"route": {"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]},
         "from": "2024-05-20T00:00:00+08:00", "to": "2024-05-21T00:00:00+08:00"}
# Every read that builds an absolute URL, and the routing's own slash redirects.
READS_WITH_URLS = ["/feeds/closures.ics", f"{CLOSURES}?limit=1", "/api/v1/changes?limit=1", "/ogc", "/ogc/",
                   "/ogc/collections", "/ogc/collections/closures", "/ogc/collections/closures/items?limit=1",
                   f"/ogc/collections/closures/items/{GONGHE}", "/open511", "/open511/", "/open511/jurisdictions",
                   f"/open511/jurisdictions/{JURISDICTION}", f"/open511/jurisdictions/{JURISDICTION}/geography",
                   "/open511/events?limit=1&format=json", f"/open511/events/{JURISDICTION}/{GONGHE}", "/map", "/"]


def _everything(response) -> str:
    return "\n".join([response.get_data(as_text=True), *(f"{k}: {v}" for k, v in response.headers.items())])


def test_the_host_header_is_never_reflected(client, demo, subtests):
    for path in READS_WITH_URLS:
        with subtests.test(path=path):
            response = client.get(path, headers={"Host": EVIL})
            assert response.status_code in (200, 302, 308)
            assert EVIL not in _everything(response)
    checked = client.post("/api/v1/route-check", json=ROUTE, headers={"Host": EVIL})
    assert checked.status_code == 200 and checked.json["closures"] and EVIL not in _everything(checked)


def test_absolute_urls_start_with_the_public_url(make_app, demo):
    client = make_app(PUBLIC_URL=PUBLIC).test_client()
    host = {"Host": EVIL}
    calendar = client.get("/feeds/closures.ics", headers=host).get_data(as_text=True)
    assert f"URL:{PUBLIC}map/" in calendar.replace("\r\n ", "")
    changes = client.get("/api/v1/changes?limit=1", headers=host)
    assert changes.headers["Link"].startswith(f"<{PUBLIC}api/v1/changes?")
    items = client.get("/ogc/collections/closures/items?limit=1", headers=host).json
    assert {link["rel"]: link["href"] for link in items["links"]}["next"].startswith(
        f"{PUBLIC}ogc/collections/closures/items?")
    assert client.get("/ogc", headers=host).headers["Location"] == f"{PUBLIC}ogc/"
    events = client.get("/open511/events?format=json", headers=host).json
    assert events["meta"]["url"] == f"{PUBLIC}open511/events?format=json"
    checked = client.post("/api/v1/route-check", json=ROUTE, headers=host).json
    assert checked["closures"][0]["feature_url"] == f"{PUBLIC}api/v1/closures/{checked['closures'][0]['id']}"


@pytest.mark.parametrize("url, phrase", [
    ("roads.example.org/", "http:// or https://"), ("ftp://roads.example.org/", "http:// or https://"),
    ("https://roads.example.org", "end with '/'"), ("https://roads.example.org/x?y=1", "no query"),
    ("https:///", "http:// or https://"),
])
def test_a_bad_public_url_stops_the_app_with_the_variable_named(app, database_url, url, phrase):
    with pytest.raises(ValidationFailed) as failure:
        create_app({"DATABASE_URL": database_url, "MIGRATE": False, "PUBLIC_URL": url})
    assert phrase in " ".join(failure.value.errors["ROADWORKS_PUBLIC_URL"])


@pytest.mark.system
def test_gunicorn_names_the_service_not_itself(app, database_url, tmp_path):
    app.extensions["roadworks"].store.engine.dispose()
    server = live.Gunicorn(database_url, tmp_path / "gunicorn.log", workers=1).start()
    try:
        for path in ("/api/v1/projects", "/nowhere", "/ogc/"):
            status, headers, _ = server.call("GET", path, headers={"Host": EVIL})
            assert headers.get_all("Server") == ["Roadworks"], (path, status)
            assert EVIL not in str(headers)
    finally:
        server.stop()
