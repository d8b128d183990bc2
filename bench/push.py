"""Partner push figures: lag from commit to delivery, and what push costs a write.

Run from the repository root:  python bench/push.py [--subscriptions 100] [--seconds 60] [--database-url URL]

An app (embedded SQLite in a temporary folder unless --database-url) with its delivery worker in process, as
`roadworks serve` runs it; 100 subscriptions, each to its own loopback receiver in a separate process. Writes
(closure creations through the WSGI app), two a second, alternate between push on (the outbox row, the worker's
wake and 100 deliveries: one a second) and push off (no outbox row, half a second later), so both are measured in
the same run under the same load. It prints
p50/p99 of the lag (from the start of each push-on write to each receiver's arrival) and the write latencies.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roadworks import create_app  # noqa: E402
from roadworks.auth import create_token  # noqa: E402
from roadworks.push.worker import for_services  # noqa: E402


def receivers(count: int, ports, arrivals, stop) -> None:
    """`count` loopback HTTP servers; each arrival is (closure id, wall time)."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((body["data"]["id"], time.time()))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    servers = []
    for _ in range(count):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        ports.put(server.server_address[1])
    stop.wait()
    arrivals.put(seen)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    logging.disable(logging.INFO)

    ports, arrivals, stop = multiprocessing.Queue(), multiprocessing.Queue(), multiprocessing.Event()
    child = multiprocessing.Process(target=receivers, args=(args.subscriptions, ports, arrivals, stop), daemon=True)
    child.start()
    urls = [f"http://127.0.0.1:{ports.get(timeout=30)}/hook" for _ in range(args.subscriptions)]

    folder = tempfile.mkdtemp(prefix="roadworks-push-bench-")
    url = args.database_url or f"sqlite:///{folder}/roadworks.sqlite3"
    app = create_app({"DATABASE_URL": url, "WEBHOOK_ALLOW_PRIVATE": 1, "LOG_LEVEL": "WARNING"})
    services = app.extensions["roadworks"]
    client = app.test_client()
    editor, _ = create_token(services.store, role="admin", name="bench", agency=None, now=services.clock())
    partner, _ = create_token(services.store, role="partner", name="bench partner", agency=None, now=services.clock())
    bureau = {"Authorization": f"Bearer {editor}"}
    project = {"id": "bench", "name": "bench", "agency": "bench", "timezone": "Asia/Shanghai"}
    assert client.post("/api/v1/projects", json=project, headers=bureau).status_code == 201
    for hook in urls:
        made = client.post("/api/v1/subscriptions", json={"url": hook, "events": ["closure.created"]},
                           headers={"Authorization": f"Bearer {partner}"})
        assert made.status_code == 201, made.get_data(as_text=True)
    worker = for_services(services).start()

    def write(n: int, push: bool) -> tuple[str, float, float]:
        services.store.announcing = push
        body = {"type": "Feature", "geometry": {"type": "LineString",
                                                "coordinates": [[101.79, 36.61 + n * 1e-4], [101.80, 36.61]]},
                "properties": {"project": "bench", "road": f"road {n}", "from": "a", "to": "b",
                               "schedule": {"windows": [{"start": "2030-01-01", "end": "2030-02-01"}]}}}
        started_wall, started = time.time(), time.perf_counter()
        response = client.post("/api/v1/closures", json=body, headers=bureau)
        took = time.perf_counter() - started
        response.close()  # as a server does once the answer is sent: the worker is woken then
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json["id"], started_wall, took

    for n in range(6):  # warm-up: first requests compile statements and fill caches
        write(-1 - n, n % 2 == 0)
    time.sleep(1)
    on, off, written = [], [], {}
    deadline = time.monotonic() + args.seconds
    n = 0
    while time.monotonic() < deadline:
        push = n % 2 == 0  # on at each whole second, off half a second later: both under the same load
        id, at, took = write(n, push)
        (on if push else off).append(took)
        if push:
            written[id] = at
        n += 1
        time.sleep(max(0.0, 0.5 - took))
    time.sleep(3)
    stop.set()
    seen = arrivals.get(timeout=30)
    worker.stop()
    lags = [when - written[id] for id, when in seen if id in written]
    expected = len(written) * args.subscriptions
    print(f"push bench: {args.subscriptions} subscriptions, {len(written)} push-on writes "
          f"interleaved with {len(off)} push-off writes, {'PostgreSQL' if args.database_url else 'SQLite'}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"deliveries: {len(lags)} of {expected} expected")
    print(f"lag commit->delivery: p50 {percentile(lags, 0.5) * 1000:.1f} ms, p99 {percentile(lags, 0.99) * 1000:.1f} ms, "
          f"max {max(lags) * 1000:.1f} ms")
    p_on, p_off = statistics.median(on) * 1000, statistics.median(off) * 1000
    print(f"write latency: push on p50 {p_on:.2f} ms (p90 {percentile(on, 0.9) * 1000:.2f}), "
          f"push off p50 {p_off:.2f} ms (p90 {percentile(off, 0.9) * 1000:.2f}); on/off {p_on / p_off:.3f}")


if __name__ == "__main__":
    main()
