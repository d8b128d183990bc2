"""Probes and metrics (api/ops.py): liveness without the database, readiness with it, Prometheus counts."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from collections import Counter as Tally

import pytest
import sqlalchemy as sa
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from roadworks.api import ops
from roadworks.index import Entry

CLOSURES = "/api/v1/closures"
GONGHE = "dongguan-ledu-gonghe"


def scrape(client) -> dict:
    """{(sample name, frozenset(labels)): value} of one /metrics answer."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def requests_of(samples: dict, route: str, status: str, method: str = "GET") -> float:
    key = ("roadworks_http_requests_total", frozenset({"method": method, "route": route, "status": status}.items()))
    return samples.get(key, 0)


def cache_hits(samples: dict, source: str, status: str) -> float:
    return samples.get(("roadworks_http_cache_hits_total",
                        frozenset({"source": source, "status": status}.items())), 0)


@pytest.fixture
def broken_database(services, monkeypatch):
    """The app's engine now points at a database file that cannot be opened."""
    monkeypatch.setattr(services.store, "engine", sa.create_engine("sqlite:////nonexistent/dir/roadworks.sqlite3"))


# ---------------------------------------------------------------------------- probes

def test_healthz_answers_ok_and_is_never_cached(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_answers_ready_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "database": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_without_a_database_healthz_still_lives_but_readyz_is_503_with_retry_after(client, broken_database):
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.headers["Retry-After"] == "5"
    assert response.json["status"] == 503 and "unreachable" in response.json["detail"]


def test_a_hanging_database_makes_readyz_fail_within_its_timeout(client, monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(ops, "READY_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(ops, "_select_one", lambda engine: release.wait(10))
    try:
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "did not answer within 0.2 s" in response.json["detail"]
    assert elapsed < 2


# ---------------------------------------------------------------------------- metrics

def test_requests_are_counted_by_method_route_template_and_status(client, demo):
    client.get(f"{CLOSURES}/{GONGHE}")
    client.get(f"{CLOSURES}/{GONGHE}")
    client.get(f"{CLOSURES}/no-such-closure")
    client.post(CLOSURES, json={})
    client.get("/no/such/path")
    samples = scrape(client)
    assert requests_of(samples, "/api/v1/closures/<id>", "200") == 2
    assert requests_of(samples, "/api/v1/closures/<id>", "404") == 1
    assert requests_of(samples, "/api/v1/closures", "401", method="POST") == 1
    assert requests_of(samples, "<unmatched>", "404") == 1
    latency = ("roadworks_http_request_duration_seconds_count",
               frozenset({"method": "GET", "route": "/api/v1/closures/<id>"}.items()))
    assert samples[latency] == 3


def test_304s_and_replays_of_every_public_read_count_as_cache_hits(client, demo, auth, editor_token):
    first = client.get(CLOSURES)  # through the app, its answer kept
    client.get(CLOSURES)  # replayed
    client.get(CLOSURES, headers={"If-None-Match": first.headers["ETag"]})  # replayed as 304
    single = client.get(f"{CLOSURES}/{GONGHE}")  # through the app
    # Every public GET is replayed now, one closure as well as the list and the feeds.
    assert client.get(f"{CLOSURES}/{GONGHE}", headers={"If-None-Match": single.headers["ETag"]}).status_code == 304
    client.get("/feeds/wzdx.geojson"), client.get("/feeds/wzdx.geojson")
    # A token holder's request is never replayed: its 304 comes from the app.
    editor = auth(editor_token, If_None_Match=single.headers["ETag"])
    assert client.get(f"{CLOSURES}/{GONGHE}", headers=editor).status_code == 304
    samples = scrape(client)
    assert cache_hits(samples, "replay", "200") == 2
    assert cache_hits(samples, "replay", "304") == 2
    assert cache_hits(samples, "app", "304") == 1
    assert cache_hits(samples, "app", "200") == 0  # a 200 from the app is no hit, kept answer or not
    # Replays bypass Flask, yet are counted under their route template like any other request.
    assert requests_of(samples, "/api/v1/closures", "200") == 2
    assert requests_of(samples, "/api/v1/closures", "304") == 1
    assert requests_of(samples, "/api/v1/closures/<id>", "200") == 1
    assert requests_of(samples, "/api/v1/closures/<id>", "304") == 2
    assert requests_of(samples, "/feeds/wzdx.geojson", "200") == 2


def statuses_listed(client) -> Tally:
    listed = client.get(f"{CLOSURES}?status=all&limit=1000").json["features"]
    return Tally(feature["properties"]["status"] for feature in listed)


def statuses_scraped(client) -> Tally:
    samples = scrape(client)
    return Tally({status: int(samples[("roadworks_closures", frozenset({"status": status}.items()))])
                  for status in ("active", "paused", "upcoming", "completed", "cancelled")})


def test_closures_by_status_now_match_what_the_api_says(client, demo):
    expected = statuses_listed(client)
    assert len(+expected) > 1  # the demo spans several statuses at this instant
    assert +statuses_scraped(client) == expected


def test_closures_by_status_follow_the_clock_at_each_scrape(client, demo, clock):
    before = statuses_scraped(client)
    clock.advance(days=40)  # into the tourist-season pause
    after = statuses_scraped(client)
    assert after != before
    assert +after == statuses_listed(client)


def test_closure_counts_are_kept_between_scrapes_until_the_next_status_change(client, demo, clock, services,
                                                                              monkeypatch):
    statuses_scraped(client)
    snapshot = services.index.snapshot()
    next_change = min(moment for moment in (e.status(clock.now)[1] for e in snapshot.entries()) if moment)
    asked = []
    real = Entry.status
    monkeypatch.setattr(Entry, "status", lambda entry, at: asked.append(entry.id) or real(entry, at))
    clock.now = next_change - timedelta(seconds=1)
    kept = statuses_scraped(client)
    assert asked == []  # no whole-city pass while nothing has changed
    clock.now = next_change
    moved = statuses_scraped(client)
    assert asked and moved != kept and +moved == statuses_listed(client)


def test_each_app_counts_in_its_own_registry(client, make_app):
    other = make_app().test_client()
    for _ in range(3):
        client.get("/healthz")
    other.get("/healthz")
    assert requests_of(scrape(client), "/healthz", "200") == 3
    assert requests_of(scrape(other), "/healthz", "200") == 1


def test_metrics_speak_openmetrics_to_a_scraper_that_asks(client):
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.content_type.startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")


def test_metrics_still_answer_while_the_database_is_down(client, broken_database, services, monkeypatch):
    def down():
        raise sa.exc.OperationalError("SELECT", {}, Exception("down"))

    monkeypatch.setattr(services.index, "snapshot", down)
    client.get("/healthz")
    samples = scrape(client)
    assert requests_of(samples, "/healthz", "200") == 1
    assert not any(name == "roadworks_closures" for name, _ in samples)


def test_with_prometheus_multiproc_dir_a_scrape_adds_up_every_worker(make_app, tmp_path, monkeypatch):
    """Two apps standing for two gunicorn workers (distinct process ids) write to one directory."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    worker_a, worker_b = make_app().test_client(), make_app().test_client()
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda: 1001))
    for _ in range(3):
        worker_a.get("/healthz")
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda: 1002))
    for _ in range(2):
        worker_b.get("/healthz")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("counter")) == \
        ["counter_1001.db", "counter_1002.db"]
    assert requests_of(scrape(worker_b), "/healthz", "200") == 5
