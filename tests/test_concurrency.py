"""Two editors update one closure at once, round after round, from several processes through a real gunicorn.

Each process reads the closure, then writes it back with If-Match. Every write accepted (2xx) must be a
version of its own in the history, none lost or overwritten; every write based on a version someone else
had already replaced must get 412; nothing else may be answered (no 5xx, no 409).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
from collections import Counter

import pytest

from roadworks.api.bodies import load_closure, load_project
from roadworks.auth import Actor, create_token
from tests.live import Gunicorn, call

pytestmark = [pytest.mark.system,
              pytest.mark.skipif(importlib.util.find_spec("gunicorn") is None, reason="gunicorn is not installed")]

AGENCY = "西宁市城乡建设局"
CLOSURE = "dongguan-ledu"
PROCESSES_PER_EDITOR = 2
ROUNDS = 30


def feature(detour: str) -> dict:
    return {"type": "Feature", "id": CLOSURE,
            "geometry": {"type": "LineString", "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]},
            "properties": {"project": "dongguan-gas-2024", "road": "东关大街", "from": "乐都路", "to": "共和路",
                           "detour": detour, "schedule": {"windows": [{"start": "2024-04-12", "end": "2024-06-04"}]}}}


def edit(port: int, token: str, name: str, barrier, rounds: int, results) -> None:
    """One editor's process: each round, read the closure and write it back (PATCH, or PUT every third)."""
    write = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/closures/{CLOSURE}"
    outcomes = []
    for n in range(rounds):
        barrier.wait(timeout=30)  # every process starts the round together, so their writes collide
        status, headers, current = call(port, "GET", path)
        if status != 200:
            outcomes.append((status, "GET", None, False))
            continue
        base = current["properties"]["version"]
        detour = f"{name} round {n}"
        sent = {**write, "If-Match": headers["ETag"]}
        if n % 3 == 2:
            status, headers, body = call(port, "PUT", path, body=feature(detour), headers=sent)
        else:
            status, headers, body = call(port, "PATCH", path, body={"properties": {"detour": detour}},
                                         headers={**sent, "Content-Type": "application/merge-patch+json"})
        # An accepted write must follow the very version it was based on, or it overwrote a newer one.
        version = body["properties"]["version"] if status == 200 else None
        outcomes.append((status, detour, version, status == 200 and body["properties"]["detour"] == detour
                         and version == base + 1))
    results.put(outcomes)


@pytest.fixture
def server(app, database_url, tmp_path):
    """gunicorn, 3 workers, on the test database (emptied by `app`), with two editors' tokens and one closure."""
    services = app.extensions["roadworks"]
    tokens = [create_token(services.store, role="editor", name=name, agency=AGENCY, now=services.clock())[0]
              for name in ("Bureau desk A", "Bureau desk B")]
    admin = Actor(name="test admin", role="admin")
    project = {"id": "dongguan-gas-2024", "name": "东关大街", "agency": AGENCY}
    services.registry.create_project(load_project(project), admin)
    services.registry.create_closure(load_closure(feature("initial")), admin)
    services.store.engine.dispose()
    live = Gunicorn(database_url, tmp_path / "gunicorn.log").start()
    yield live, tokens
    live.stop()


def test_concurrent_editors_lose_no_write(server):
    live, tokens = server
    context = multiprocessing.get_context("fork")  # the children only speak HTTP
    editors = [(token, f"editor {chr(65 + i)}.{p}") for i, token in enumerate(tokens)
               for p in range(PROCESSES_PER_EDITOR)]
    barrier, results = context.Barrier(len(editors)), context.Queue()
    processes = [context.Process(target=edit, args=(live.port, token, name, barrier, ROUNDS, results))
                 for token, name in editors]
    for process in processes:
        process.start()
    outcomes = [o for _ in processes for o in results.get(timeout=120)]
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0

    statuses = Counter(status for status, *_ in outcomes)
    assert set(statuses) <= {200, 412}, statuses
    accepted = sorted((version, detour) for status, detour, version, _ in outcomes if status == 200)
    assert all(followed for status, _, _, followed in outcomes if status == 200), "a stale write was accepted"
    assert statuses[412] > 0, "no write ever collided: the test proves nothing"
    # Every accepted write got a version of its own, one after another from the initial version 1.
    assert [v for v, _ in accepted] == list(range(2, len(accepted) + 2))

    status, _, body = live.call("GET", f"/api/v1/closures/{CLOSURE}/history")
    assert status == 200
    history = body["history"]
    assert [h["version"] for h in history] == list(range(1, len(accepted) + 2))
    recorded = {h["version"]: h["changes"].get("properties.detour", {}).get("to") for h in history[1:]}
    assert recorded == dict(accepted), "an accepted write is missing from the history, or was overwritten"
    status, _, current = live.call("GET", f"/api/v1/closures/{CLOSURE}")
    assert current["properties"]["version"] == accepted[-1][0]
    assert current["properties"]["detour"] == accepted[-1][1]
