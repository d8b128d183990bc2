"""kill -9 of the delivery worker and of the server (with its in-process worker) mid-delivery: no event is lost.

`roadworks serve` (which delivers in process) and a `roadworks worker` run on the test pass's database (SQLite,
then PostgreSQL); a slow receiver keeps deliveries in flight while closures are written. The worker, then the
server, get SIGKILL; after restarts every acknowledged write's event reaches the receiver (at least once).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roadworks.auth import create_token
from tests.live import ROOT, UNLIMITED, call, free_port

pytestmark = pytest.mark.system

AGENCY = "西宁市城乡建设局"


class Process:
    """`python -m roadworks.cli ARGS` in a process group of its own, on the test database."""

    def __init__(self, database_url: str, log: Path, *args: str):
        self.database_url, self.log, self.args = database_url, log, args
        self.process: subprocess.Popen | None = None

    def start(self) -> "Process":
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROADWORKS_")}
        env.update(ROADWORKS_DATABASE_URL=self.database_url, ROADWORKS_WEBHOOK_ALLOW_PRIVATE="1",
                   ROADWORKS_RATE_LIMIT=UNLIMITED, ROADWORKS_PARTNER_RATE_LIMIT=UNLIMITED, ROADWORKS_LOG_LEVEL="WARNING")
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen([sys.executable, "-m", "roadworks.cli", *self.args], cwd=ROOT, env=env,
                                            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def serve(database_url: str, log: Path, port: int) -> Process:
    server = Process(database_url, log, "serve", "--port", str(port)).start()
    deadline = time.monotonic() + 30
    while True:
        assert server.process.poll() is None, log.read_text()
        try:
            if call(port, "GET", "/api/v1/projects", timeout=2)[0] == 200:
                return server
        except OSError:
            pass
        assert time.monotonic() < deadline, "the server did not answer within 30 s"
        time.sleep(0.05)


def test_kill_9_of_worker_and_server_mid_delivery_loses_no_event(app, database_url, tmp_path, project_body):
    from tests.push.conftest import Receiver

    services = app.extensions["roadworks"]
    editor, _ = create_token(services.store, role="editor", name="desk", agency=AGENCY, now=services.clock())
    partner, _ = create_token(services.store, role="partner", name="taxi", agency=None, now=services.clock())
    services.store.engine.dispose()
    receiver = Receiver()
    slow = receiver.server.RequestHandlerClass.do_POST

    def do_post(handler):  # 20 ms a request: deliveries are in flight when the kills come
        time.sleep(0.02)
        slow(handler)
    receiver.server.RequestHandlerClass.do_POST = do_post
    port, log = free_port(), tmp_path / "push.log"
    server = serve(database_url, log, port)
    worker = Process(database_url, log, "worker").start()
    processes = [server, worker]
    write = {"Authorization": f"Bearer {editor}"}
    try:
        assert call(port, "POST", "/api/v1/projects", body=project_body, headers=write)[0] == 201
        made = call(port, "POST", "/api/v1/subscriptions", body={"url": receiver.url, "events": ["closure.created"]},
                    headers={"Authorization": f"Bearer {partner}"})
        assert made[0] == 201, made
        acked = []

        def create(n: int) -> None:
            body = {"type": "Feature", "geometry": {"type": "LineString",
                                                    "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]},
                    "properties": {"project": "dongguan-gas-2024", "road": f"road {n}", "from": "a", "to": "b",
                                   "schedule": {"windows": [{"start": "2024-04-12", "end": "2024-06-04"}]}}}
            status, _, answer = call(port, "POST", "/api/v1/closures", body=body, headers=write)
            assert status == 201, answer
            acked.append(answer["id"])

        for n in range(40):
            create(n)
        worker.kill()  # mid-delivery: its leases lapse, and the server's worker or the next takes over
        for n in range(40, 80):
            create(n)
        server.kill()  # with its in-process worker, mid-delivery
        server = serve(database_url, log, port)
        processes.append(server)
        processes.append(Process(database_url, log, "worker").start())
        for n in range(80, 100):
            create(n)
        deadline = time.monotonic() + 120  # a lapsed lease (60 s) is the longest wait
        while time.monotonic() < deadline:
            got = {json.loads(r["body"])["data"]["id"] for r in receiver.received if r["status"] < 300}
            if got >= set(acked):
                break
            time.sleep(0.2)
        assert set(acked) - got == set(), log.read_text()[-3000:]
        assert len(acked) == 100
    finally:
        for process in processes:
            process.kill()
        receiver.close()
