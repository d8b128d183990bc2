"""The database fails under a running service: 503 problems with Retry-After at once, never a hang or a 500;
lists and feeds keep serving the last snapshot; and the service recovers by itself when the database is back.

PostgreSQL: a private cluster (initdb into a temporary directory, its own port), stopped with
`pg_ctl stop -m immediate` and started again; the machine's main cluster is never touched.
SQLite: another connection holds the write lock past the busy timeout.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from roadworks import create_app
from roadworks.auth import create_token

PG_BIN = Path(os.environ.get("ROADWORKS_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
AGENCY = "西宁市城乡建设局"
QUICK = 2.0  # seconds: an outage must be answered well inside this, not after a long connect or lock wait


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """A throwaway PostgreSQL cluster, run as the `postgres` OS user when we are root (initdb refuses root)."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.data = root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, str(PG_BIN / program), *args], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                   "-c fsync=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-o", options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture(scope="module")
def cluster():
    if not (PG_BIN / "initdb").exists():
        reason = f"PostgreSQL server binaries not found in {PG_BIN} (Debian: postgresql-15)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="roadworks-outage-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    cluster = Cluster(root)
    cluster.create()
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped by a failed test
        shutil.rmtree(root, ignore_errors=True)


def setup(url: str, clock):
    """An app on `url` with an editor token, a project and one closure; returns (client, token, etag)."""
    app = create_app({"DATABASE_URL": url, "CLOCK": clock})
    app.config["TESTING"] = True
    services = app.extensions["roadworks"]
    token, _ = create_token(services.store, role="editor", name="Bureau desk", agency=AGENCY, now=clock())
    client = app.test_client()
    write = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/projects", headers=write,
                       json={"id": "dongguan-gas-2024", "name": "东关大街燃气管网提升改造项目", "agency": AGENCY}
                       ).status_code == 201
    created = client.post("/api/v1/closures", headers=write, json={
        "type": "Feature", "id": "dongguan-ledu",
        "geometry": {"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]},
        "properties": {"project": "dongguan-gas-2024", "road": "东关大街", "from": "乐都路", "to": "共和路",
                       "schedule": {"windows": [{"start": "2024-04-12", "end": "2024-06-04"}]}}})
    assert created.status_code == 201, created.json
    return app, client, write, created.headers["ETag"]


def patch(client, write, etag, detour):
    return client.patch("/api/v1/closures/dongguan-ledu", headers={**write, "If-Match": etag},
                        json={"properties": {"detour": detour}})


def assert_unavailable(response) -> None:
    assert response.status_code == 503, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 503 and response.json["type"] == "/problems/unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Cache-Control"] == "no-store"


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.system
def test_postgresql_stopped_and_restarted(cluster, clock):
    app, client, write, etag = setup(cluster.url, clock)
    try:
        listed = client.get("/api/v1/closures")
        assert listed.status_code == 200
        assert client.get("/feeds/waze.json").status_code == 200

        cluster.stop()

        # Writes, and reads that need the database itself, fail at once with a problem to retry.
        for call in (lambda: patch(client, write, etag, "经南小街绕行"),
                     lambda: client.post("/api/v1/projects", headers=write, json={"id": "x", "name": "x"}),
                     lambda: client.get("/api/v1/closures/dongguan-ledu/history"),
                     lambda: client.get("/api/v1/changes")):
            response, seconds = timed(call)
            assert_unavailable(response)
            assert seconds < QUICK
        # Lists and feeds come from the last snapshot: nothing can have been written since it was taken.
        again, seconds = timed(lambda: client.get("/api/v1/closures"))
        assert again.status_code == 200 and seconds < QUICK
        assert again.headers["ETag"] == listed.headers["ETag"] and again.data == listed.data
        assert client.get("/api/v1/closures", headers={"If-None-Match": listed.headers["ETag"]}).status_code == 304
        assert client.get("/feeds/waze.json").status_code == 200

        cluster.start()

        # The very first write after the restart goes through: the pool replaced its broken connections.
        recovered = patch(client, write, etag, "经南小街绕行")
        assert recovered.status_code == 200, recovered.json
        assert recovered.json["properties"]["version"] == 2
        fresh = client.get("/api/v1/closures", headers={"If-None-Match": listed.headers["ETag"]})
        assert fresh.status_code == 200
        assert fresh.json["features"][0]["properties"]["detour"] == "经南小街绕行"
        history = client.get("/api/v1/closures/dongguan-ledu/history").json["history"]
        assert [h["version"] for h in history] == [1, 2]
    finally:
        app.extensions["roadworks"].store.engine.dispose()


def test_sqlite_write_lock_held_past_the_busy_timeout(tmp_path, clock):
    path = tmp_path / "roadworks.sqlite3"
    app, client, write, etag = setup(f"sqlite:///{path}?timeout=0.3", clock)
    listed = client.get("/api/v1/closures")
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # another process stuck inside a write transaction
        response, seconds = timed(lambda: patch(client, write, etag, "经南小街绕行"))
        assert_unavailable(response)
        assert seconds < QUICK
        # In WAL mode readers never wait for the writer.
        again = client.get("/api/v1/closures/dongguan-ledu")
        assert again.status_code == 200 and again.json["properties"]["version"] == 1
        assert client.get("/api/v1/closures").data == listed.data
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    recovered = patch(client, write, etag, "经南小街绕行")
    assert recovered.status_code == 200, recovered.json
    assert recovered.json["properties"]["version"] == 2
    app.extensions["roadworks"].store.engine.dispose()
