"""The `roadworks` command line: tokens (hashed, listed, revoked), import (all or nothing) and export."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests import live
from roadworks import create_app
from roadworks.api.bodies import load_project
from roadworks.auth import Actor
from roadworks.cli import main, served_url
from roadworks.store.tables import tokens as tokens_table

AGENCY = "西宁市城乡建设局"
PROJECT = {"id": "dongguan-gas-2024", "name": "东关大街燃气管网提升改造项目", "agency": AGENCY,
           "timezone": "Asia/Shanghai",
           "pauses": [{"start": "2024-06-01", "end": "2024-08-31", "reason": "tourist season"}]}


def feature(id: str, start="2024-09-01", end=None, **props) -> dict:
    properties = {"project": PROJECT["id"], "road": "东关大街", "from": "乐都路", "to": "南小街",
                  "schedule": {"windows": [{"start": start, "end": end}]}, **props}
    return {"type": "Feature", "id": id, "properties": properties,
            "geometry": {"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7860, 36.6118]]}}


def collection(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite3'}"


@pytest.fixture
def run(db_url):
    """Invoke the CLI against the test database; stderr is kept apart from stdout."""
    runner = CliRunner()

    def invoke(*args: str, url: str | None = None):
        return runner.invoke(main, list(args), env={"ROADWORKS_DATABASE_URL": url or db_url},
                             catch_exceptions=False)

    return invoke


def app_on(url: str):
    app = create_app({"DATABASE_URL": url})
    app.config["TESTING"] = True
    return app


def with_project(url: str, *extra: str) -> None:
    """The project (and projects named `extra`, which shift the change sequence) in the database at `url`."""
    registry = app_on(url).extensions["roadworks"].registry
    for id in extra:
        registry.create_project(load_project(dict(PROJECT, id=id)), Actor(name="setup", role="admin"))
    registry.create_project(load_project(PROJECT), Actor(name="setup", role="admin"))


def write(tmp_path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def stored_closures(url: str) -> list[str]:
    registry = app_on(url).extensions["roadworks"].registry
    return sorted(v.closure.id for v in registry.closures(Actor(name="check", role="admin")))


# ---------------------------------------------------------------- tokens

def test_tokens_create_prints_a_token_once(run):
    result = run("tokens", "create", "--role", "editor", "--agency", AGENCY, "--name", "desk")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rw_") and len(lines[0]) > 40
    assert lines[0] not in result.stderr


def test_tokens_are_stored_only_as_their_hash(run, db_url):
    plain = run("tokens", "create", "--role", "editor", "--agency", AGENCY, "--name", "desk").stdout.strip()
    engine = app_on(db_url).extensions["roadworks"].store.engine
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tokens_table)).mappings().all()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(plain.encode()).hexdigest()
    assert all(plain not in str(value) for value in rows[0].values())
    assert plain[3:] not in repr([dict(r) for r in rows])


def test_each_token_is_different(run):
    first = run("tokens", "create", "--role", "admin", "--name", "one").stdout.strip()
    second = run("tokens", "create", "--role", "admin", "--name", "two").stdout.strip()
    assert first != second


def test_tokens_list_shows_tokens_without_secrets(run, db_url):
    plain = run("tokens", "create", "--role", "editor", "--agency", AGENCY, "--name", "desk").stdout.strip()
    result = run("tokens", "list")
    assert result.exit_code == 0
    assert "desk" in result.output and "editor" in result.output and AGENCY in result.output
    assert "active" in result.output
    assert plain not in result.output and plain[3:] not in result.output
    assert hashlib.sha256(plain.encode()).hexdigest() not in result.output


def test_token_works_for_writes_until_revoked(run, db_url):
    plain = run("tokens", "create", "--role", "editor", "--agency", AGENCY, "--name", "desk").stdout.strip()
    token_id = app_on(db_url).extensions["roadworks"].store.tokens()[0].id
    client = app_on(db_url).test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.post("/api/v1/projects", json=PROJECT, headers=headers).status_code == 201

    result = run("tokens", "revoke", str(token_id))
    assert result.exit_code == 0, result.output

    second = dict(PROJECT, id="second-project")
    response = client.post("/api/v1/projects", json=second, headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "revoked" in run("tokens", "list").output


def test_revoking_an_unknown_token_fails(run):
    result = run("tokens", "revoke", "999")
    assert result.exit_code != 0
    assert "999" in result.output


def test_revoking_twice_fails_the_second_time(run, db_url):
    run("tokens", "create", "--role", "admin", "--name", "root")
    token_id = str(app_on(db_url).extensions["roadworks"].store.tokens()[0].id)
    assert run("tokens", "revoke", token_id).exit_code == 0
    assert run("tokens", "revoke", token_id).exit_code != 0


def test_editor_without_agency_is_a_usage_error(run, db_url):
    result = run("tokens", "create", "--role", "editor", "--name", "desk")
    assert result.exit_code == 2
    assert "agency" in result.output
    assert "rw_" not in result.stdout
    assert app_on(db_url).extensions["roadworks"].store.tokens() == []


def test_unknown_role_is_a_usage_error(run):
    assert run("tokens", "create", "--role", "king", "--name", "x").exit_code == 2


def test_admin_needs_no_agency(run):
    result = run("tokens", "create", "--role", "admin", "--name", "root")
    assert result.exit_code == 0 and result.stdout.startswith("rw_")


# ---------------------------------------------------------------- import

def test_import_creates_every_feature(run, db_url, tmp_path):
    with_project(db_url)
    fc = collection(feature("imp-a"), feature("imp-b"), feature("imp-c", "2024-04-12", "2024-06-04"))
    path = write(tmp_path, "fc.geojson", fc)
    result = run("import", path)
    assert result.exit_code == 0, result.output
    assert "3" in result.stdout
    assert stored_closures(db_url) == ["imp-a", "imp-b", "imp-c"]


def test_imported_closures_are_served(run, db_url, tmp_path):
    with_project(db_url)
    run("import", write(tmp_path, "fc.geojson", collection(feature("srv-a"))))
    client = app_on(db_url).test_client()
    response = client.get("/api/v1/closures/srv-a", query_string={"at": "2024-09-02T12:00:00+08:00"})
    assert response.status_code == 200
    assert response.json["properties"]["status"] == "active"
    assert response.json["properties"]["road"] == "东关大街"


def test_invalid_file_imports_nothing_and_names_each_error(run, db_url, tmp_path):
    with_project(db_url)
    bad = collection(feature("good"), feature("backwards", "2024-09-01", "2024-08-01"),
                     feature("no-project", project="nowhere"))
    result = run("import", write(tmp_path, "bad.geojson", bad))
    assert result.exit_code != 0
    assert "features[1]" in result.stderr and "features[2]" in result.stderr
    assert "features[0]" not in result.stderr
    assert stored_closures(db_url) == []


def test_import_without_project_imports_nothing(run, db_url, tmp_path):
    result = run("import", write(tmp_path, "fc.geojson", collection(feature("nop-a"))))
    assert result.exit_code != 0
    assert "features[0]" in result.stderr


def test_not_json_imports_nothing(run, db_url, tmp_path):
    with_project(db_url)
    result = run("import", write(tmp_path, "broken.geojson", '{"type": "FeatureCollection", '))
    assert result.exit_code != 0
    assert "JSON" in result.output
    assert stored_closures(db_url) == []


def test_a_single_feature_is_not_a_collection(run, db_url, tmp_path):
    with_project(db_url)
    result = run("import", write(tmp_path, "one.geojson", feature("one-a")))
    assert result.exit_code != 0
    assert stored_closures(db_url) == []


def test_missing_file_is_a_usage_error(run, tmp_path):
    assert run("import", str(tmp_path / "absent.geojson")).exit_code == 2


# ---------------------------------------------------------------- export

def test_export_writes_a_feature_collection(run, db_url, tmp_path):
    with_project(db_url)
    fc = collection(feature("exp-a"), feature("exp-b", publish_at="2024-12-01"))
    run("import", write(tmp_path, "fc.geojson", fc))
    result = run("export")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    assert exported["type"] == "FeatureCollection"
    assert sorted(f["id"] for f in exported["features"]) == ["exp-a", "exp-b"]  # drafts included
    assert exported["features"][0]["properties"]["road"] == "东关大街"


def test_export_to_a_file(run, db_url, tmp_path):
    with_project(db_url)
    run("import", write(tmp_path, "fc.geojson", collection(feature("file-a"))))
    out = tmp_path / "out.geojson"
    assert run("export", "--output", str(out)).exit_code == 0
    assert [f["id"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]] == ["file-a"]


def test_export_round_trips_through_import(run, db_url, tmp_path):
    with_project(db_url)
    original = collection(
        feature("rt-a", "2024-04-12", "2024-06-04", actual_start="2024-04-12", actual_end="2024-05-31",
                direction="forward", impact="lanes-closed", description="说明", detour="绕行"),
        feature("rt-b", "2024-09-01T08:00:00+08:00", None, publish_at="2024-08-01", cancelled=False),
        feature("rt-c", "2024-04-01", "2024-10-31"))
    original["features"][2]["properties"]["schedule"].update(
        pauses=[{"start": "2024-05-01", "end": "2024-05-05", "reason": "holiday"}],
        hours=[{"days": ["mon", "fri"], "start": "22:00", "end": "06:00"}])
    assert run("import", write(tmp_path, "fc.geojson", original)).exit_code == 0
    first = run("export").stdout
    exported = {f["id"]: f for f in json.loads(first)["features"]}
    for written in original["features"]:
        assert exported[written["id"]]["geometry"] == written["geometry"]
        for name, value in written["properties"].items():
            assert exported[written["id"]]["properties"][name] == value, name

    other = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    with_project(other, "unrelated")
    imported = run("import", write(tmp_path, "exported.geojson", first), url=other)
    assert imported.exit_code == 0, imported.output
    assert json.loads(run("export", url=other).stdout) == json.loads(first)


def test_export_of_an_empty_database(run):
    result = run("export")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"type": "FeatureCollection", "features": []}


# ---------------------------------------------------------------- serve

def test_serve_help_lists_its_options(run):
    result = run("serve", "--help")
    assert result.exit_code == 0
    for option in ("--demo", "--host", "--port"):
        assert option in result.output


def test_help_lists_the_commands(run):
    result = run("--help")
    for command in ("serve", "tokens", "import", "export"):
        assert command in result.output


def test_serve_refuses_a_bad_public_url_naming_it(db_url):
    result = CliRunner().invoke(main, ["serve", "--port", "1"], env={
        "ROADWORKS_DATABASE_URL": db_url, "ROADWORKS_PUBLIC_URL": "https://roads.example.org"})
    assert result.exit_code == 2
    assert "ROADWORKS_PUBLIC_URL" in result.output and "must end with '/'" in result.output


@pytest.mark.parametrize("host, port, url", [
    ("127.0.0.1", 8000, "http://127.0.0.1:8000/"), ("roads.example.org", 80, "http://roads.example.org:80/"),
    ("0.0.0.0", 8080, "http://localhost:8080/"), ("::1", 8080, "http://[::1]:8080/"),
])
def test_serve_defaults_the_public_url_to_where_it_listens(host, port, url):
    assert served_url(host, port) == url


@pytest.fixture
def serving(db_url, tmp_path):
    """serve(*args, **environment) -> the port of `roadworks serve` (waitress) on 127.0.0.1, stopped afterwards;
    its output goes to tmp_path/serve-N.log (serving.logs)."""
    started = []

    def serve(*args: str, **environment) -> int:
        log = tmp_path / f"serve-{len(started)}.log"
        started.append(live.Served(log, *args, ROADWORKS_DATABASE_URL=db_url, **environment).start(30))
        return started[-1].port

    serve.logs = lambda: [server.log.read_text() for server in started]
    serve.stop_all = lambda: [server.stop() for server in started]
    yield serve
    for server in started:
        server.stop()


@pytest.mark.system
def test_serve_links_to_where_it_listens_and_names_no_software(serving):
    port = serving()
    status, headers, body = live.call(port, "GET", "/ogc/", headers={"Host": "evil.example"})
    assert status == 200
    assert {link["rel"]: link["href"] for link in body["links"]}["self"] == f"http://127.0.0.1:{port}/ogc/"
    assert headers.get_all("Server") == ["Roadworks"]
    assert "waitress" not in str(headers).lower() and "evil.example" not in str(headers)


@pytest.mark.system
def test_serve_links_to_the_public_url_when_it_is_set(serving):
    port = serving(ROADWORKS_PUBLIC_URL="https://roads.example.org/")
    status, _, body = live.call(port, "GET", "/ogc/")
    assert {link["rel"]: link["href"] for link in body["links"]}["self"] == "https://roads.example.org/ogc/"


@pytest.mark.system
def test_serve_writes_each_log_line_once_as_json(serving):
    port = serving()
    for _ in range(3):
        assert live.call(port, "GET", "/api/v1/projects")[0] == 200
    serving.stop_all()
    log = serving.logs()[0]
    # waitress's basicConfig() printed each record a second time, as "INFO:roadworks.request:request"
    request_lines = [json.loads(line) for line in log.splitlines() if "roadworks.request" in line]
    assert sum(line["path"] == "/api/v1/projects" for line in request_lines) == 3, log
    served = [json.loads(line) for line in log.splitlines() if "Serving on" in line]
    assert [line["logger"] for line in served] == ["waitress"], log


@pytest.mark.system
def test_serve_behind_a_proxy_gives_each_client_its_own_rate_budget(serving):
    port = serving(ROADWORKS_TRUSTED_PROXIES="1", ROADWORKS_RATE_LIMIT="2 per minute")

    def status(client: str) -> int:
        return live.call(port, "GET", "/api/v1/projects", headers={"X-Forwarded-For": client})[0]

    assert [status("203.0.113.7") for _ in range(3)] == [200, 200, 429]
    assert [status("203.0.113.8") for _ in range(2)] == [200, 200]  # waitress dropped the header: one budget


@pytest.mark.system
def test_serve_without_trusted_proxies_ignores_forwarded_for(serving):
    port = serving(ROADWORKS_RATE_LIMIT="2 per minute")
    statuses = [live.call(port, "GET", "/api/v1/projects", headers={"X-Forwarded-For": f"203.0.113.{n}"})[0]
                for n in range(3)]
    assert statuses == [200, 200, 429]  # a client cannot pick a new address for a new budget


@pytest.mark.system
def test_serve_at_replays_the_founding_case_and_says_so(serving):
    port = serving("--demo", "--at", "2024-05-20T12:00+08:00")
    status, headers, body = live.call(port, "GET", "/api/v1/closures?status=all")
    assert status == 200
    assert headers["Roadworks-Clock"] == "replay 2024-05-20T12:00:00+08:00"
    statuses = {f["id"]: f["properties"]["status"] for f in body["features"]}
    assert statuses["dongguan-ledu-gonghe"] == "active"
    assert live.call(port, "GET", "/no-such-page")[1]["Roadworks-Clock"] == "replay 2024-05-20T12:00:00+08:00"


@pytest.mark.system
def test_serve_at_from_the_environment(serving):
    port = serving("--demo", ROADWORKS_AT="2024-07-15T12:00:00Z")
    status, headers, body = live.call(port, "GET", "/api/v1/closures/dongguan-ledu-gonghe")
    assert headers["Roadworks-Clock"] == "replay 2024-07-15T12:00:00+00:00"
    assert body["properties"]["status"] == "completed"


@pytest.mark.parametrize("value, reason", [("2024-05-20T12:00", "needs an offset"),
                                           ("20 May 2024", "not an ISO 8601 date-time"),
                                           ("2024-02-30T12:00+08:00", "not an ISO 8601 date-time")])
def test_serve_refuses_a_bad_at_saying_why(db_url, value, reason):
    result = CliRunner().invoke(main, ["serve", "--port", "1", "--at", value],
                                env={"ROADWORKS_DATABASE_URL": db_url})
    assert result.exit_code == 2
    assert "--at" in result.output and reason in result.output


def test_serve_refuses_a_bad_roadworks_at_naming_it(db_url):
    result = CliRunner().invoke(main, ["serve", "--port", "1"],
                                env={"ROADWORKS_DATABASE_URL": db_url, "ROADWORKS_AT": "yesterday"})
    assert result.exit_code == 2
    assert "ROADWORKS_AT" in result.output


def test_commands_refuse_a_bad_setting_naming_it(db_url):
    result = CliRunner().invoke(main, ["tokens", "list"],
                                env={"ROADWORKS_DATABASE_URL": db_url, "ROADWORKS_AT": "2024-05-20T12:00"})
    assert result.exit_code == 2 and "ROADWORKS_AT" in result.output and "needs an offset" in result.output
