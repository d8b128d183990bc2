"""Partner push fixtures: a real webhook receiver (an HTTP server thread), a partner token, a running worker."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from roadworks.auth import create_token


# A test with a receiver or a worker starts an HTTP server or delivery threads: a system test, by the marker's
# meaning (pyproject.toml), whichever module it is in.
SERVING = {"receiver", "tls_receiver", "start_worker"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SERVING & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.system)


class Receiver:
    """A partner's endpoint on loopback: keeps each request; answers `status` (a list is used up in turn).

    With `tls` (a server context) it answers https, at `url` under the name `host` (resolve it with `resolver`).
    """

    def __init__(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"):
        self.received: list[dict] = []
        self.statuses: list[int] = []
        self.status = 200
        self.hang = threading.Event()  # while set, requests wait (a hanging receiver) until released
        self.release = threading.Event()
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.hang.is_set():
                    receiver.release.wait(30)
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                with receiver.arrived:
                    receiver.received.append({"headers": dict(self.headers), "body": body, "status": status,
                                              "at": time.time()})
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[dict]:
        """The bodies answered with a 2xx, parsed, in arrival order."""
        return [json.loads(r["body"]) for r in self.received if 200 <= r["status"] < 300]

    def wait_for(self, count: int, timeout: float = 10.0, ok_only: bool = True) -> list[dict]:
        deadline = time.time() + timeout
        with self.arrived:
            while True:
                got = [r for r in self.received if not ok_only or 200 <= r["status"] < 300]
                if len(got) >= count or time.time() > deadline:
                    return got
                self.arrived.wait(max(0.01, deadline - time.time()))

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def resolver(monkeypatch):
    """resolver[name] = addresses, or a function of the lookup's number (from 1) -> addresses: a DNS of our own.

    Other names, and the address literals a connection looks up, go to the real resolver.
    """
    real = socket.getaddrinfo
    names: dict = {}
    lookups: dict[str, int] = {}

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in names:
            return real(host, port, family, type, proto, flags)
        lookups[name] = lookups.get(name, 0) + 1
        answer = names[name](lookups[name]) if callable(names[name]) else names[name]
        return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port or 0, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port or 0)) for a in answer]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def tls_receiver(resolver, monkeypatch, tmp_path):
    """tls_receiver(name, certified=name) -> an https Receiver at `name`, resolved to loopback, whose certificate
    names `certified`; its authority is the only one the worker trusts (OpenSSL reads SSL_CERT_FILE at each
    connection)."""
    import trustme

    authority = trustme.CA()
    trusted = tmp_path / "authority.pem"
    authority.cert_pem.write_to_path(str(trusted))
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted))
    made = []

    def make(name: str, certified: str | None = None) -> Receiver:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(certified or name).configure_cert(context)
        made.append(Receiver(tls=context, host=name))
        resolver[name] = ["127.0.0.1"]
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def push_app(make_app):
    return make_app(WEBHOOK_ALLOW_PRIVATE=1)


@pytest.fixture
def push_client(push_app):
    return push_app.test_client()


@pytest.fixture
def push_services(push_app):
    return push_app.extensions["roadworks"]


@pytest.fixture
def partner_token(push_services) -> str:
    plain, _ = create_token(push_services.store, role="partner", name="Taxi app", agency=None,
                            now=push_services.clock())
    return plain


@pytest.fixture
def start_worker(push_services):
    """start_worker(**options) -> a running delivery worker on the push app; stopped after the test."""
    from roadworks.push.worker import for_services

    running = []

    def start(**options):
        options.setdefault("poll", 0.05)
        running.append(for_services(push_services, **options).start())
        return running[-1]

    yield start
    for worker in running:
        worker.stop()


@pytest.fixture
def subscribe(push_client, partner_token):
    """subscribe(url, **fields) -> the 201 body (with its secret)."""

    def make(url: str, **fields):
        response = push_client.post("/api/v1/subscriptions", json={"url": url, **fields},
                                    headers={"Authorization": f"Bearer {partner_token}"})
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json

    return make
