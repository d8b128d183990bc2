"""Rate limits per client address and per token, shared through Redis; compressed answers and their ETags."""

from __future__ import annotations

import gzip
import json
import logging
import os
import socket
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import brotli
import pytest

from roadworks import create_app
from roadworks.auth import create_token
from roadworks.domain.errors import ValidationFailed
from tests.conftest import rate_quota, rate_remaining

try:  # Python 3.14 has compression.zstd; older ones get the backport flask-compress depends on
    from compression import zstd
except ImportError:
    from backports import zstd

CLOSURES = "/api/v1/closures"
PROJECTS = "/api/v1/projects"
REDIS_URL = os.environ.get("ROADWORKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def partner_token(services) -> str:
    plain, _ = create_token(services.store, role="partner", name="Taxi dispatch", agency=None, now=services.clock())
    return plain




def budget(response) -> int:
    return rate_remaining(response.headers)


def assert_too_many(response, *, limit: int) -> None:
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == 429 and body["type"] == "/problems/too-many-requests" and body["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert rate_quota(response.headers) == limit
    assert rate_remaining(response.headers) == 0
    assert response.headers["RateLimit"].endswith(f";t={response.headers['Retry-After']}")
    assert response.headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------------------- rate limits

def test_anonymous_limit_gives_problem_json_429_with_retry_after(make_app):
    client = make_app(RATE_LIMIT="3 per minute").test_client()
    answers = [client.get(PROJECTS) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [budget(a) for a in answers] == [2, 1, 0]
    assert answers[0].headers["RateLimit-Policy"] == '"anonymous";q=3;w=60'
    assert "Retry-After" not in answers[0].headers  # only a refusal says when to come back
    assert_too_many(client.get(PROJECTS), limit=3)


def test_each_request_counts_once_whatever_the_endpoint_or_outcome(make_app):
    client = make_app(RATE_LIMIT="10 per minute").test_client()
    answers = [client.get(PROJECTS), client.get(CLOSURES), client.get(f"{CLOSURES}/missing"),
               client.get("/api/v1/nowhere"), client.delete(PROJECTS), client.get(f"{CLOSURES}?bbox=x"),
               client.post(PROJECTS, json={})]
    assert [a.status_code for a in answers] == [200, 200, 404, 404, 405, 400, 401]
    assert [budget(a) for a in answers] == [9, 8, 7, 6, 5, 4, 3]


def test_partner_token_has_its_own_larger_budget(make_app, partner_token, auth):
    client = make_app(RATE_LIMIT="2 per minute", PARTNER_RATE_LIMIT="5 per minute").test_client()
    assert [client.get(PROJECTS).status_code for _ in range(3)] == [200, 200, 429]
    answers = [client.get(PROJECTS, headers=auth(partner_token)) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [budget(a) for a in answers] == [4, 3, 2, 1, 0]
    assert answers[0].headers["RateLimit-Policy"] == '"token";q=5;w=60'
    refused = client.get(PROJECTS, headers=auth(partner_token))
    assert_too_many(refused, limit=5)
    assert "token" in refused.json["detail"]


def test_editor_and_admin_tokens_count_per_token(make_app, editor_token, admin_token, auth):
    client = make_app(RATE_LIMIT="1 per minute", PARTNER_RATE_LIMIT="2 per minute").test_client()
    for token in (editor_token, admin_token):
        assert [client.get(PROJECTS, headers=auth(token)).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get(PROJECTS).status_code == 200  # the address's own budget is untouched


def test_a_bad_token_is_counted_against_the_address(make_app, auth):
    client = make_app(RATE_LIMIT="2 per minute").test_client()
    answers = [client.get(CLOSURES, headers=auth("rw_guess")) for _ in range(2)]
    assert [a.status_code for a in answers] == [401, 401]
    assert_too_many(client.get(CLOSURES, headers=auth("rw_guess")), limit=2)
    assert client.get(PROJECTS).status_code == 429  # same address, same budget


def test_every_address_has_its_own_budget(make_app):
    client = make_app(RATE_LIMIT="2 per minute").test_client()

    def get(address):
        return client.get(PROJECTS, environ_base={"REMOTE_ADDR": address}).status_code

    assert [get("198.51.100.7") for _ in range(3)] == [200, 200, 429]
    assert [get("203.0.113.9") for _ in range(3)] == [200, 200, 429]
    # IPv6: one budget per /64, what one subscriber usually gets
    assert [get("2001:db8:1:2::1"), get("2001:db8:1:2:ffff::9")] == [200, 200]
    assert [get("2001:db8:1:2::77"), get("2001:db8:1:3::1")] == [429, 200]


def test_forwarded_for_counts_only_behind_trusted_proxies(make_app):
    def statuses(client, forwarded):
        return [client.get(PROJECTS, headers={"X-Forwarded-For": f}).status_code for f in forwarded]

    direct = make_app(RATE_LIMIT="1 per minute").test_client()
    assert statuses(direct, ["198.51.100.1", "198.51.100.2"]) == [200, 429]  # cannot pick an address
    proxied = make_app(RATE_LIMIT="1 per minute", TRUSTED_PROXIES=1).test_client()
    assert statuses(proxied, ["198.51.100.1", "198.51.100.2", "198.51.100.1"]) == [200, 200, 429]


def test_static_assets_are_not_counted(make_app):
    client = make_app(RATE_LIMIT="1 per minute").test_client()
    assert client.get(PROJECTS).status_code == 200
    assert client.get(PROJECTS).status_code == 429
    for path in ("/", "/map/", "/docs/assets/swagger-ui.css"):
        response = client.get(path)
        assert response.status_code in (200, 302), path
        assert "RateLimit" not in response.headers


def test_an_empty_limit_switches_it_off(make_app):
    client = make_app(RATE_LIMIT="").test_client()
    assert all(client.get(PROJECTS).status_code == 200 for _ in range(20))


def test_a_bad_limit_stops_the_app_with_the_variable_named(app, database_url):
    with pytest.raises(ValidationFailed) as failure:
        create_app({"DATABASE_URL": database_url, "MIGRATE": False, "PARTNER_RATE_LIMIT": "lots"})
    assert "ROADWORKS_PARTNER_RATE_LIMIT" in failure.value.errors


def test_workers_share_budgets_through_redis(make_app, redis_prefix, partner_token, auth):
    prefix, connection = redis_prefix
    settings = {"REDIS_URL": REDIS_URL, "RATE_LIMIT_PREFIX": prefix,
                "RATE_LIMIT": "4 per minute", "PARTNER_RATE_LIMIT": "6 per minute"}
    first, second = make_app(**settings).test_client(), make_app(**settings).test_client()
    answers = [client.get(PROJECTS) for client in (first, second, first, second)]
    assert [a.status_code for a in answers] == [200] * 4
    assert [budget(a) for a in answers] == [3, 2, 1, 0]
    assert_too_many(first.get(PROJECTS), limit=4)
    assert_too_many(second.get(PROJECTS), limit=4)
    answers = [client.get(PROJECTS, headers=auth(partner_token)) for client in (second, first) * 3]
    assert [budget(a) for a in answers] == [5, 4, 3, 2, 1, 0]
    assert_too_many(first.get(PROJECTS, headers=auth(partner_token)), limit=6)
    assert list(connection.scan_iter(match=f"{prefix}:*"))  # counted in Redis, not in each process


def test_an_unreachable_redis_does_not_take_the_api_down(make_app):
    client = make_app(REDIS_URL="redis://127.0.0.1:1/0", RATE_LIMIT="2 per minute").test_client()
    assert [client.get(PROJECTS).status_code for _ in range(3)] == [200, 200, 429]  # counted in memory


# ---------------------------------------------------------------------------- compression

@pytest.fixture
def listed(client, auth, editor_token, project, closure_body):
    """Two closures, so that the list is worth compressing."""
    for id in ("c1", "c2"):
        assert client.post(CLOSURES, json=closure_body(id), headers=auth(editor_token)).status_code == 201
    plain = client.get(CLOSURES)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert len(plain.data) > 500
    return plain


def test_gzip_answer_decompresses_to_the_same_json(client, listed):
    response = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"] and "Authorization" in response.headers["Vary"]
    assert int(response.headers["Content-Length"]) == len(response.data) < len(listed.data)
    assert gzip.decompress(response.data) == listed.data
    assert json.loads(gzip.decompress(response.data)) == listed.json


def test_compressed_answer_has_a_weak_etag_of_its_own(client, listed):
    strong = listed.headers["ETag"]
    assert not strong.startswith("W/")
    compressed = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["ETag"] == f"W/{strong}"


def test_conditional_get_with_the_compressed_etag_gives_304(client, listed):
    weak = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    again = client.get(CLOSURES, headers={"Accept-Encoding": "gzip", "If-None-Match": weak})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == weak  # the validator the client holds
    assert "Accept-Encoding" in again.headers["Vary"]
    identity = client.get(CLOSURES, headers={"If-None-Match": listed.headers["ETag"]})
    assert identity.status_code == 304 and identity.headers["ETag"] == listed.headers["ETag"]


def test_a_changed_list_is_not_304_for_the_old_compressed_etag(client, listed, auth, editor_token, closure_body):
    weak = client.get(CLOSURES, headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    assert client.post(CLOSURES, json=closure_body("c3"), headers=auth(editor_token)).status_code == 201
    fresh = client.get(CLOSURES, headers={"Accept-Encoding": "gzip", "If-None-Match": weak})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != weak
    assert len(json.loads(gzip.decompress(fresh.data))["features"]) == 3


def test_if_match_accepts_the_etag_of_a_compressed_answer(client, listed, auth, editor_token):
    read = client.get(f"{CLOSURES}/c1", headers={"Accept-Encoding": "gzip"})
    assert read.headers["Content-Encoding"] == "gzip" and read.headers["ETag"].startswith("W/")
    changed = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "经南小街绕行"}},
                           headers=auth(editor_token, If_Match=read.headers["ETag"], Accept_Encoding="gzip"))
    assert changed.status_code == 200
    assert json.loads(gzip.decompress(changed.data))["properties"]["detour"] == "经南小街绕行"
    stale = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "x"}},
                         headers=auth(editor_token, If_Match=read.headers["ETag"]))
    assert stale.status_code == 412


@pytest.mark.parametrize("offer, encoding, decode", [
    ("br", "br", brotli.decompress),
    ("zstd", "zstd", zstd.decompress),
    ("gzip;q=1.0, br;q=0.5", "gzip", gzip.decompress),
])
def test_the_clients_preferred_encoding_is_used(client, listed, offer, encoding, decode):
    response = client.get(CLOSURES, headers={"Accept-Encoding": offer})
    assert response.headers["Content-Encoding"] == encoding
    assert decode(response.data) == listed.data


def test_no_compression_unasked_or_for_small_answers(client, listed):
    for offer in (None, "identity", "compress"):
        response = client.get(CLOSURES, headers={"Accept-Encoding": offer} if offer else {})
        assert "Content-Encoding" not in response.headers and response.data == listed.data
        assert response.headers["ETag"] == listed.headers["ETag"]
    small = client.get("/api/v1/nowhere", headers={"Accept-Encoding": "gzip"})
    assert small.status_code == 404 and "Content-Encoding" not in small.headers
    assert "Accept-Encoding" in small.headers["Vary"]


def test_static_files_are_compressed_and_revalidated(client):
    path = "/docs/assets/swagger-ui-bundle.js"
    plain = client.get(path)
    response = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data) == plain.data
    assert response.headers["ETag"] == f"W/{plain.headers['ETag']}"
    assert "Accept-Ranges" not in response.headers
    again = client.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == response.headers["ETag"]
    part = client.get(path, headers={"Accept-Encoding": "gzip", "Range": "bytes=0-99"})
    assert part.status_code == 206 and "Content-Encoding" not in part.headers and part.data == plain.data[:100]


# ---------------------------------------------------------------------------- a sick Redis

class SickRedis:
    """A TCP server on 127.0.0.1 in place of Redis, in one of three moods that can change at any time.

    `stall` accepts and reads but never answers; `refuse` answers every command with a -READONLY error;
    `relay` passes everything to the real test Redis. `connections` counts the clients that came.
    """

    def __init__(self, mood: str):
        self.mood, self.connections = mood, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        # The same database number as the test Redis it relays to, so a test may look there for what was written.
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}{urlsplit(REDIS_URL).path or '/0'}"
        self.open: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.connections += 1
            self.open.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        while chunk := _receive(client):
            if self.mood == "refuse":
                client.sendall(b"-READONLY You can't write against a read only replica.\r\n")
            elif self.mood == "relay":
                if upstream is None:
                    upstream = socket.create_connection(_address(REDIS_URL))
                    self.open.append(upstream)
                    threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
                upstream.sendall(chunk)

    def close(self) -> None:
        for connection in self.open:
            connection.close()


def _receive(connection: socket.socket) -> bytes:
    try:
        return connection.recv(65536)
    except OSError:
        return b""


def _pump(source: socket.socket, target: socket.socket) -> None:
    while chunk := _receive(source):
        target.sendall(chunk)


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port or 6379


@pytest.fixture
def sick_redis():
    made = []

    def make(mood: str) -> SickRedis:
        made.append(SickRedis(mood))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def warnings_logged():
    """Records of WARNING and above from the `roadworks` loggers during the test."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = logging.getLogger("roadworks")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _redis_lines(records) -> list[logging.LogRecord]:
    return [r for r in records if r.name == "roadworks.api.limits"]


def test_a_stalled_redis_is_asked_once_then_left_alone_until_the_retry(make_app, sick_redis, warnings_logged):
    stalled = sick_redis("stall")
    app = make_app(REDIS_URL=stalled.url, RATE_LIMIT="1000 per minute", REDIS_TIMEOUT_MS=100, REDIS_RETRY_S=30)
    client = app.test_client()
    started = time.monotonic()
    answers = [client.get(PROJECTS) for _ in range(50)]
    took = time.monotonic() - started
    assert [a.status_code for a in answers] == [200] * 50
    assert [budget(a) for a in answers] == list(range(999, 949, -1))  # counted in this process meanwhile
    # Without the breaker each request would wait twice for the timeout (10 s for these 50).
    assert stalled.connections == 1 and took < 5
    [line] = _redis_lines(warnings_logged)
    assert line.levelno == logging.WARNING and "TimeoutError" in line.getMessage() and line.exc_info is None
    # Once the retry is due, one request tries Redis again; still stalled: no new warning, one more wait.
    limiter = app.extensions["roadworks_limiter"]
    limiter.breaker_state.opened_at -= timedelta(seconds=31)
    assert [client.get(PROJECTS).status_code for _ in range(10)] == [200] * 10
    assert stalled.connections <= 2 and len(_redis_lines(warnings_logged)) == 1


def test_a_redis_refusing_writes_logs_one_warning_per_outage(make_app, sick_redis, warnings_logged):
    refusing = sick_redis("refuse")
    client = make_app(REDIS_URL=refusing.url, RATE_LIMIT="1000 per minute").test_client()
    assert all(client.get(PROJECTS).status_code == 200 for _ in range(50))
    lines = [r for r in warnings_logged if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "ReadOnlyError" in lines[0].getMessage()
    assert lines[0].exc_info is None  # one line, no traceback


def test_after_the_retry_period_a_recovered_redis_is_used_again(make_app, sick_redis, redis_prefix,
                                                                  warnings_logged):
    prefix, connection = redis_prefix
    sick = sick_redis("refuse")
    settings = {"REDIS_URL": sick.url, "RATE_LIMIT_PREFIX": prefix, "RATE_LIMIT": "100 per minute"}
    app = make_app(**settings)
    client = app.test_client()
    assert [budget(client.get(PROJECTS)) for _ in range(3)] == [99, 98, 97]  # in this process
    sick.mood = "relay"
    assert budget(client.get(PROJECTS)) == 96  # the breaker is open: Redis is not asked before the retry
    assert not list(connection.scan_iter(match=f"{prefix}:*"))
    app.extensions["roadworks_limiter"].breaker_state.opened_at -= timedelta(seconds=31)
    assert budget(client.get(PROJECTS)) == 99  # Redis' count: shared again, from where Redis stood
    assert list(connection.scan_iter(match=f"{prefix}:*"))
    other = make_app(**settings).test_client()
    assert budget(other.get(PROJECTS)) == 98  # a second worker shares the budget
    lines = _redis_lines(warnings_logged)
    assert [r.levelno for r in lines] == [logging.WARNING, logging.INFO]
    assert "answers again" in lines[1].getMessage()
