"""Two real gunicorn workers on one database: every answer, from either worker, shows the latest write.

Each worker keeps its own read model and listing cache; this proves they follow the database's change
sequence, so a write served by one worker is seen at once by the other, and that the rate-limit budget
is shared through Redis. The access log names the worker (process id) that served each request.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import live
from tests.conftest import rate_remaining

from roadworks import create_app
from roadworks.auth import create_token

pytestmark = [pytest.mark.system,
              pytest.mark.skipif(importlib.util.find_spec("gunicorn") is None, reason="gunicorn is not installed")]

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("ROADWORKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AGENCY = "西宁市城乡建设局"
READ_LIMIT = 2000
PER_PHASE = 40
LOG_LINE = re.compile(r"^<(\d+)> (\S+) (\d{3})$")


def gunicorn_command() -> list[str]:
    script = Path(sys.executable).parent / "gunicorn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A gunicorn master with two workers, talked to over fresh connections (so both workers answer)."""

    def __init__(self, port: int, access_log: Path, token: str):
        self.port, self.access_log, self.token = port, access_log, token

    def call(self, method: str, path: str, *, body=None, headers=None, phase: str = "-"):
        sent = {"X-Phase": phase, "Connection": "close", **(headers or {})}
        return live.call(self.port, method, path, body=body, headers=sent)

    def workers(self, phase: str) -> set[str]:
        """Process ids of the workers that served requests of `phase`."""
        pids = set()
        for line in self.access_log.read_text().splitlines():
            match = LOG_LINE.match(line)
            if match and match.group(2) == phase:
                pids.add(match.group(1))
        return pids


@pytest.fixture
def server(tmp_path, redis_prefix):
    prefix, connection = redis_prefix
    url = f"sqlite:///{tmp_path / 'roadworks.sqlite3'}"
    # Migrated and given a token before the workers start, as `roadworks tokens create` would do.
    setup = create_app({"DATABASE_URL": url})
    services = setup.extensions["roadworks"]
    token, _ = create_token(services.store, role="editor", name="Bureau desk", agency=AGENCY, now=services.clock())
    services.store.engine.dispose()

    port, access_log = free_port(), tmp_path / "access.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADWORKS_")}
    env.update(ROADWORKS_DATABASE_URL=url, ROADWORKS_REDIS_URL=REDIS_URL, ROADWORKS_RATE_LIMIT_PREFIX=prefix,
               ROADWORKS_RATE_LIMIT=f"{READ_LIMIT} per minute")
    with open(tmp_path / "gunicorn.out", "wb") as output:
        process = subprocess.Popen(
            [*gunicorn_command(), "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "20",
             "--graceful-timeout", "3", "--access-logfile", str(access_log),
             "--access-logformat", "%(p)s %({x-phase}i)s %(s)s", "wsgi:app"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(port, access_log, token)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, (tmp_path / "gunicorn.out").read_text()
            try:
                if server.call("GET", "/api/v1/projects", phase="boot")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer within 15 s"
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()  # SIGTERM: the master stops its workers gracefully
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def read_everywhere(server: Server, phase: str, request, check) -> int:
    """Send `request()` (4 at a time, so both workers get some) until both workers have answered at least
    PER_PHASE in all; `check(answer)` must hold for every single answer. Returns how many were sent."""
    sent, deadline = 0, time.monotonic() + 8
    with ThreadPoolExecutor(4) as pool:
        while sent < PER_PHASE or len(server.workers(phase)) < 2:
            assert time.monotonic() < deadline, f"{phase}: workers seen {server.workers(phase)} after {sent}"
            for answer in pool.map(lambda n: request(n), range(8)):
                check(answer)
            sent += 8
    assert len(server.workers(phase)) == 2
    return sent


def test_two_workers_always_serve_the_latest_write(server):
    write = {"Authorization": f"Bearer {server.token}"}
    project = {"id": "dongguan-gas-2030", "name": "东关大街燃气管网提升改造项目", "agency": AGENCY}
    status, _, body = server.call("POST", "/api/v1/projects", body=project, headers=write, phase="write")
    assert status == 201, body
    feature = {"type": "Feature", "id": "dongguan-ledu",
               "geometry": {"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]},
               "properties": {"project": "dongguan-gas-2030", "road": "东关大街", "from": "乐都路", "to": "共和路",
                              "schedule": {"windows": [{"start": "2030-04-12", "end": "2030-06-04"}]}}}
    status, headers, body = server.call("POST", "/api/v1/closures", body=feature, headers=write, phase="write")
    assert status == 201, body
    created_etag = headers["ETag"]
    reads = 0

    def get(phase, path, n, **headers):
        encoding = {"Accept-Encoding": "gzip"} if n % 2 else {}
        return server.call("GET", path, headers={**encoding, **headers}, phase=phase)

    # Created: both the list and the closure itself, from either worker
    def listed(answer):
        status, _, body = answer
        assert status == 200 and [f["id"] for f in body["features"]] == ["dongguan-ledu"]
        assert body["features"][0]["properties"]["version"] == 1
    reads += read_everywhere(server, "created", lambda n: get("created", "/api/v1/closures", n), listed)

    status, headers, body = server.call("PATCH", "/api/v1/closures/dongguan-ledu", phase="write",
                                        body={"properties": {"detour": "经南小街绕行"}},
                                        headers={**write, "If-Match": created_etag})
    assert status == 200, body
    patched_etag = headers["ETag"]

    # Patched: never the old version, whether asked for the list, the closure, or revalidating the old ETag
    def patched(answer):
        status, _, body = answer
        assert status == 200, status
        closure = body["features"][0] if body["type"] == "FeatureCollection" else body
        assert closure["properties"]["version"] == 2 and closure["properties"]["detour"] == "经南小街绕行"
    reads += read_everywhere(server, "patched", lambda n: get(
        "patched", "/api/v1/closures" if n % 4 < 2 else "/api/v1/closures/dongguan-ledu", n,
        **{"If-None-Match": created_etag}), patched)

    status, _, _ = server.call("DELETE", "/api/v1/closures/dongguan-ledu", phase="write",
                               headers={**write, "If-Match": patched_etag})
    assert status == 204

    # Deleted: gone from the list and from its own address, everywhere
    def gone(answer):
        status, _, body = answer
        if body.get("type") == "FeatureCollection":
            assert status == 200 and body["features"] == []
        else:
            assert status == 404 and body["status"] == 404
    reads += read_everywhere(server, "deleted", lambda n: get(
        "deleted", "/api/v1/closures" if n % 2 else "/api/v1/closures/dongguan-ledu", n), gone)

    # One budget for the address across both workers: every anonymous read so far was counted once.
    boot_reads = sum(1 for line in server.access_log.read_text().splitlines() if " boot " in line)
    status, headers, _ = server.call("GET", "/api/v1/projects", phase="budget")
    assert status == 200
    assert rate_remaining(headers) == READ_LIMIT - boot_reads - reads - 1
