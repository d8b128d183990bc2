"""A real gunicorn server for the concurrency and crash tests: started, talked to over HTTP, and killed."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Every client of these tests comes from 127.0.0.1: no rate limit may get in their way.
UNLIMITED = "1000000 per minute"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_command() -> list[str]:
    script = Path(sys.executable).parent / "gunicorn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]


def call(port: int, method: str, path: str, *, body=None, headers=None, timeout: float = 10):
    """One request on a fresh connection: (status, headers, JSON body or None)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    sent = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    if response.headers.get("Content-Encoding") == "gzip":
        payload = gzip.decompress(payload)
    return response.status, response.headers, json.loads(payload) if payload else None


def stop(process: subprocess.Popen | None) -> None:
    """SIGTERM to a server started in a process group of its own; its whole group SIGKILLed after 10 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Gunicorn:
    """`gunicorn --preload -w N wsgi:app` on a free port, in a process group of its own."""

    def __init__(self, database_url: str, log: Path, workers: int = 3):
        self.database_url, self.log, self.workers = database_url, log, workers
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self, ready_within: float = 30) -> "Gunicorn":
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROADWORKS_")}
        env.update(ROADWORKS_DATABASE_URL=self.database_url, ROADWORKS_RATE_LIMIT=UNLIMITED,
                   ROADWORKS_PARTNER_RATE_LIMIT=UNLIMITED)
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [*gunicorn_command(), "--preload", "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
                 "--timeout", "30", "--graceful-timeout", "3", "wsgi:app"],
                cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + ready_within
        while True:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if call(self.port, "GET", "/api/v1/projects", timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            assert time.monotonic() < deadline, f"gunicorn did not answer within {ready_within} s"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once: no handler, no cleanup, as in a power cut."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        stop(self.process)

    def call(self, method: str, path: str, **kwargs):
        return call(self.port, method, path, **kwargs)


class Served:
    """`roadworks serve` (waitress) on a free port of 127.0.0.1, in a process group of its own, its output in `log`.

    `command` is how to run the CLI (default: this interpreter's `-m roadworks.cli`; the packaging test passes the
    `roadworks` script of another virtualenv); `environment` replaces every ROADWORKS_* variable of ours.
    """

    def __init__(self, log: Path, *args: str, command: list[str] | None = None, cwd: Path | None = None,
                 **environment: str):
        self.log, self.args, self.environment = log, args, environment
        self.command = command or [sys.executable, "-m", "roadworks.cli"]
        self.cwd = cwd
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        # Also for the commands the tests run beside it (`roadworks tokens create` on the same database).
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("ROADWORKS_")}, **environment}

    def start(self, ready_within: float = 60) -> "Served":
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [*self.command, "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args],
                cwd=self.cwd, env=self.env, stdout=output, stderr=output, start_new_session=True)
        deadline = time.monotonic() + ready_within
        while True:
            assert self.process.poll() is None, f"roadworks serve stopped:\n{self.log.read_text()}"
            try:
                call(self.port, "GET", "/healthz", timeout=2)
                return self
            except OSError:
                assert time.monotonic() < deadline, f"roadworks serve did not answer within {ready_within} s"
                time.sleep(0.1)

    def stop(self) -> None:
        stop(self.process)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, **kwargs):
        return call(self.port, method, path, **kwargs)
